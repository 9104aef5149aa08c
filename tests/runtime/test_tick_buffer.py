"""Tick buffer: bounded, drop-oldest, TTL eviction on an injected clock, drops reported, flushing."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.core.aggregator import CandleCompleted, M1Aggregator
from slob_cli.core.models import Tick
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.tick_buffer import TickBuffer
from tests.conftest import eventually_async

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def tick(seconds: float, price: float = 100.0) -> Tick:
    return Tick("NQ", T0 + timedelta(seconds=seconds), price, 1.0)


def test_overflow_drops_the_oldest_and_reports_each_drop(caplog: pytest.LogCaptureFixture) -> None:
    drops: list[tuple[str, datetime, int]] = []
    buffer = TickBuffer(maxsize=3, clock=ManualClock(T0), on_drop=lambda s, ts, n: drops.append((s, ts, n)))
    with caplog.at_level(logging.WARNING, logger="slob.buffer"):
        results = [buffer.enqueue(tick(second)) for second in range(5)]
    assert results == [True, True, True, False, False]
    assert [buffer.dequeue_nowait().ts for _ in range(3)] == [tick(s).ts for s in (2, 3, 4)]  # type: ignore[union-attr]
    assert drops == [("NQ", tick(0).ts, 1), ("NQ", tick(1).ts, 1)]
    assert buffer.get_stats()["dropped_overflow"] == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("dropping ticks" in m for m in warnings) == 1  # once per burst
    assert any("recovered after dropping 2" in m for m in warnings)


def test_ticks_older_than_ttl_are_evicted_and_counted() -> None:
    clock = ManualClock(T0)
    buffer = TickBuffer(maxsize=10, ttl_seconds=60, clock=clock)
    buffer.enqueue(tick(0))
    clock.advance(timedelta(seconds=30))
    buffer.enqueue(tick(30))
    clock.advance(timedelta(seconds=31))
    assert buffer.dequeue_nowait() == tick(30)
    assert buffer.get_stats()["dropped_expired"] == 1
    assert buffer.dequeue_nowait() is None


def test_utilization_and_stats_follow_the_fill_level() -> None:
    buffer = TickBuffer(maxsize=4, clock=ManualClock(T0))
    for second in range(3):
        buffer.enqueue(tick(second))
    buffer.dequeue_nowait()
    stats = buffer.get_stats()
    assert buffer.utilization() == 0.5
    assert (stats["enqueued"], stats["dequeued"], stats["queued"], stats["high_water"]) == (3, 1, 2, 3)


def test_dequeue_times_out_with_none_when_empty() -> None:
    buffer = TickBuffer()
    assert asyncio.run(buffer.dequeue(timeout=0.01)) is None


def test_dequeue_wakes_when_a_tick_arrives() -> None:
    async def main() -> Tick | None:
        buffer = TickBuffer()
        waiter = asyncio.create_task(buffer.dequeue(timeout=5))
        await asyncio.sleep(0)
        buffer.enqueue(tick(1))
        return await waiter

    assert asyncio.run(main()) == tick(1)


def test_auto_flush_feeds_the_aggregator_and_drops_land_on_the_candle() -> None:
    aggregator = M1Aggregator(["NQ"])
    buffer = TickBuffer(maxsize=2, clock=ManualClock(T0), on_drop=aggregator.note_dropped)
    events: list = []
    for second in (1, 2, 3, 4):
        buffer.enqueue(tick(second, price=100 + second))

    async def main() -> None:
        buffer.start_auto_flush(lambda t: events.extend(aggregator.on_tick(t)))
        await eventually_async(lambda: len(buffer) == 0)
        buffer.enqueue(tick(65))
        assert await buffer.stop_auto_flush(timeout=5) == 0

    asyncio.run(main())
    events.extend(aggregator.force_complete_all())
    candles = [e.candle for e in events if isinstance(e, CandleCompleted)]
    assert [(c.open, c.close, c.tick_count, c.dropped_ticks) for c in candles] == [
        (103.0, 104.0, 2, 2), (100.0, 100.0, 1, 0)]


def test_invalid_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        TickBuffer(maxsize=0)
    with pytest.raises(ValueError):
        TickBuffer(ttl_seconds=0)


def test_buffer_works_under_a_second_event_loop() -> None:
    buffer = TickBuffer(clock=ManualClock(T0))
    assert asyncio.run(buffer.dequeue(timeout=0.01)) is None

    async def second_loop() -> Tick | None:
        waiter = asyncio.create_task(buffer.dequeue(timeout=5))
        for _ in range(5):
            await asyncio.sleep(0)  # yield until the waiter is parked on the buffer's event
        buffer.enqueue(tick(2))
        return await waiter

    assert asyncio.run(second_loop()) == tick(2)
