"""Roll dates and the front-month choice across a year (pure)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.adapters.ib.rolls import (
    FutureContract,
    choose_front_month,
    in_globex_hours,
    local_symbol_for,
    parse_expiry,
    roll_date,
    session_start,
    third_friday,
    trading_date,
)

UTC = timezone.utc


def _listed(year: int) -> list[FutureContract]:
    contracts = []
    for offset, month in enumerate([3, 6, 9, 12, 15, 18]):
        y, m = year + (month - 1) // 12, (month - 1) % 12 + 1
        expiry = third_friday(y, m)
        contracts.append(FutureContract("NQ", local_symbol_for("NQ", expiry), 1000 + offset, expiry))
    return contracts


def test_third_fridays_of_2026_are_the_cme_expiries() -> None:
    assert [third_friday(2026, m) for m in (3, 6, 9, 12)] == [
        date(2026, 3, 20), date(2026, 6, 19), date(2026, 9, 18), date(2026, 12, 18)]


def test_roll_date_is_the_thursday_eight_days_before_expiry() -> None:
    for month in range(1, 13):
        roll = roll_date(2027, month)
        assert roll.weekday() == 3
        assert third_friday(2027, month) - roll == timedelta(days=8)
    assert roll_date(2026, 3) == date(2026, 3, 12)


def test_front_month_switches_exactly_on_each_roll_date_across_2026() -> None:
    listed = _listed(2026)
    expected_switches = {date(2026, 3, 12): "NQM6", date(2026, 6, 11): "NQU6",
                         date(2026, 9, 10): "NQZ6", date(2026, 12, 10): "NQH7"}
    day = date(2026, 1, 1)
    previous = choose_front_month(listed, day).local_symbol
    assert previous == "NQH6"
    switches = {}
    while day <= date(2026, 12, 31):
        chosen = choose_front_month(listed, day).local_symbol
        if chosen != previous:
            switches[day] = chosen
            previous = chosen
        day += timedelta(days=1)
    assert switches == expected_switches


def test_front_month_never_picks_an_expiry_past_its_roll_date() -> None:
    listed = _listed(2026)
    for offset in range(365):
        day = date(2026, 1, 1) + timedelta(days=offset)
        chosen = choose_front_month(listed, day)
        assert day < chosen.roll_date
        assert all(c.roll_date <= day for c in listed if c.expiry < chosen.expiry)


def test_front_month_without_active_expiry_raises() -> None:
    with pytest.raises(ValueError, match="no listed expiry"):
        choose_front_month(_listed(2026)[:1], date(2026, 3, 12))


def test_evening_session_belongs_to_the_next_trading_date() -> None:
    # 17:30 Chicago on Wednesday 11 March 2026 (CDT, UTC-5) is Thursday's session: the roll date.
    evening = datetime(2026, 3, 11, 22, 30, tzinfo=UTC)
    assert trading_date(evening) == date(2026, 3, 12)
    assert trading_date(datetime(2026, 3, 11, 20, 59, tzinfo=UTC)) == date(2026, 3, 11)


def test_contract_stays_the_same_for_every_instant_of_a_trading_day() -> None:
    listed = _listed(2026)
    start = session_start(date(2026, 3, 12))
    choices = {choose_front_month(listed, trading_date(start + timedelta(minutes=m))).local_symbol
               for m in range(0, 23 * 60, 7)}
    assert choices == {"NQM6"}
    before = choose_front_month(listed, trading_date(start - timedelta(minutes=1))).local_symbol
    assert before == "NQH6"


def test_weekend_instants_belong_to_monday() -> None:
    friday_evening = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)  # 17:30 Chicago Friday
    sunday_evening = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)  # 18:30 CDT Sunday
    assert trading_date(friday_evening) == date(2026, 3, 9)
    assert trading_date(sunday_evening) == date(2026, 3, 9)


def test_globex_hours_exclude_daily_halt_and_weekend() -> None:
    assert in_globex_hours(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    assert not in_globex_hours(datetime(2026, 3, 10, 21, 30, tzinfo=UTC))  # 16:30 Chicago halt
    assert not in_globex_hours(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))  # Saturday
    assert in_globex_hours(datetime(2026, 3, 8, 23, 30, tzinfo=UTC))  # Sunday evening open


def test_parse_expiry_accepts_day_and_month_forms_and_rejects_junk() -> None:
    assert parse_expiry("20260320") == date(2026, 3, 20)
    assert parse_expiry("20260320 08:30 US/Central") == date(2026, 3, 20)
    assert parse_expiry("202606") == date(2026, 6, 19)
    with pytest.raises(ValueError, match="YYYYMMDD"):
        parse_expiry("soon")
