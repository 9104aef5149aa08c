"""IB's official client (ibapi) against the simulated gateway: handshake, contracts, market data, history."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from slob_cli.sim.contracts import CENTRAL
from slob_cli.sim.gateway import SimGatewayThread
from tests.conformance.ibapi_client import IbapiApp, ibapi_client, nq_future
from tests.sim.helpers import BUSY_START


@pytest.mark.parametrize("version", [157, 163, 170, 177, 178])
def test_ibapi_negotiates_the_gateways_server_version_and_reads_contracts_and_orders(version: int) -> None:
    with SimGatewayThread(start=BUSY_START, speed="max", server_version=version) as gateway, \
            ibapi_client(gateway.host, gateway.port) as app:
        assert app.serverVersion() == version
        app.reqContractDetails(1, nq_future())
        app.wait_for("contractDetailsEnd")
        details = app.of("contractDetails")[0][1]
        assert details.contract.conId > 0 and details.minTick == 0.25 and details.contract.multiplier == "20"
        from ibapi.order import Order

        order = Order()
        order.action, order.totalQuantity, order.orderType, order.lmtPrice = "BUY", 1, "LMT", 1000.0
        order_id = app.next_id()
        app.placeOrder(order_id, details.contract, order)
        [(_, contract, placed, state)] = app.wait_for("openOrder", where=lambda args: args[0] == order_id)
        assert (placed.lmtPrice, placed.orderType, state.status) == (1000.0, "LMT", "Submitted")
        assert contract.conId == details.contract.conId
        assert app.errors() and all(code in (2104, 2106, 2158) for _, code, _ in app.errors())


def _sessions(hours: str) -> tuple[set[str], list[tuple[datetime, datetime]]]:
    """Return the CLOSED dates and the (open, close) spans of a tradingHours string."""
    closed: set[str] = set()
    spans: list[tuple[datetime, datetime]] = []
    for entry in hours.split(";"):
        if entry.endswith(":CLOSED"):
            closed.add(entry.split(":")[0])
        else:
            opened, ended = (datetime.strptime(part, "%Y%m%d:%H%M") for part in entry.split("-"))
            spans.append((opened, ended))
    return closed, spans


def test_contract_details_list_each_date_once_and_sessions_in_order(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=11) as app:
        app.reqContractDetails(2, nq_future())
        app.wait_for("contractDetailsEnd")
        details = app.of("contractDetails")[0][1]
    closed, spans = _sessions(details.tradingHours)
    with_hours = {f"{moment:%Y%m%d}" for span in spans for moment in span}
    assert closed and not closed & with_hours, f"dates listed CLOSED and with hours: {closed & with_hours}"
    assert all(opened < ended for opened, ended in spans)
    assert all(before[1] <= after[0] for before, after in itertools.pairwise(spans))  # in order, no overlap
    assert details.timeZoneId == "US/Central"


def test_live_quotes_come_with_tick_req_params_naming_the_bbo_exchange(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=12) as app:
        app.reqMktData(3, nq_future("NQH6"), "", False, False, [])
        [(_, min_tick, bbo_exchange, _)] = app.wait_for("tickReqParams")
        app.wait_for("marketDataType")
        app.wait_for("tickPrice", where=lambda args: args[1] == 1)  # bid
        app.wait_for("tickPrice", where=lambda args: args[1] == 4, count=3)  # live trades go on
        app.cancelMktData(3)
    assert min_tick == 0.25 and bbo_exchange == "CME"
    assert app.of("marketDataType")[0][1] == 1


def test_delayed_quotes_carry_delayed_tick_types() -> None:
    with SimGatewayThread(start=BUSY_START, speed="max", delayed=True) as gateway, \
            ibapi_client(gateway.host, gateway.port) as app:
        app.reqMktData(4, nq_future("NQH6"), "", False, False, [])
        assert app.wait_for("error", where=lambda args: args[0] == 4)[0][2] == 354
        app.reqMarketDataType(3)
        app.reqMktData(5, nq_future("NQH6"), "", False, False, [])
        app.wait_for("tickPrice", where=lambda args: args[0] == 5 and args[1] == 68)  # delayed last
        assert app.wait_for("marketDataType", where=lambda args: args[0] == 5)[0][1] == 3


def test_tick_by_tick_all_last_carries_exchange_times_prices_and_sizes(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=13) as app:
        app.reqTickByTickData(6, nq_future("NQH6"), "AllLast", 0, False)
        ticks = app.wait_for("tickByTickAllLast", count=20)
        app.cancelTickByTickData(6)
    times = [args[2] for args in ticks]
    assert times == sorted(times) and all(datetime.fromtimestamp(t, CENTRAL).year == 2026 for t in times)
    assert all(args[3] > 0 and args[4] > 0 and args[6] == "CME" for args in ticks)


def test_two_day_history_starts_at_the_open_of_the_second_session_back(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=14) as app:
        app.reqHistoricalData(7, nq_future("NQH6"), "", "2 D", "1 hour", "TRADES", 0, 2, False, [])
        [(_, start, end)] = app.wait_for("historicalDataEnd")
        bars = app.of("historicalData")
    opened = datetime.fromtimestamp(int(start), CENTRAL)
    # BUSY_START is Tuesday 08:25 Chicago: sessions opened Monday 17:00 (Tuesday's) and Sunday 17:00 (Monday's).
    assert opened == datetime(2026, 3, 8, 17, 0, tzinfo=CENTRAL)
    assert int(end) - int(start) > 24 * 3600
    assert bars and int(bars[0][1].date) >= int(start)


def test_keep_up_to_date_history_streams_the_forming_bar(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=15) as app:
        app.reqHistoricalData(8, nq_future("NQH6"), "", "1800 S", "1 min", "TRADES", 0, 2, True, [])
        app.wait_for("historicalDataEnd")
        updates = app.wait_for("historicalDataUpdate", count=5)
        app.cancelHistoricalData(8)
    bar = updates[-1][1]
    assert bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close) and bar.volume > 0


def test_current_time_follows_the_virtual_clock(shared_gateway: SimGatewayThread) -> None:
    with ibapi_client(shared_gateway.host, shared_gateway.port, client_id=16) as app:
        app.reqCurrentTime()
        [(epoch,)] = app.wait_for("currentTime")
    assert abs(datetime.fromtimestamp(epoch, CENTRAL) - BUSY_START) < timedelta(days=1)


def test_an_app_reading_with_ibapi_sees_no_reader_crash(shared_gateway: SimGatewayThread) -> None:
    app = IbapiApp()
    app.start(shared_gateway.host, shared_gateway.port, 17)
    app.reqPositions()
    app.wait_for("positionEnd")
    app.stop()
    assert app.crash is None


def test_the_official_decoder_catches_a_planted_extra_field(shared_gateway: SimGatewayThread,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.sim import encoders

    original = encoders.contract_details
    monkeypatch.setattr(encoders, "contract_details", lambda *args: [*original(*args), "extra"])
    app = IbapiApp()
    app.start(shared_gateway.host, shared_gateway.port, 18)
    app.reqContractDetails(9, nq_future("NQH6"))
    app.wait_for("contractDetailsEnd")
    app.stop()
    assert app.unconsumed and app.unconsumed[0].startswith("message 10: 1 unread field")
