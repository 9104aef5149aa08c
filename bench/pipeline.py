"""Bench the in-process live path: source -> tick buffer -> aggregator -> bus -> tracker -> store.

Prints (1) ticks/s through the path on one core, (2) the delay from a minute's end to its
CANDLE_COMPLETED event beyond the grace, p50 and p99, with the engine's own timer on a clock
running 60x, and (3) RSS while a simulated 24 h session of about 2 M ticks goes through.
Run: python bench/pipeline.py [--ticks 2000000] [--minutes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from slob_cli.adapters.calendar import load_calendar  # noqa: E402
from slob_cli.adapters.ib.connection import GatewayConfig  # noqa: E402
from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.models import Tick  # noqa: E402
from slob_cli.core.risk import RiskManager  # noqa: E402
from slob_cli.core.strategy.config import StrategyConfig  # noqa: E402
from slob_cli.runtime.engine import Engine, EngineOptions  # noqa: E402
from slob_cli.runtime.events import EventType  # noqa: E402
from slob_cli.sim.market import GeneratedMarket  # noqa: E402

UTC = timezone.utc
DAY = date(2026, 3, 10)


def generated_ticks(count: int, seed: int = 11) -> list[Tick]:
    """Return about `count` NQ trade ticks of generated days, starting 2026-03-10."""
    market = GeneratedMarket(seed)
    ticks: list[Tick] = []
    start = datetime(2026, 3, 10, tzinfo=UTC)
    while len(ticks) < count:
        for tick in market.ticks_between(start, start + timedelta(hours=6)):
            ticks.append(Tick("NQ", tick.ts, tick.price, float(tick.size)))
        start += timedelta(hours=6)
    return ticks[:count]


def make_engine(store: Store, options: EngineOptions, clock: object | None = None) -> Engine:
    calendar = load_calendar(DAY - timedelta(days=10), DAY + timedelta(days=30))
    return Engine(store, GatewayConfig(port=9), StrategyConfig(), RiskManager(), calendar, options, clock=clock)


async def throughput(ticks: list[Tick], store: Store) -> tuple[float, int]:
    """Push ticks through buffer -> aggregator -> bus -> tracker with the engine's own code."""
    engine = make_engine(store, EngineOptions(buffer_size=len(ticks) + 1))
    engine._started = True
    async with engine.bus:
        begin = time.perf_counter()
        for tick in ticks:
            engine.buffer.enqueue(tick)
        while (tick := engine.buffer.dequeue_nowait()) is not None:
            engine._process_tick(tick)
        await engine.bus.drain()
        elapsed = time.perf_counter() - begin
    return len(ticks) / elapsed, engine.stats.candles


class ScaledClock:
    """A clock that runs `speed` times faster than real time from `start`."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self.t0 = start, speed, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)


async def close_delays(minutes: int, store: Store, speed: float = 60.0) -> list[float]:
    """Feed a sparse market (no tick after second 30 of each minute) and time each candle close."""
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    clock = ScaledClock(start, speed)
    grace = 2.0
    engine = make_engine(store, EngineOptions(grace_seconds=grace, clock_speed=speed), clock)
    engine._started = True
    delays: list[float] = []

    def on_candle(event: object) -> None:
        candle = event.payload  # type: ignore[attr-defined]
        delays.append(((clock.now() - candle.end).total_seconds() - grace) / speed * 1000.0)

    engine.bus.subscribe(EventType.CANDLE_COMPLETED, on_candle)
    async with engine.bus:
        timers = asyncio.ensure_future(engine._timers())
        price = 24_500.0
        for minute in range(minutes):
            for second in range(0, 30, 5):
                at = start + timedelta(minutes=minute, seconds=second)
                wait = (at - clock.now()).total_seconds() / speed
                if wait > 0:
                    await asyncio.sleep(wait)
                price += 0.25 if (minute + second) % 2 else -0.25
                engine._process_tick(Tick("NQ", at, price, 1.0))
        end = start + timedelta(minutes=minutes, seconds=grace + 1)
        await asyncio.sleep(max(0.0, (end - clock.now()).total_seconds() / speed))
        engine.stop()
        await timers
    return delays


def rss_run(ticks: list[Tick], store: Store) -> list[tuple[int, float]]:
    engine = make_engine(store, EngineOptions(buffer_size=10_000))
    engine._started = True
    process = psutil.Process(os.getpid())
    samples = []
    step = max(1, len(ticks) // 10)
    for index, tick in enumerate(ticks, 1):
        engine.buffer.enqueue(tick)
        while (queued := engine.buffer.dequeue_nowait()) is not None:
            engine._process_tick(queued)
        if index % step == 0:
            samples.append((index, process.memory_info().rss / 1e6))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--minutes", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="slob-bench-"))
    ticks = generated_ticks(args.ticks)
    span = ticks[-1].ts - ticks[0].ts
    print(f"generated {len(ticks):,} ticks spanning {span}")

    with Store.open(folder / "throughput.db") as store:
        rate, candles = asyncio.run(throughput(ticks[: min(len(ticks), 500_000)], store))
    print(f"live path (buffer -> aggregator -> bus -> tracker -> store): {rate:,.0f} ticks/s "
          f"({candles:,} candles; target >= 250,000)")

    with Store.open(folder / "delay.db") as store:
        delays = asyncio.run(close_delays(args.minutes, store))
    if delays:
        ordered = sorted(delays)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(f"candle close beyond the grace over {len(delays)} quiet minutes: p50 {statistics.median(delays):.2f} ms, "
              f"p99 {p99:.2f} ms (target p99 < 2 ms)")

    with Store.open(folder / "rss.db") as store:
        samples = rss_run(ticks, store)
    print("RSS while the session runs (ticks -> MB): " + ", ".join(f"{n:,}: {mb:.0f}" for n, mb in samples))
    first, last = samples[0][1], samples[-1][1]
    print(f"RSS at the end {last:.0f} MB (target < 150 MB), growth over the session {last - first:+.0f} MB")


if __name__ == "__main__":
    main()
