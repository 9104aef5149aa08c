"""The recorder end to end in-process: real ib_async, simulated gateway, real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.contracts import resolve_front_month
from slob_cli.adapters.ib.rolls import trading_date
from slob_cli.adapters.store import Store, from_us
from slob_cli.runtime.recorder import Recorder, RecorderOptions
from tests.conftest import eventually_async
from tests.sqlfile import sql_rows, sql_value

FAST = BackoffPolicy(base=0.05, cap=0.4, jitter=0.1)


def make_recorder(store: Store, port: int, client_id: int, **options: Any) -> Recorder:
    """Return a recorder with short intervals, its run row started."""
    run_id = store.start_run("record", {}, datetime.now(timezone.utc))
    clock = options.pop("clock", None)
    settings = {"symbols": ["NQ"], "flush_interval": 0.05, "warm_up": False, "policy": FAST, **options}
    config = GatewayConfig(port=port, client_id=client_id, sync_orders=False, connect_timeout=2)
    return Recorder(store, config, RecorderOptions(**settings), run_id=run_id, clock=clock)


def record_until(recorder: Recorder, condition: Callable[[], bool], timeout: float = 20) -> dict[str, Any]:
    """Run the recorder until condition() holds, stop it, and return its stats."""
    async def main() -> dict[str, Any]:
        running = asyncio.ensure_future(recorder.run())
        await eventually_async(condition, timeout=timeout)
        recorder.stop()
        return await asyncio.wait_for(running, 10)

    return asyncio.run(main())


def _the_outage(store: Store) -> tuple[datetime, dict[str, Any], dict[str, Any]]:
    """Return the one outage's drop stamp, its IB_RECONNECTED and its FEED_RESUMED payloads."""
    [down] = events_of(store, "IB_DISCONNECTED")
    [back] = events_of(store, "IB_RECONNECTED")
    [resumed] = events_of(store, "FEED_RESUMED")
    return datetime.fromisoformat(down["at"]), back, resumed


def events_of(store: Store, kind: str) -> list[dict[str, Any]]:
    """Return the payloads of stored events of one type."""
    rows = sql_rows(store.path, "SELECT payload FROM events WHERE type=? ORDER BY id", (kind,))
    return [json.loads(row[0]) for row in rows]


def test_restarted_gateway_reconnects_within_backoff_records_the_gap_and_stores_no_tick_twice(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 41)

    async def main() -> dict[str, Any]:
        running = asyncio.ensure_future(recorder.run())
        await eventually_async(lambda: recorder.stored >= 20, timeout=20)
        await asyncio.to_thread(gateway.restart, 0.6)
        await eventually_async(lambda: recorder.connection.reconnects == 1, timeout=10)
        stored_at_reconnect = recorder.feed.ticks
        await eventually_async(lambda: recorder.feed.ticks >= stored_at_reconnect + 20, timeout=20)
        recorder.stop()
        return await asyncio.wait_for(running, 10)

    stats = asyncio.run(main())
    assert stats["reconnects"] == 1 and stats["dropped"] == 0
    # Every wait before a retry came from the schedule 0.05, 0.1, 0.2, 0.4 (+/- 10 %).
    for attempt, delay in enumerate(recorder.connection.delays, start=1):
        low, high = FAST.bounds(attempt)
        assert low <= delay <= high
    gap = events_of(store, "FEED_RESUMED")
    assert len(gap) == 1 and gap[0]["seconds"] >= 0.5
    assert events_of(store, "IB_DISCONNECTED") and events_of(store, "IB_RECONNECTED")
    rows = sql_rows(store.path, "SELECT ts, price, size, local_symbol FROM ticks ORDER BY id")
    assert len(rows) == stats["ticks_stored"] == store.tick_count()
    assert {row[3] for row in rows} == {"NQH6"}
    # No tick twice: the stored trades are a sub-multiset of the market's own trades.
    first, last = from_us(rows[0][0]), from_us(rows[-1][0])
    market = Counter((int(t.ts.timestamp()), t.price, float(t.size))
                     for t in gateway.gateway.market.ticks_between(first, last + timedelta(seconds=1)))
    stored = Counter((row[0] // 1_000_000, row[1], row[2]) for row in rows)
    assert not stored - market
    gap_start = gap[0]["last_before"]
    assert any(from_us(r[0]).isoformat() > gap_start for r in rows)  # recording resumed after the gap


def test_live_data_refused_falls_back_to_delayed_and_marks_the_run(store, caplog) -> None:
    import logging

    from slob_cli.sim.gateway import SimGatewayThread

    caplog.set_level(logging.ERROR, logger="slob_cli.adapters.ib.market_data")
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", delayed=True) as gateway:
        recorder = make_recorder(store, gateway.port, 42)
        stats = record_until(recorder, lambda: recorder.stored >= 5)
    assert stats["data_mode"] == "delayed"
    assert sql_value(store.path, "SELECT data_mode FROM runs WHERE id=?", (recorder.run_id,)) == "delayed"
    reasons = [payload["reason"] for payload in events_of(store, "MARKET_DATA_DELAYED")]
    assert reasons and "IB error 354" in reasons[0] and "market data subscription" in reasons[0]
    assert recorder.feed.source["NQ"] == "mktdata"
    assert "DELAYED" in recorder.status().line()
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "IB error 354" in logged and "IB error 10167" in logged and "delayed" in logged


def test_silent_market_is_resubscribed_then_reconnected_by_the_watchdog(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 43, stale_after=0.4)
    recorder.feed.trading_hours = lambda instant: True

    async def main() -> None:
        running = asyncio.ensure_future(recorder.run())
        await eventually_async(lambda: recorder.stored >= 3, timeout=20)
        await asyncio.to_thread(gateway.pause_market)
        await eventually_async(lambda: recorder.connection.reconnects >= 1, timeout=10)
        await asyncio.to_thread(gateway.resume_market)
        count = recorder.feed.ticks
        await eventually_async(lambda: recorder.feed.ticks > count, timeout=10)
        recorder.stop()
        await asyncio.wait_for(running, 10)

    asyncio.run(main())
    actions = [payload["action"] for payload in events_of(store, "DATA_STALE")]
    assert actions[:2] == ["resubscribe", "reconnect"]


def test_warm_up_stores_todays_validated_minute_bars_as_candles(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 44, warm_up=True)
    record_until(recorder, lambda: bool(events_of(store, "WARM_UP")), timeout=30)
    candles = store.candles("NQ")
    warm = events_of(store, "WARM_UP")[0]
    assert warm["bars"] == len(candles) > 60
    assert all(c.ts.second == 0 and c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)
    assert sql_rows(store.path, "SELECT DISTINCT source, local_symbol FROM candles") == [("ib_history", "NQH6")]
    # The bars are the market's own: compare one with the source's candle.
    market = gateway.gateway.market.candles_between(candles[10].ts, candles[10].ts + timedelta(minutes=1))[0]
    assert (market.open, market.high, market.low, market.close, market.volume) == (
        candles[10].open, candles[10].high, candles[10].low, candles[10].close, candles[10].volume)


def test_history_backs_off_on_pacing_violations_then_reports_ib_plainly(gateway) -> None:
    import pytest

    from slob_cli.adapters.ib.history import fetch_minute_bars
    from slob_cli.errors import BrokerError

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def main() -> None:
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=45, sync_orders=False))
        await connection.connect()
        try:
            resolved = await resolve_front_month(connection.ib, "NQ", trading_date(gateway.clock.now()))
            end = gateway.clock.now().replace(second=0, microsecond=0)
            first = await fetch_minute_bars(connection.ib, resolved.ib_contract, "NQ", end - timedelta(minutes=20), end,
                                            sleep=fake_sleep, pacing_waits=(1.0, 2.0))
            assert len(first) == 20
            # The same request again within 15 s is a pacing violation (162) for IB and the simulator.
            with pytest.raises(BrokerError, match="162"):
                await fetch_minute_bars(connection.ib, resolved.ib_contract, "NQ", end - timedelta(minutes=20), end,
                                        sleep=fake_sleep, pacing_waits=(1.0, 2.0))
        finally:
            await connection.close()

    asyncio.run(main())
    assert waits == [1.0, 2.0]


def test_delayed_data_asked_for_is_used_without_a_refusal_and_marks_the_run(store) -> None:
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", delayed=True) as gateway:
        recorder = make_recorder(store, gateway.port, 46, data_type="delayed")
        stats = record_until(recorder, lambda: recorder.stored >= 5)
    assert stats["data_mode"] == "delayed" and recorder.feed.source["NQ"] == "mktdata"
    assert recorder.feed.market_data_types["NQ"] == 3
    assert not events_of(store, "MARKET_DATA_REFUSED") and "NQ" not in recorder.feed.refusals
    assert sql_value(store.path, "SELECT data_mode FROM runs WHERE id=?", (recorder.run_id,)) == "delayed"


def test_delayed_asked_for_but_live_permitted_reports_live(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 47, data_type="delayed")
    stats = record_until(recorder, lambda: recorder.stored >= 5)
    assert recorder.feed.market_data_types["NQ"] == 1
    assert recorder.feed.mode == "live" and events_of(store, "MARKET_DATA_LIVE")
    assert stats["data_mode"] == "sim"  # live, from a gateway that says it is the simulated one


def test_a_full_batch_drops_ticks_counts_them_and_says_so_once(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 48, buffer_capacity=3, flush_interval=30.0)
    stats = record_until(recorder, lambda: recorder.dropped >= 5)
    assert stats["dropped"] >= 5 and stats["ticks_stored"] == 3
    assert len(events_of(store, "TICKS_DROPPED")) == 1
    assert recorder.status().dropped == stats["dropped"]


def test_trades_missed_during_a_gateway_restart_are_backfilled_exactly_once(gateway, store) -> None:
    recorder = make_recorder(store, gateway.port, 49)

    async def main() -> None:
        running = asyncio.ensure_future(recorder.run())
        await eventually_async(lambda: recorder.stored >= 20, timeout=20)
        await asyncio.to_thread(gateway.restart, 1.0)
        await eventually_async(lambda: bool(events_of(store, "DATA_BACKFILLED")), timeout=20)
        recorder.stop()
        await asyncio.wait_for(running, 10)

    asyncio.run(main())
    [backfill] = events_of(store, "DATA_BACKFILLED")
    assert backfill["ticks"] > 0 and recorder.backfilled == backfill["ticks"]
    assert not events_of(store, "DATA_GAP")  # everything was recovered: no gap to report
    rows = sql_rows(store.path, "SELECT ts, price, size FROM ticks")
    # Every second between the first stored one and the last (both may be partial: the subscription
    # began and the recording stopped inside them) holds exactly the market's trades, the outage included.
    first, last = min(r[0] for r in rows) // 1_000_000 + 1, max(r[0] for r in rows) // 1_000_000
    market = Counter((int(t.ts.timestamp()), t.price, float(t.size)) for t in gateway.gateway.market.ticks_between(
        from_us(first * 1_000_000), from_us(last * 1_000_000)))
    stored = Counter((row[0] // 1_000_000, row[1], row[2]) for row in rows if first <= row[0] // 1_000_000 < last)
    assert stored == market, (stored - market, market - stored)


def test_a_full_disk_stops_the_recording_with_one_error_naming_the_file_and_no_half_batch(db_path) -> None:
    import pytest

    from slob_cli.errors import StoreError
    from slob_cli.sim.gateway import SimGatewayThread
    from tests.sqlfile import with_page_cap

    store = with_page_cap(Store.open(db_path), 40)  # the disk is full after forty pages
    with store, SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=50.0) as fast:
        recorder = make_recorder(store, fast.port, 51)

        async def main() -> None:
            await asyncio.wait_for(recorder.run(), 60)  # stops by itself: the writer's failure is fatal

        with pytest.raises(StoreError) as raised:
            asyncio.run(main())
    assert str(raised.value) == f"disk full writing '{store.path}': nothing of this write was stored"
    assert recorder.fatal is raised.value
    # Every batch is all or nothing: what is stored is exactly what the recorder counted as committed.
    assert sql_value(db_path, "SELECT count(*) FROM ticks") == recorder.stored > 0


def test_health_rows_on_a_faster_sim_gateways_clock_are_written_after_the_ticks_they_count(store) -> None:
    """`record` follows a simulated gateway's clock at 1x between skews; the gateway here runs 60x.

    A health row must not be stamped before the ticks it counts (nor say its last tick came 0 s before
    a time it preceded): each row is written on the clock caught up with the trades received.
    """
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=60.0) as fast:
        recorder = make_recorder(store, fast.port, 47, heartbeat_interval=0.5,
                                 clock=FollowedClock.for_record())  # as `slob record` has it
        record_until(recorder, lambda: sql_value(store.path, "SELECT count(*) FROM health") >= 3, timeout=60)
    ticks = [row[0] for row in sql_rows(store.path, "SELECT ts FROM ticks ORDER BY id")]
    rows = sql_rows(store.path, "SELECT ts, payload FROM health ORDER BY id")
    for ts, payload in rows[:3]:
        counted = json.loads(payload)["ticks_stored"]
        if counted:
            assert ts >= ticks[counted - 1], (from_us(ts), from_us(ticks[counted - 1]), counted)


def test_an_outage_on_a_faster_sim_gateways_clock_is_stamped_and_measured_on_that_clock(store) -> None:
    """The drop is stamped where the trades stopped and the reconnect gap read on the gateway's time (60x).

    `record` follows at 1x between skews: a drop stamped minutes before the last trade received, and a gap
    read before the clock moved onto the gateway's time (0.04 s for seconds of trades missed), were untrue.
    """
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=60.0) as fast:
        recorder = make_recorder(store, fast.port, 48, clock=FollowedClock.for_record())

        async def main() -> dict[str, Any]:
            running = asyncio.ensure_future(recorder.run())
            await eventually_async(lambda: recorder.stored >= 300, timeout=30)  # some virtual minutes in
            await asyncio.to_thread(fast.restart, 0.3)
            await eventually_async(lambda: bool(events_of(store, "FEED_RESUMED")), timeout=30)
            recorder.stop()
            return await asyncio.wait_for(running, 10)  # a backfill in flight must not hold the stop

        asyncio.run(main())
    at, back, resumed = _the_outage(store)
    last_before, first_after = (datetime.fromisoformat(resumed[k]) for k in ("last_before", "first_after"))
    assert last_before - timedelta(seconds=20) <= at <= first_after, (at, resumed)
    # 0.3 real seconds down at 60x: some 18 virtual seconds, and the reconnect's own time on top.
    assert back["clock"] == "sim" and back["gap_seconds"] >= 5.0, (back, resumed)


def test_record_runs_at_a_faster_sim_gateways_pace_so_a_drop_and_its_gap_read_the_trades_time(store) -> None:
    """Between corrections `record`'s clock runs at the pace the trades show (60x here), not at 1x.

    The clock catches up with the trades at each flush (1 s apart here: 60 s of the gateway's time) and
    each health row (0.2 s); at 1x between them a drop 20 s of trades after the last flush was stamped
    some 5-8 s before the gateway's time (up to a flush of it with no health row between), and the
    reconnect's gap read as much too long. Now the drop is within the seconds the trades' whole-second
    times and the learned pace allow, never after. Each health row is stamped at or after the trades it
    counts and within seconds of them.
    """
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.sim.gateway import SimGatewayThread

    clock = FollowedClock.for_record()
    caused: list[datetime] = []
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=60.0) as fast:
        recorder = make_recorder(store, fast.port, 53, clock=clock, flush_interval=1.0, heartbeat_interval=0.2)

        async def main() -> None:
            running = asyncio.ensure_future(recorder.run())
            await eventually_async(lambda: recorder.stored >= 600, timeout=30)  # the pace is learned by then
            # The drop comes between two flushes (the clock's last catch-up), 20 s of trades after it.
            before = recorder.stored
            await eventually_async(lambda: recorder.stored > before, timeout=30)
            stored, flushed = recorder.stored, recorder.feed.latest("NQ")
            await eventually_async(lambda: recorder.stored == stored
                                   and recorder.feed.latest("NQ") - flushed >= timedelta(seconds=20), timeout=30)
            caused.append(fast.clock.now())  # the gateway's time as the drop is caused: it comes just after
            await asyncio.to_thread(fast.restart, 0.3)
            caused.append(fast.clock.now())  # and once the gateway is back: the drop came before
            await eventually_async(lambda: bool(events_of(store, "FEED_RESUMED")), timeout=30)
            recorder.stop()
            await asyncio.wait_for(running, 10)

        asyncio.run(main())
    at, back, resumed = _the_outage(store)
    last_before, first_after = (datetime.fromisoformat(resumed[k]) for k in ("last_before", "first_after"))
    # The trades' times are whole seconds, and the pace learned is a little below the gateway's (never above):
    # the drop is stamped within seconds of the gateway's time (was 5-8 s before it), never after it.
    assert caused[0] - timedelta(seconds=4) <= at <= caused[1], (at, caused, resumed)
    assert last_before - timedelta(seconds=4) <= at <= first_after, (at, resumed)
    missed = (first_after - last_before).total_seconds()
    assert back["clock"] == "sim" and missed - 8.0 <= back["gap_seconds"] <= missed + 5.0, (back, resumed)
    ticks = [row[0] for row in sql_rows(store.path, "SELECT ts FROM ticks ORDER BY id")]
    rows = [(ts, json.loads(payload)) for ts, payload in sql_rows(store.path, "SELECT ts, payload FROM health")]
    assert len(rows) >= 3
    for ts, row in rows:
        if row["ticks_stored"] and from_us(ts) < at:  # before the drop: a row after it may say the feed is old
            assert ts >= ticks[row["ticks_stored"] - 1] and row["last_tick_age"] <= 5.0, (from_us(ts), row)
    assert 40.0 <= clock.pace <= 60.0, clock.pace  # learned from the trades, never above the gateway's


def test_record_on_a_sim_gateway_at_real_time_keeps_running_at_real_time(store) -> None:
    """A gateway at 1x teaches no faster pace: the clock stays on the gateway's time, never ahead of it."""
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.sim.gateway import SimGatewayThread

    clock = FollowedClock.for_record()
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=1.0) as gateway:
        recorder = make_recorder(store, gateway.port, 54, clock=clock)
        record_until(recorder, lambda: recorder.stored >= 40, timeout=60)
        ahead = (clock.now() - gateway.clock.now()).total_seconds()
    assert clock.pace == 1.0
    assert -1.5 <= ahead <= 1.0, ahead  # reqCurrentTime and the trades' times are whole seconds
