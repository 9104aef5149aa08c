"""Event bus: several handlers, sync and async, isolation of failures, order, history, stats."""

from __future__ import annotations

import asyncio
import logging

import pytest

from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.events import Event, EventType


def test_every_handler_of_a_type_gets_events_in_emission_order() -> None:
    seen: list[tuple[str, int]] = []

    async def async_handler(event: Event) -> None:
        await asyncio.sleep(0)  # yield to the loop: order must hold anyway
        seen.append(("async", event.payload))

    async def main() -> None:
        async with EventBus() as bus:
            bus.subscribe(EventType.CANDLE_COMPLETED, lambda e: seen.append(("sync", e.payload)))
            bus.subscribe(EventType.CANDLE_COMPLETED, async_handler)
            for number in range(5):
                bus.emit(EventType.CANDLE_COMPLETED, number)
            await bus.drain()

    asyncio.run(main())
    assert seen == [(kind, n) for n in range(5) for kind in ("sync", "async")]


def test_failing_handler_is_logged_and_others_still_receive(caplog: pytest.LogCaptureFixture) -> None:
    received: list[int] = []

    def broken(event: Event) -> None:
        raise ValueError("boom")

    async def main() -> dict:
        async with EventBus() as bus:
            bus.subscribe(EventType.ORDER_FILLED, broken)
            bus.subscribe(EventType.ORDER_FILLED, lambda e: received.append(e.payload))
            await bus.emit_and_wait(EventType.ORDER_FILLED, 1)
            await bus.emit_and_wait(EventType.ORDER_FILLED, 2)
            return bus.get_stats()

    with caplog.at_level(logging.ERROR, logger="slob.bus"):
        stats = asyncio.run(main())
    assert received == [1, 2]
    assert stats["handler_errors"] == 2
    assert "broken" in caplog.text and "boom" in caplog.text


def test_emit_and_wait_returns_after_async_handler_finished() -> None:
    finished: list[str] = []

    async def slow(event: Event) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        finished.append(event.payload)

    async def main() -> list[str]:
        bus = EventBus()
        bus.subscribe(EventType.SETUP_DETECTED, slow)
        await bus.emit_and_wait(Event(EventType.SETUP_DETECTED, "setup-1"))
        snapshot = list(finished)
        await bus.stop()
        return snapshot

    assert asyncio.run(main()) == ["setup-1"]


def test_handlers_only_get_their_type_and_catch_all_gets_everything() -> None:
    typed: list[EventType] = []
    everything: list[EventType] = []

    async def main() -> None:
        async with EventBus() as bus:
            bus.subscribe(EventType.CONNECTED, lambda e: typed.append(e.type))
            bus.subscribe(None, lambda e: everything.append(e.type))
            bus.emit(EventType.CONNECTED)
            bus.emit(EventType.DISCONNECTED)
            await bus.drain()

    asyncio.run(main())
    assert typed == [EventType.CONNECTED]
    assert everything == [EventType.CONNECTED, EventType.DISCONNECTED]


def test_unsubscribe_stops_delivery() -> None:
    received: list[int] = []

    async def main() -> None:
        async with EventBus() as bus:
            cancel = bus.subscribe(EventType.HEALTH, lambda e: received.append(e.payload))
            await bus.emit_and_wait(EventType.HEALTH, 1)
            cancel()
            await bus.emit_and_wait(EventType.HEALTH, 2)

    asyncio.run(main())
    assert received == [1]


def test_history_is_bounded_and_filterable() -> None:
    async def main() -> EventBus:
        async with EventBus(history_size=3) as bus:
            for number in range(5):
                bus.emit(EventType.TICK_RECEIVED, number)
            bus.emit(EventType.GAP_DETECTED, "gap")
        return bus

    bus = asyncio.run(main())
    assert [e.payload for e in bus.history()] == [3, 4, "gap"]
    assert [e.payload for e in bus.history(EventType.GAP_DETECTED)] == ["gap"]
    assert bus.get_stats()["emitted_by_type"]["tick_received"] == 5


def test_history_disabled_with_size_zero() -> None:
    async def main() -> EventBus:
        async with EventBus(history_size=0) as bus:
            bus.emit(EventType.TICK_RECEIVED, 1)
        return bus

    assert asyncio.run(main()).history() == []


def test_events_emitted_before_the_loop_runs_are_delivered_on_start() -> None:
    received: list[int] = []
    bus = EventBus()
    bus.subscribe(EventType.CONNECTED, lambda e: received.append(e.payload))
    bus.emit(EventType.CONNECTED, 7)

    async def main() -> None:
        bus.start()
        await bus.drain()
        await bus.stop()

    asyncio.run(main())
    assert received == [7]


def test_emit_and_wait_inside_a_handler_is_refused_not_deadlocked() -> None:
    errors: list[str] = []

    async def reentrant(event: Event) -> None:
        try:
            await bus.emit_and_wait(EventType.HEALTH)
        except RuntimeError as exc:
            errors.append(str(exc))

    bus = EventBus()
    bus.subscribe(EventType.ALERT, reentrant)

    async def main() -> None:
        await bus.emit_and_wait(EventType.ALERT)
        await bus.stop()

    asyncio.run(main())
    assert errors and "deadlock" in errors[0]


def test_unobserved_events_are_counted_and_emit_and_wait_still_returns() -> None:
    async def main() -> dict:
        async with EventBus() as bus:
            bus.emit(EventType.TICK_RECEIVED, 1)
            await bus.emit_and_wait(EventType.SHUTDOWN)
            return bus.get_stats()

    stats = asyncio.run(main())
    assert stats["emitted_by_type"] == {"tick_received": 1, "shutdown": 1}
    assert stats["delivered"] == 0 and stats["queue_depth"] == 0
