"""The interim demo: a seeded simulated NQ session, aggregated through the streaming path, stored.

Ticks come from the simulator's `GeneratedMarket`; they go through the tick buffer, the M1
aggregator and the event bus exactly as live ticks do. `slob run --sim` supersedes this later.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.db import to_iso, to_us
from slob_cli.core.aggregator import CandleCompleted, GapDetected, LateTick, M1Aggregator
from slob_cli.core.models import Candle, Tick
from slob_cli.errors import InputError
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.events import EventType
from slob_cli.runtime.tick_buffer import TickBuffer

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

UTC = timezone.utc
DEFAULT_SESSION_START = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)  # 09:30 New York
DEFAULT_MINUTES = 390  # the regular session, 09:30-16:00 New York
DEMO_DAY = timedelta(days=1)  # the most a demo writes (--minutes 1440): the span a run replaces


@dataclass
class DemoReport:
    """Figures of one demo run."""

    symbol: str
    seed: int
    session_start: datetime
    session_end: datetime
    ticks: int
    candles: int
    gaps: int
    late_ticks: int
    dropped_ticks: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    elapsed_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (times in UTC ISO-8601)."""
        data = asdict(self)
        data["session_start"], data["session_end"] = to_iso(self.session_start), to_iso(self.session_end)
        return data


def synthetic_session(
    seed: int, start: datetime = DEFAULT_SESSION_START, minutes: int = DEFAULT_MINUTES, symbol: str = "NQ",
) -> list[Tick]:
    """Return the seeded simulated market's trades in [start, start + minutes), in time order."""
    from slob_cli.sim.market import GeneratedMarket

    trades = GeneratedMarket(seed).ticks_between(start, start + timedelta(minutes=minutes))
    return [Tick(symbol, trade.ts, trade.price, float(trade.size)) for trade in trades]


async def _stream(ticks: list[Tick], aggregator: M1Aggregator, bus: EventBus, clock: ManualClock) -> None:
    """Feed ticks through the buffer and the aggregator, advancing the clock with the data."""
    buffer = TickBuffer(clock=clock, on_drop=aggregator.note_dropped)

    def consume(tick: Tick) -> None:
        bus.emit(EventType.TICK_RECEIVED, tick, tick.ts)
        for event in aggregator.on_tick(tick):
            _publish(bus, event)

    buffer.start_auto_flush(consume)
    step = timedelta(seconds=1)
    for tick in ticks:
        if tick.ts >= clock.now() + step:
            # Replay runs faster than real time: let the flusher drain before time moves on, as a
            # live consumer keeping up would, so the buffer's TTL sees realistic waiting times.
            while len(buffer):  # noqa: ASYNC110 - yields to the flusher until the buffer is empty
                await asyncio.sleep(0)
            clock.set(tick.ts)
            for event in aggregator.on_time(clock.now()):
                _publish(bus, event)
        buffer.enqueue(tick)
    await buffer.stop_auto_flush()
    for event in aggregator.force_complete_all():
        _publish(bus, event)
    await bus.drain()


def _publish(bus: EventBus, event: object) -> None:
    if isinstance(event, CandleCompleted):
        bus.emit(EventType.CANDLE_COMPLETED, event.candle, event.candle.ts)
    elif isinstance(event, GapDetected):
        bus.emit(EventType.GAP_DETECTED, event, event.start)
    elif isinstance(event, LateTick):
        bus.emit(EventType.LATE_TICK, event.tick, event.tick.ts)


def refuse_others_data(store: Store, minutes: int = DEFAULT_MINUTES, start: datetime = DEFAULT_SESSION_START,
                       symbol: str = "NQ", zone: ZoneInfo | None = None) -> None:
    """Raise InputError when the window a demo of `minutes` from `start` would replace holds ticks or candles it did not write."""
    end = start + timedelta(minutes=minutes)
    ticks, candles = store.rows_not_written_by("demo", symbol, to_us(start), to_us(end), derived_sources=("aggregate",))
    if not ticks and not candles:
        return
    shown = zone or timezone.utc
    found = ", ".join([f"{ticks:,} ticks"] * bool(ticks) + [f"{count:,} {source} candles" for source, count in candles.items()])
    raise InputError(
        f"{store.path} already holds {symbol} data of {start.astimezone(shown):%Y-%m-%d %H:%M} - "
        f"{end.astimezone(shown):%H:%M} {getattr(shown, 'key', 'UTC')} that the demo did not write ({found}), "
        f"which it would replace: use another --db")


def run_demo(
    store: Store, seed: int = 7, minutes: int = DEFAULT_MINUTES, start: datetime = DEFAULT_SESSION_START,
    run_id: int | None = None, symbol: str = "NQ", zone: ZoneInfo | None = None,
) -> DemoReport:
    """Generate, stream-aggregate and store one synthetic session; return its figures.

    Its window is replaced, so a window holding data the demo did not write (a recorded session,
    imported candles) is refused with InputError before anything is written. What earlier demos
    wrote in the day from `start` goes too, so the store never mixes two seeds or lengths.
    """
    refuse_others_data(store, minutes, start, symbol, zone)
    began = time.perf_counter()
    ticks = synthetic_session(seed, start, minutes, symbol)
    aggregator = M1Aggregator([symbol])
    bus = EventBus(history_size=0)
    candles: list[Candle] = []
    gaps: list[GapDetected] = []
    bus.subscribe(EventType.CANDLE_COMPLETED, lambda event: candles.append(event.payload))
    bus.subscribe(EventType.GAP_DETECTED, lambda event: gaps.append(event.payload))

    async def main() -> None:
        async with bus:
            await _stream(ticks, aggregator, bus, ManualClock(start))

    asyncio.run(main())
    end = start + timedelta(minutes=minutes)
    with store.batch():  # running the demo again replaces its day, not doubles or mixes it
        store.delete_rows_written_by("demo", symbol, start, start + max(DEMO_DAY, end - start))
        store.delete_ticks(symbol, start, end)
        store.insert_ticks(ticks, run_id=run_id)
        store.upsert_candles(candles, source="demo")
        for gap in gaps:
            store.log_event("gap", gap.start, {"minutes": gap.minutes, "end": to_iso(gap.end)}, run_id, symbol)
    stats = aggregator.get_stats()
    return DemoReport(
        symbol=symbol, seed=seed, session_start=start, session_end=end, ticks=len(ticks), candles=len(candles),
        gaps=len(gaps), late_ticks=int(stats["late_ticks"]),  # type: ignore[call-overload]
        dropped_ticks=sum(c.dropped_ticks for c in candles),
        open=candles[0].open if candles else 0.0, high=max((c.high for c in candles), default=0.0),
        low=min((c.low for c in candles), default=0.0), close=candles[-1].close if candles else 0.0,
        volume=sum(c.volume for c in candles), elapsed_seconds=round(time.perf_counter() - began, 3),
    )
