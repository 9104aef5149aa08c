"""Benchmark M1 aggregation on the same seeded ticks: streaming, `candles aggregate`, and a pandas baseline.

Run: python bench/aggregate.py [--ticks N] [--seed S] [--keep DB]

Prints ticks/s for
  1. the streaming M1Aggregator fed pre-built Tick objects (target >= 1 M ticks/s on one core),
  2. `slob candles aggregate` from a SQLite ticks table (read, aggregate, upsert),
  3. the obvious baseline: pandas read_sql of the same table + resample('1min') OHLC + volume sum,
and the ratio 2 / 3 (target >= 1.0: never slower than the obvious way).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.aggregator import M1Aggregator  # noqa: E402
from slob_cli.core.models import Tick  # noqa: E402
from slob_cli.runtime.candles import aggregate_candles  # noqa: E402

UTC = timezone.utc
START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
CHUNK = 1_000_000


def seeded_ticks(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (ts in UTC microseconds, price, size) for `count` trades over about 5 days, in time order."""
    rng = np.random.default_rng(seed)
    span_us = 5 * 24 * 3600 * 1_000_000
    ts = START.timestamp() * 1_000_000 + np.sort(rng.integers(0, span_us, count))
    prices = 21_000.0 + np.cumsum(rng.choice([-0.25, 0.0, 0.25], size=count, p=[0.3, 0.4, 0.3]))
    sizes = rng.geometric(0.55, size=count).astype(np.float64)
    return ts.astype(np.int64), prices, sizes


def bench_streaming(ts: np.ndarray, prices: np.ndarray, sizes: np.ndarray) -> tuple[float, int]:
    """Time on_tick over pre-built Tick objects (built in chunks outside the timer); return (s, candles)."""
    aggregator = M1Aggregator(["NQ"])
    elapsed = 0.0
    for begin in range(0, len(ts), CHUNK):
        chunk = [
            Tick("NQ", START + timedelta(microseconds=int(stamp) - int(START.timestamp() * 1_000_000)), price, size)
            for stamp, price, size in zip(ts[begin:begin + CHUNK].tolist(), prices[begin:begin + CHUNK].tolist(),
                                          sizes[begin:begin + CHUNK].tolist())
        ]
        on_tick = aggregator.on_tick
        started = time.perf_counter()
        for tick in chunk:
            on_tick(tick)
        elapsed += time.perf_counter() - started
        del chunk
    started = time.perf_counter()
    aggregator.force_complete_all()
    elapsed += time.perf_counter() - started
    return elapsed, int(aggregator.get_stats()["candles_completed"])  # type: ignore[call-overload]


def fill_store(path: Path, ts: np.ndarray, prices: np.ndarray, sizes: np.ndarray) -> None:
    """Write the ticks into a fresh store's ticks table (not timed)."""
    with Store.open(path) as store, store.transaction() as conn:
        conn.executemany(
            "INSERT INTO ticks(symbol, ts, price, size) VALUES ('NQ', ?, ?, ?)",
            zip(ts.tolist(), prices.tolist(), sizes.tolist()),
        )


def bench_command(path: Path) -> tuple[float, int]:
    """Time what `slob candles aggregate` does: read the ticks table, aggregate, upsert candles."""
    with Store.open(path) as store:
        started = time.perf_counter()
        report = aggregate_candles(store)
        return time.perf_counter() - started, report.candles


def bench_baseline(path: Path) -> tuple[float, int]:
    """Time pandas read_sql of the same table + resample('1min') OHLC and volume."""
    import sqlite3

    import pandas as pd

    conn = sqlite3.connect(path)
    started = time.perf_counter()
    frame = pd.read_sql("SELECT ts, price, size FROM ticks WHERE symbol = 'NQ' ORDER BY id", conn)
    frame.index = pd.to_datetime(frame.pop("ts"), unit="us", utc=True)
    bars = frame["price"].resample("1min").ohlc()
    bars["volume"] = frame["size"].resample("1min").sum()
    bars = bars.dropna()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, len(bars)


def main() -> None:
    """Parse arguments, run the three measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=5_000_000, help="number of seeded ticks (default 5,000,000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="keep the SQLite file at this path")
    args = parser.parse_args()

    ts, prices, sizes = seeded_ticks(args.ticks, args.seed)
    print(f"{args.ticks:,} seeded ticks (seed {args.seed}), {len(np.unique(ts // 60_000_000)):,} minutes")

    seconds, candles = bench_streaming(ts, prices, sizes)
    print(f"streaming M1Aggregator.on_tick : {args.ticks / seconds:>12,.0f} ticks/s  ({seconds:.2f} s, {candles:,} candles)")

    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "bench.db"
        fill_store(path, ts, prices, sizes)
        command_seconds, command_candles = bench_command(path)
        baseline_seconds, baseline_candles = bench_baseline(path)
    print(f"candles aggregate (SQLite)     : {args.ticks / command_seconds:>12,.0f} ticks/s  "
          f"({command_seconds:.2f} s, {command_candles:,} candles)")
    print(f"baseline read_sql + resample   : {args.ticks / baseline_seconds:>12,.0f} ticks/s  "
          f"({baseline_seconds:.2f} s, {baseline_candles:,} candles)")
    print(f"ratio aggregate / baseline     : {baseline_seconds / command_seconds:>12.2f}x  (target >= 1.0)")


if __name__ == "__main__":
    main()
