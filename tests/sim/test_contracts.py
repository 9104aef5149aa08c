"""NQ/MNQ contracts: expiries, roll calendar, conIds, trading hours, resolution of requests."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.sim.contracts import (
    FutureContract,
    UnknownContract,
    contract_by_con_id,
    front_month,
    listed_contracts,
    resolve,
    third_friday,
    trading_hours,
)
from slob_cli.sim.wire_types import ContractSpec

UTC = timezone.utc


def test_expiries_are_the_third_friday_of_each_quarter_month() -> None:
    assert third_friday(2026, 3) == date(2026, 3, 20)
    assert third_friday(2026, 6) == date(2026, 6, 19)
    assert third_friday(2026, 9) == date(2026, 9, 18)
    assert third_friday(2026, 12) == date(2026, 12, 18)
    assert third_friday(2027, 1) == date(2027, 1, 15)
    for month in (3, 6, 9, 12):
        day = third_friday(2030, month)
        assert day.weekday() == 4 and 15 <= day.day <= 21


def test_front_month_rolls_eight_days_before_expiry_across_a_year() -> None:
    fronts = {}
    day = datetime(2026, 1, 1, 15, tzinfo=UTC)
    while day.year == 2026:
        fronts[day.date()] = front_month("NQ", day).local_symbol
        day += timedelta(days=1)
    assert fronts[date(2026, 3, 11)] == "NQH6" and fronts[date(2026, 3, 12)] == "NQM6"
    assert fronts[date(2026, 6, 10)] == "NQM6" and fronts[date(2026, 6, 11)] == "NQU6"
    assert fronts[date(2026, 9, 9)] == "NQU6" and fronts[date(2026, 9, 10)] == "NQZ6"
    assert fronts[date(2026, 12, 9)] == "NQZ6" and fronts[date(2026, 12, 10)] == "NQH7"
    assert sorted(set(fronts.values())) == ["NQH6", "NQH7", "NQM6", "NQU6", "NQZ6"]


def test_five_quarters_are_listed_and_an_expired_one_drops_off_after_its_last_trade() -> None:
    before = datetime(2026, 3, 20, 13, 29, tzinfo=UTC)  # 08:29 Chicago (CDT) on expiry day
    after = datetime(2026, 3, 20, 13, 31, tzinfo=UTC)
    assert [c.local_symbol for c in listed_contracts("MNQ", before)] == ["MNQH6", "MNQM6", "MNQU6", "MNQZ6",
                                                                         "MNQH7"]
    assert next(c.local_symbol for c in listed_contracts("MNQ", after)) == "MNQM6"
    assert "MNQH6" in [c.local_symbol for c in listed_contracts("MNQ", after, include_expired=True)]


def test_con_ids_are_stable_distinct_and_reversible() -> None:
    nq = FutureContract("NQ", date(2026, 6, 19))
    mnq = FutureContract("MNQ", date(2026, 6, 19))
    assert nq.con_id != mnq.con_id
    assert FutureContract("NQ", date(2026, 6, 19)).con_id == nq.con_id
    assert contract_by_con_id(nq.con_id) == nq and contract_by_con_id(mnq.con_id) == mnq
    assert contract_by_con_id(12345) is None
    assert (nq.multiplier, mnq.multiplier) == (20.0, 2.0)


def test_requests_resolve_to_one_expiry_all_expiries_or_an_error() -> None:
    now = datetime(2026, 11, 24, 15, tzinfo=UTC)
    assert [c.local_symbol for c in resolve(ContractSpec(symbol="NQ", sec_type="CONTFUT", exchange="CME"), now)] \
        == ["NQZ6"]
    assert len(resolve(ContractSpec(symbol="NQ", sec_type="FUT", exchange="CME"), now)) == 5
    assert resolve(ContractSpec(symbol="NQ", sec_type="FUT", last_trade_date="202703"), now)[0].local_symbol == "NQH7"
    assert resolve(ContractSpec(sec_type="FUT", local_symbol="MNQM7"), now)[0].symbol == "MNQ"
    for spec in (ContractSpec(symbol="ES", sec_type="FUT"), ContractSpec(symbol="NQ", sec_type="STK"),
                 ContractSpec(symbol="NQ", sec_type="FUT", last_trade_date="20260101"),
                 ContractSpec(symbol="NQ", sec_type="FUT", exchange="EUREX")):
        with pytest.raises(UnknownContract):
            resolve(spec, now)


def test_trading_hours_list_globex_sessions_with_holidays_and_early_closes() -> None:
    trading, liquid = trading_hours(datetime(2026, 12, 23, 18, tzinfo=UTC))
    sessions = trading.split(";")
    assert sessions[0] == "20261222:1700-20261223:1600"
    assert "20261223:1700-20261224:1200" in sessions  # Christmas Eve closes early
    assert "20261225:CLOSED" in sessions and "20261226:CLOSED" in sessions
    assert "20261227:1700-20261228:1600" in sessions  # reopens Sunday evening
    assert liquid.split(";")[0] == "20261223:0830-20261223:1500"
    assert "20261224:0830-20261224:1200" in liquid.split(";")
