"""Lossless recording: under drops, pauses and gateway restarts the stored ticks equal what the market printed.

The recorder runs in-process exactly as `slob record` wires it (real ib_async, the simulated gateway
over a real socket, a real SQLite file); faults come in a seeded order, and every wait is a condition.
Ticks are compared second by second in the exchange's order: time, price, size, and the order of the
trades within each second. The only trades allowed to be missing are those inside a reported DATA_GAP.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from slob_cli.adapters.store import Store, from_us
from slob_cli.runtime.clock import FollowedClock
from slob_cli.runtime.recorder import Recorder
from slob_cli.sim.gateway import SimGatewayThread
from tests.adapters.ib.conftest import BUSY_START
from tests.adapters.ib.test_recorder_integration import events_of, make_recorder
from tests.conftest import eventually_async

UTC = timezone.utc
STALE_AFTER = 1.0  # seconds of silence before the watchdog reports the feed stale
FAULTS = ("drop", "reset", "stall", "pause", "restart")


def _seconds(payload: dict[str, Any]) -> tuple[int, int]:
    return int(datetime.fromisoformat(payload["start"]).timestamp()), int(datetime.fromisoformat(payload["end"]).timestamp())


def compare_with_market(store: Store, gateway: SimGatewayThread) -> tuple[int, list[tuple[int, int]]]:
    """Assert the stored NQ trades equal the market's outside reported gaps; return (seconds compared, gaps)."""
    rows = store.tick_rows_between("NQ", 0, 2**62)  # ordered by time, then arrival
    # The first and last stored seconds are partial by nature: the subscription began and the recording stopped in them.
    first, last = rows[0][0] // 1_000_000 + 1, rows[-1][0] // 1_000_000
    gaps = [_seconds(payload) for payload in events_of(store, "DATA_GAP")]

    def compared(second: int) -> bool:
        return first <= second < last and not any(start <= second <= end for start, end in gaps)

    stored = [(ts // 1_000_000, price, size) for ts, price, size in rows if compared(ts // 1_000_000)]
    printed = [(int(t.ts.timestamp()), t.price, float(t.size))
               for t in gateway.gateway.market.ticks_between(from_us(first * 1_000_000), from_us(last * 1_000_000))
               if compared(int(t.ts.timestamp()))]
    if stored != printed:
        index = next((i for i, (a, b) in enumerate(zip(stored, printed, strict=False)) if a != b),
                     min(len(stored), len(printed)))
        raise AssertionError(f"stored {len(stored)} trades, the market printed {len(printed)}; first difference at "
                             f"{index}: stored {stored[index:index + 3]} printed {printed[index:index + 3]}")
    return last - first, gaps


async def _fault(kind: str, gateway: SimGatewayThread, recorder: Recorder, store: Store, rng: random.Random) -> None:
    """Inflict one fault and return once it is over (the recorder still has to notice and recover)."""
    if kind in ("drop", "reset"):
        await asyncio.to_thread(gateway.drop_connections, kind == "reset")
    elif kind == "restart":
        await asyncio.to_thread(gateway.restart, rng.uniform(0.5, 2.0))
    else:
        # The market goes on printing while the feed is silent past the stale threshold. A stall (a
        # data farm that stops streaming but answers) ends once the watchdog has resubscribed; a
        # pause (a gateway that answers nothing) ends only after the watchdog has reconnected.
        stale_reports = len(events_of(store, "DATA_STALE"))
        reconnects = recorder.connection.reconnects
        quiet = gateway.set_muted if kind == "stall" else gateway.set_silent
        await asyncio.to_thread(quiet, True)
        try:
            await eventually_async(lambda: len(events_of(store, "DATA_STALE")) > stale_reports, timeout=30)
            if kind == "pause":
                await eventually_async(lambda: recorder.connection.reconnects > reconnects
                                       or not recorder.connection.connected, timeout=30)
        finally:
            await asyncio.to_thread(quiet, False)


def _recovered(recorder: Recorder, backfills: int, ticks: int) -> Callable[[], bool]:
    """Return a condition: a new outage was backfilled, none waits, and the feed streams again."""
    return lambda: (recorder.backfills > backfills and recorder.pending_backfills == 0
                    and recorder.connection.connected and recorder.feed.ticks > ticks + 10)


def test_under_drops_pauses_and_restarts_the_stored_ticks_equal_what_the_market_printed(store: Store) -> None:
    rng = random.Random(13)
    faults = list(FAULTS)
    rng.shuffle(faults)
    with SimGatewayThread(seed=5, start=BUSY_START, speed=1.0) as gateway:
        recorder = make_recorder(store, gateway.port, 51, stale_after=STALE_AFTER)
        recorder.feed.trading_hours = lambda instant: True

        async def main() -> None:
            running = asyncio.ensure_future(recorder.run())
            try:
                await eventually_async(lambda: recorder.stored >= 20, timeout=30)
                for kind in faults:
                    backfills, ticks = recorder.backfills, recorder.feed.ticks
                    await _fault(kind, gateway, recorder, store, rng)
                    await eventually_async(_recovered(recorder, backfills, ticks), timeout=60)
            finally:
                recorder.stop()
                await asyncio.wait_for(running, 20)

        asyncio.run(main())
        seconds, gaps = compare_with_market(store, gateway)
    assert gaps == [] and recorder.stats()["gaps"] == 0  # the gateway's history holds every trade
    assert recorder.backfilled > 0 and recorder.backfills >= len(FAULTS)
    assert seconds > 10
    reasons = {payload["reason"] for payload in events_of(store, "FEED_RESUMED")}
    assert {"reconnect", "stale"} <= reasons


def test_without_backfill_every_outage_is_a_gap_whose_span_holds_all_that_is_missing(store: Store) -> None:
    with SimGatewayThread(seed=7, start=BUSY_START, speed=1.0) as gateway:
        # The clock `slob record` runs on: the wall clock, until a simulated gateway says it is one.
        recorder = make_recorder(store, gateway.port, 52, backfill=False, clock=FollowedClock.for_record())

        async def main() -> None:
            running = asyncio.ensure_future(recorder.run())
            try:
                await eventually_async(lambda: recorder.stored >= 20, timeout=30)
                for down_for in (0.5, 1.0):
                    gaps, ticks = len(events_of(store, "DATA_GAP")), recorder.feed.ticks
                    await asyncio.to_thread(gateway.restart, down_for)
                    await eventually_async(lambda: len(events_of(store, "DATA_GAP")) > gaps  # noqa: B023
                                           and recorder.feed.ticks > ticks + 10, timeout=60)  # noqa: B023
            finally:
                recorder.stop()
                await asyncio.wait_for(running, 20)

        asyncio.run(main())
        _, gaps = compare_with_market(store, gateway)
    reported = events_of(store, "DATA_GAP")
    assert len(gaps) == 2 == recorder.stats()["gaps"]
    assert all(payload["reason"] == "backfill is off" for payload in reported)
    assert all(payload["seconds"] >= 0.5 for payload in reported)
    assert all(payload["clock"] == "sim" for payload in reported)  # the seconds of the simulated gateway's clock
    assert recorder.backfilled == 0 and not events_of(store, "DATA_BACKFILLED")
