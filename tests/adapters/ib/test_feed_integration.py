"""The adapter with the real ib_async client against the simulated gateway: ticks, notices, refusals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.market_data import MarketDataFeed
from slob_cli.core.models import Tick
from tests.conftest import eventually_async

Scenario = Callable[[IBConnection, MarketDataFeed, list[tuple[Tick, str]], list[tuple[str, dict]]], Awaitable[Any]]


def run_feed(gateway: Any, scenario: Scenario, client_id: int = 21, **feed_options: Any) -> Any:
    """Connect, subscribe NQ, run the scenario while connected, then stop; return its result."""
    events: list[tuple[str, dict]] = []
    ticks: list[tuple[Tick, str]] = []

    async def main() -> Any:
        emit = lambda kind, payload: events.append((kind, payload))  # noqa: E731
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=client_id, sync_orders=False,
                                                connect_timeout=5), emit)
        feed = MarketDataFeed(connection, ["NQ"], lambda tick, local: ticks.append((tick, local)), emit=emit,
                              **feed_options)
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.ensure_future(connection.run(stop, ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            return await scenario(connection, feed, ticks, events)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)

    return asyncio.run(main())


def test_ticks_arrive_with_true_sizes_exchange_times_in_utc_and_the_local_symbol(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        await eventually_async(lambda: len(ticks) >= 15, timeout=15)
        return feed

    feed = run_feed(gateway, scenario)
    assert feed.source["NQ"] == "tick-by-tick" and feed.mode == "live"
    local = feed.contracts["NQ"].future.local_symbol
    assert local == "NQH6"  # 10 March 2026 trades March: the roll is on the 12th


def test_each_tick_is_a_real_trade_of_the_market_with_its_own_size(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        await eventually_async(lambda: len(ticks) >= 15, timeout=15)
        return list(ticks)

    received = run_feed(gateway, scenario)
    market = gateway.gateway.market
    first, last = received[0][0].ts, received[-1][0].ts
    trades = market.ticks_between(first, last + timedelta(seconds=1))
    by_second: dict[tuple[int, float], list[float]] = {}
    for trade in trades:
        by_second.setdefault((int(trade.ts.timestamp()), trade.price), []).append(float(trade.size))
    for tick, local in received:
        assert tick.ts.utcoffset() == timedelta(0) and tick.ts.microsecond == 0
        assert local == "NQH6"
        sizes = by_second.get((int(tick.ts.timestamp()), tick.price))
        assert sizes is not None and tick.size in sizes, f"{tick} is not a trade of the market"
    cumulative = sum(t.size for t, _ in received)
    assert max(t.size for t, _ in received) < cumulative  # per-trade sizes, not a running volume


def test_connectivity_codes_gate_orders_and_1101_resubscribes(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        assert connection.orders_allowed
        await asyncio.to_thread(gateway.send_error, 1100)
        await eventually_async(lambda: not connection.orders_allowed, timeout=5)
        assert connection.data_stale
        await asyncio.to_thread(gateway.send_error, 1101)  # the sim drops every subscription, like IB
        await eventually_async(lambda: connection.orders_allowed, timeout=5)
        count = len(ticks)
        await eventually_async(lambda: len(ticks) >= count + 5, timeout=15)  # resubscribed: ticks flow again
        await asyncio.to_thread(gateway.send_error, 1100)
        await eventually_async(lambda: not connection.orders_allowed, timeout=5)
        await asyncio.to_thread(gateway.send_error, 1102)
        await eventually_async(lambda: connection.orders_allowed, timeout=5)
        return [kind for kind, _ in events]

    kinds = run_feed(gateway, scenario)
    assert kinds.count("CONNECTIVITY_LOST") == 2 and kinds.count("CONNECTIVITY_RESTORED") == 2


def test_farm_broken_marks_data_stale_until_the_farm_is_ok(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        await asyncio.to_thread(gateway.send_error, 2103, -1, "Market data farm connection is broken:usfarm")
        await eventually_async(lambda: connection.data_stale, timeout=5)
        await asyncio.to_thread(gateway.send_error, 2104, -1, "Market data farm connection is OK:usfarm")
        await eventually_async(lambda: not connection.data_stale, timeout=5)
        return [kind for kind, _ in events]

    assert "DATA_STALE" in run_feed(gateway, scenario)


def test_read_only_321_is_one_plain_error_with_the_fix(gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    text = "Error validating request.-'bW' : cause - The API interface is currently in Read-Only mode."

    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        await asyncio.to_thread(gateway.send_error, 321, -1, text)
        await eventually_async(lambda: any(kind == "API_READ_ONLY" for kind, _ in events), timeout=5)

    with caplog.at_level(logging.ERROR, logger="slob_cli.adapters.ib.connection"):
        run_feed(gateway, scenario)
    plain = [r.getMessage() for r in caplog.records if r.name == "slob_cli.adapters.ib.connection"]
    assert len(plain) == 1
    assert "read-only" in plain[0] and 'untick "Read-Only API"' in plain[0]


def test_competing_session_10197_is_stated_plainly(gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        request_id = next(iter(feed._tbt_requests))
        await asyncio.to_thread(gateway.send_error, 10197, request_id, "No market data during competing live session")
        await eventually_async(lambda: "NQ" in feed.refusals, timeout=5)
        return events

    with caplog.at_level(logging.ERROR, logger="slob_cli.adapters.ib.market_data"):
        events = run_feed(gateway, scenario)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "IB error 10197" in messages and "logged in elsewhere" in messages and "NQ" in messages
    # The refusal switches the feed to delayed last prices at once. (The simulated gateway then answers
    # that request as live, so the mode may flip back a moment later: assert the switch, not the end state.)
    delayed = [payload for kind, payload in events if kind == "MARKET_DATA_DELAYED"]
    assert delayed and "10197" in delayed[0]["reason"]


def test_heartbeat_notices_a_silent_gateway_and_reconnects_when_it_answers_again(gateway: Any) -> None:
    events: list[tuple[str, dict]] = []

    async def main() -> IBConnection:
        config = GatewayConfig(port=gateway.port, client_id=23, sync_orders=False, connect_timeout=0.5,
                               heartbeat_interval=0.1, heartbeat_timeout=0.3)
        from slob_cli.adapters.ib.backoff import BackoffPolicy

        connection = IBConnection(config, lambda kind, payload: events.append((kind, payload)),
                                  policy=BackoffPolicy(base=0.05, cap=0.2))
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.ensure_future(connection.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(gateway.set_silent, True)
        await eventually_async(lambda: any(kind == "HEARTBEAT_MISSED" for kind, _ in events), timeout=5)
        await asyncio.to_thread(gateway.set_silent, False)
        await eventually_async(lambda: connection.reconnects >= 1 and connection.connected, timeout=10)
        stop.set()
        await asyncio.wait_for(runner, 10)
        return connection

    asyncio.run(main())
    kinds = [kind for kind, _ in events]
    assert kinds.index("HEARTBEAT_MISSED") < kinds.index("IB_RECONNECTED")
    assert "IB_DISCONNECTED" in kinds


def test_client_id_in_use_moves_to_the_next_id(gateway: Any) -> None:
    async def main() -> tuple[int, int]:
        first = IBConnection(GatewayConfig(port=gateway.port, client_id=31, sync_orders=False, connect_timeout=5))
        second = IBConnection(GatewayConfig(port=gateway.port, client_id=31, sync_orders=False, connect_timeout=5))
        await first.connect()
        try:
            await asyncio.wait_for(second.connect(), 4)  # well under the connect timeout: 326 is acted on
            return first.client_id, second.client_id
        finally:
            await first.close()
            await second.close()

    assert asyncio.run(main()) == (31, 32)


def test_reconnect_re_requests_executions_since_the_last_known_and_calls_reconcile(gateway: Any) -> None:
    from slob_cli.adapters.ib.backoff import BackoffPolicy
    from slob_cli.sim.orders import SimOrder

    batches: list[list[Any]] = []
    reconciles: list[int] = []

    async def main() -> IBConnection:
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=25, sync_orders=False, connect_timeout=2),
                                  policy=BackoffPolicy(base=0.05, cap=0.2))
        feed = MarketDataFeed(connection, ["NQ"], lambda tick, local: None)
        connection.add_execution_listener(batches.append)

        async def reconcile() -> None:
            reconciles.append(len(batches))

        connection.add_reconcile_hook(reconcile)
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.ensure_future(connection.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 10)
        future = feed.contracts["NQ"].future
        now = gateway.clock.now()
        order = SimOrder(order_id=9001, client_id=99, perm_id=gateway.broker.next_perm_id(), account="DU1234567",
                         con_id=future.con_id, symbol="NQ", local_symbol=future.local_symbol, multiplier=20.0,
                         action="BUY", quantity=1, order_type="MKT", limit_price=None, stop_price=None)
        gateway.broker.place_order(order, now, gateway.gateway.market.last_tick_before(now))
        for expected in (1, 2):
            await asyncio.to_thread(gateway.restart, 0.2)
            await eventually_async(lambda n=expected: connection.reconnects == n and len(reconciles) == n, 10)
        stop.set()
        await asyncio.wait_for(runner, 10)
        return connection

    connection = asyncio.run(main())
    assert [len(batch) for batch in batches] == [1, 0]  # the second catch-up starts after the known fill
    report = batches[0][0]
    assert (report.side, report.quantity, report.symbol, report.local_symbol) == ("BOT", 1.0, "NQ", "NQH6")
    assert report.ts.utcoffset() is not None and connection.last_execution_time == report.ts
    assert reconciles == [1, 2]  # after each reconnect, once the executions are in; not on the first connect


def test_an_account_the_login_does_not_manage_is_refused_at_once_not_after_the_sync_timeout(gateway: Any) -> None:
    from slob_cli.errors import BrokerError

    async def main() -> str:
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=26, account="DU0000000",
                                                connect_timeout=60))
        try:
            await asyncio.wait_for(connection.connect(), 5)  # ib_async alone would wait 60 s for account updates
        except BrokerError as exc:
            return str(exc)
        finally:
            await connection.close()
        return "connected"

    message = asyncio.run(main())
    assert "DU0000000 is not managed" in message and "DU1234567" in message


def test_oldest_server_version_157_still_gives_contract_ticks_and_bars() -> None:
    from slob_cli.adapters.ib.history import fetch_minute_bars
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", server_version=157) as old:
        async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
            await eventually_async(lambda: len(ticks) >= 5, timeout=15)
            end = connection.gateway_now().replace(second=0, microsecond=0)
            bars = await fetch_minute_bars(connection.ib, feed.contracts["NQ"].ib_contract, "NQ",
                                           end - timedelta(minutes=10), end)
            return connection.server_version, feed.contracts["NQ"].future.local_symbol, len(bars)

        assert run_feed(old, scenario, client_id=27) == (157, "NQH6", 10)


def test_continuous_future_fallback_resolves_the_front_month_through_contfut(gateway: Any) -> None:
    from slob_cli.adapters.ib.contracts import resolve_front_month
    from slob_cli.adapters.ib.rolls import trading_date

    async def scenario(connection, feed, ticks, events):  # noqa: ANN001, ANN202
        original = connection.ib.reqContractDetailsAsync

        async def no_listed_expiries(contract):  # noqa: ANN001, ANN202 - the gateway lists no FUT expiries
            return [] if contract.secType == "FUT" else await original(contract)

        connection.ib.reqContractDetailsAsync = no_listed_expiries
        return await resolve_front_month(connection.ib, "MNQ", trading_date(connection.gateway_now()))

    resolved = run_feed(gateway, scenario, client_id=28)
    assert resolved.future.symbol == "MNQ" and resolved.future.local_symbol.startswith("MNQ")
    assert resolved.ib_contract.secType == "FUT" and resolved.ib_contract.conId == resolved.future.con_id
