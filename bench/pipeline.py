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
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from slob_cli.adapters.calendar import load_calendar_isolated  # noqa: E402
from slob_cli.adapters.ib.connection import GatewayConfig  # noqa: E402
from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.models import Tick  # noqa: E402
from slob_cli.core.risk import RiskManager  # noqa: E402
from slob_cli.core.strategy.config import StrategyConfig  # noqa: E402
from slob_cli.runtime.engine import Engine, EngineOptions  # noqa: E402
from slob_cli.runtime.events import EventType  # noqa: E402

UTC = timezone.utc
DAY = date(2026, 3, 10)


def tick_stream(count: int, seed: int = 11, hours: float = 24.0) -> Iterator[Tick]:
    """Yield `count` NQ ticks spread over `hours` from 2026-03-10 00:00 UTC (a seeded random walk).

    Generated in chunks with numpy so the bench itself holds almost nothing: the RSS figures are
    the engine's.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    start = datetime(2026, 3, 10, tzinfo=UTC)
    mean_gap_us = hours * 3600e6 / count
    clock_us, price_ticks, produced = 0.0, 98_000, 0
    while produced < count:
        size = min(50_000, count - produced)
        gaps = rng.exponential(mean_gap_us, size).cumsum() + clock_us
        steps = rng.choice((-1, 0, 1), size, p=(0.3, 0.4, 0.3)).cumsum() + price_ticks
        sizes = rng.geometric(0.5, size)
        for micros, level, lots in zip(gaps.tolist(), steps.tolist(), sizes.tolist(), strict=True):
            yield Tick("NQ", start + timedelta(microseconds=int(micros)), level * 0.25, float(lots))
        clock_us, price_ticks, produced = float(gaps[-1]), int(steps[-1]), produced + size


def generated_ticks(count: int, seed: int = 11) -> list[Tick]:
    """Return `count` NQ trade ticks as a list."""
    return list(tick_stream(count, seed))


def make_engine(store: Store, options: EngineOptions, clock: object | None = None) -> Engine:
    calendar = load_calendar_isolated(DAY - timedelta(days=10), DAY + timedelta(days=30))
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
        for minute in range(0, minutes, 2):  # every other minute is silent: its predecessor closes by timer
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


def rss_run(count: int, store: Store) -> list[tuple[int, float]]:
    engine = make_engine(store, EngineOptions(buffer_size=10_000))
    engine._started = True
    process = psutil.Process(os.getpid())
    samples = [(0, process.memory_info().rss / 1e6)]
    step = max(1, count // 10)
    for index, tick in enumerate(tick_stream(count, seed=12), 1):
        engine.buffer.enqueue(tick)
        while (queued := engine.buffer.dequeue_nowait()) is not None:
            engine._process_tick(queued)
        if index % step == 0:
            samples.append((index, process.memory_info().rss / 1e6))
    return samples


def main() -> None:
    """Run the three measurements and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--minutes", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="slob-bench-"))
    with Store.open(folder / "rss.db") as store:
        samples = rss_run(args.ticks, store)
    print("RSS while a session of generated ticks runs (ticks -> MB): "
          + ", ".join(f"{n:,}: {mb:.0f}" for n, mb in samples))
    base, last = samples[0][1], samples[-1][1]
    after_first = samples[1][1]
    print(f"RSS at the end {last:.0f} MB (target < 150 MB); before the first tick {base:.0f} MB; "
          f"growth after the first tenth {last - after_first:+.0f} MB (flat means no leak)")

    ticks = generated_ticks(min(args.ticks, 500_000))
    with Store.open(folder / "throughput.db") as store:
        rate, candles = asyncio.run(throughput(ticks, store))
    print(f"live path (buffer -> aggregator -> bus -> tracker -> store): {rate:,.0f} ticks/s "
          f"({candles:,} candles; target >= 250,000)")

    with Store.open(folder / "delay.db") as store:
        delays = asyncio.run(close_delays(args.minutes, store))
    if delays:
        ordered = sorted(delays)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(f"candle close beyond the grace over {len(delays)} quiet minutes: p50 {statistics.median(delays):.2f} ms, "
              f"p99 {p99:.2f} ms (target p99 < 2 ms)")


if __name__ == "__main__":
    main()
