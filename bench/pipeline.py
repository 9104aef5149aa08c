"""Bench the in-process live path: source -> tick buffer -> aggregator -> bus -> tracker -> store.

Prints (1) RSS while a simulated 24 h session of about 2 M ticks goes through, (2) ticks/s through
the path on one core, and (3) the delay from a minute's end plus the grace to its CANDLE_COMPLETED
event reaching a bus handler, p50 and p99, with the engine's own timer on a clock running 120x,
next to the lateness of a bare loop.call_at timer on the same loop in the same run (the floor).
Run: python bench/pipeline.py [--ticks 2000000] [--minutes 200] [--speed 120] [--only close]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


async def close_delays(minutes: int, store: Store, speed: float) -> tuple[list[float], list[float]]:
    """Time each candle close of a quiet market; return (close delays, bare timer lateness) in real ms.

    Every minute has ticks from second 5 to second 30 only, so each candle is closed by the
    engine's timer at its end plus the grace (the next minute's first tick comes after that). The
    delay of a close runs from end + grace to its CANDLE_COMPLETED reaching a bus handler. The
    baseline is the lateness of a bare `loop.call_at` on the same loop in the same run, one per
    minute at second 45 (quiet): the floor an asyncio timer allows on this machine right now.
    """
    loop = asyncio.get_running_loop()
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    clock = ScaledClock(start, speed)
    grace = 2.0
    engine = make_engine(store, EngineOptions(grace_seconds=grace, clock_speed=speed), clock)
    engine._started = True
    delays: list[float] = []
    lateness: list[float] = []

    def on_candle(event: object) -> None:
        candle = event.payload  # type: ignore[attr-defined]
        delays.append(((clock.now() - candle.end).total_seconds() - grace) / speed * 1000.0)

    def bare_timer(when: float) -> None:
        lateness.append((loop.time() - when) * 1000.0)

    def real_time_of(at: datetime) -> float:
        return loop.time() + (at - clock.now()).total_seconds() / speed

    engine.bus.subscribe(EventType.CANDLE_COMPLETED, on_candle)
    async with engine.bus:
        timers = asyncio.ensure_future(engine._timers())
        price = 24_500.0
        for minute in range(minutes):
            when = real_time_of(start + timedelta(minutes=minute, seconds=45))
            loop.call_at(when, bare_timer, when)
            for second in range(5, 31, 5):
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
    return delays, lateness


def percentiles(values: list[float]) -> tuple[float, float]:
    """Return (p50, p99) of values."""
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


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


def cpu_times() -> list[int] | None:
    """Return the machine's CPU time counters (the /proc/stat `cpu` line), or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(field) for field in stat.readline().split()[1:]]
    except OSError:
        return None


def describe_cpu(before: list[int] | None, after: list[int] | None) -> str:
    """Return how busy the machine was between two cpu_times(): busy and stolen (by a hypervisor) shares."""
    if before is None or after is None:
        return "CPU use unknown"
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent) or 1
    idle = spent[3] + spent[4]
    steal = spent[7] if len(spent) > 7 else 0
    return f"CPU busy {100 * (total - idle) / total:.0f}%, stolen {100 * steal / total:.1f}% during the close bench"


def main() -> None:
    """Run the three measurements (or the ones asked for) and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--minutes", type=int, default=200, help="quiet minutes closed by the timer")
    parser.add_argument("--speed", type=float, default=120.0, help="engine clock speed of the close bench")
    parser.add_argument("--only", choices=("rss", "throughput", "close"), action="append",
                        help="run only this part (repeatable)")
    args = parser.parse_args()
    parts = set(args.only or ("rss", "throughput", "close"))
    folder = Path(tempfile.mkdtemp(prefix="slob-bench-"))
    if "rss" in parts:
        with Store.open(folder / "rss.db") as store:
            samples = rss_run(args.ticks, store)
        print("RSS while a session of generated ticks runs (ticks -> MB): "
              + ", ".join(f"{n:,}: {mb:.0f}" for n, mb in samples))
        base, last = samples[0][1], samples[-1][1]
        after_first = samples[1][1]
        print(f"RSS at the end {last:.0f} MB (target < 150 MB); before the first tick {base:.0f} MB; "
              f"growth after the first tenth {last - after_first:+.0f} MB (flat means no leak)")

    if "throughput" in parts:
        ticks = generated_ticks(min(args.ticks, 500_000))
        with Store.open(folder / "throughput.db") as store:
            rate, candles = asyncio.run(throughput(ticks, store))
        print(f"live path (buffer -> aggregator -> bus -> tracker -> store): {rate:,.0f} ticks/s "
              f"({candles:,} candles; target >= 250,000)")
        del ticks  # half a million ticks left alive would make every full collection of the close bench ~0.1 s
        gc.collect()

    if "close" in parts:
        before = cpu_times()
        with Store.open(folder / "delay.db") as store:
            delays, lateness = asyncio.run(close_delays(args.minutes, store, args.speed))
        after = cpu_times()
        p50, p99 = percentiles(delays)
        base50, base99 = percentiles(lateness)
        print(f"candle close beyond the grace, to its CANDLE_COMPLETED on the bus, over {len(delays)} quiet minutes "
              f"(clock x{args.speed:g}): p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(delays):.3f} ms "
              f"(target p50 < 0.5 ms, p99 < 1 ms)")
        print(f"baseline, a bare loop.call_at's lateness on the same loop ({len(lateness)} timers): "
              f"p50 {base50:.3f} ms, p99 {base99:.3f} ms; ratio close/baseline p50 {p50 / base50:.2f}x, "
              f"p99 {p99 / base99:.2f}x")
        print(f"over 1 ms: {sum(d > 1 for d in delays)} closes, {sum(late > 1 for late in lateness)} bare timers; "
              f"load {os.getloadavg()[0]:.2f}; {describe_cpu(before, after)}")


if __name__ == "__main__":
    main()
