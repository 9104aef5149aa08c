"""Benchmark M1 aggregation on the same seeded ticks: streaming, `candles aggregate`, and a pandas baseline.

Run: python bench/aggregate.py [--ticks N] [--seed S] [--keep DB]

Prints ticks/s for
  1. the streaming M1Aggregator fed pre-built Tick objects (target >= 1 M ticks/s on one core),
  2. `slob candles aggregate` from a SQLite ticks table (read, aggregate, upsert),
  3. the obvious baseline: pandas read_sql of the same table + resample('1min') OHLC + volume sum,
  4. the plain SQL baseline: one GROUP BY on the minute in SQLite giving the same rows (open and close
     are the first and last trade by time within the minute), checked equal to the command's candles,
and the ratios 2 / 3 and 2 / 4 (targets >= 1.0: never slower than the obvious ways). The command and
the SQL baseline run interleaved `--repeat` times; best and median (wall and CPU) are printed.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
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
                                          sizes[begin:begin + CHUNK].tolist(), strict=False)
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
            zip(ts.tolist(), prices.tolist(), sizes.tolist(), strict=False),
        )


def bench_command(path: Path) -> tuple[float, float, int]:
    """Time what `slob candles aggregate` does: read the ticks table, aggregate, upsert candles."""
    with Store.open(path) as store:
        started, cpu = time.perf_counter(), time.process_time()
        report = aggregate_candles(store)
        return time.perf_counter() - started, time.process_time() - cpu, report.candles


GROUP_BY = """
WITH minutes AS (
    SELECT ts / 60000000 AS minute, min(ts) AS first_ts, max(ts) AS last_ts, max(price) AS high,
           min(price) AS low, sum(size) AS volume, count(*) AS ticks
    FROM ticks WHERE symbol = 'NQ' GROUP BY minute
)
SELECT minute,
       (SELECT price FROM ticks WHERE symbol = 'NQ' AND ts = first_ts ORDER BY id LIMIT 1),
       high, low,
       (SELECT price FROM ticks WHERE symbol = 'NQ' AND ts = last_ts ORDER BY id DESC LIMIT 1),
       volume, ticks
FROM minutes ORDER BY minute
"""


def bench_group_by(path: Path) -> tuple[float, float, list[tuple]]:
    """Time the plain SQL baseline: one GROUP BY on the minute, first/last price by time."""
    conn = sqlite3.connect(path)
    started, cpu = time.perf_counter(), time.process_time()
    rows = conn.execute(GROUP_BY).fetchall()
    elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return elapsed, cpu_elapsed, rows


def same_rows(path: Path, rows: list[tuple]) -> bool:
    """Return True when the stored candles are exactly the SQL baseline's rows."""
    with Store.open(path) as store:
        candles = store.candles("NQ")
    ours = [(int(c.ts.timestamp()) // 60, c.open, c.high, c.low, c.close, c.volume, c.tick_count) for c in candles]
    return ours == [tuple(row) for row in rows]


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
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of the command and the SQL baseline")
    args = parser.parse_args()

    ts, prices, sizes = seeded_ticks(args.ticks, args.seed)
    print(f"{args.ticks:,} seeded ticks (seed {args.seed}), {len(np.unique(ts // 60_000_000)):,} minutes")

    seconds, candles = bench_streaming(ts, prices, sizes)
    print(f"streaming M1Aggregator.on_tick : {args.ticks / seconds:>12,.0f} ticks/s  ({seconds:.2f} s, {candles:,} candles)")

    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "bench.db"
        fill_store(path, ts, prices, sizes)
        print(f"load: {' '.join(f'{value:.2f}' for value in os.getloadavg())} (1/5/15 min)")
        command, group_by = [], []
        for _ in range(args.repeat):
            seconds, cpu, command_candles = bench_command(path)
            command.append((seconds, cpu))
            seconds, cpu, rows = bench_group_by(path)
            group_by.append((seconds, cpu))
        equal = same_rows(path, rows)
        baseline_seconds, baseline_candles = bench_baseline(path)
    best, median = min(s for s, _ in command), statistics.median(s for s, _ in command)
    best_cpu = min(c for _, c in command)
    sql_best, sql_median = min(s for s, _ in group_by), statistics.median(s for s, _ in group_by)
    sql_best_cpu = min(c for _, c in group_by)
    print(f"candles aggregate (SQLite)     : {args.ticks / best:>12,.0f} ticks/s  "
          f"(best {best:.2f} s, median {median:.2f} s, best CPU {best_cpu:.2f} s; {command_candles:,} candles)")
    print(f"baseline SQL GROUP BY minute   : {args.ticks / sql_best:>12,.0f} ticks/s  "
          f"(best {sql_best:.2f} s, median {sql_median:.2f} s, best CPU {sql_best_cpu:.2f} s; {len(rows):,} rows, "
          f"{'the same rows' if equal else 'DIFFERENT rows'})")
    print(f"baseline read_sql + resample   : {args.ticks / baseline_seconds:>12,.0f} ticks/s  "
          f"({baseline_seconds:.2f} s, {baseline_candles:,} candles)")
    print(f"ratio aggregate / GROUP BY     : {sql_best / best:>12.2f}x best, {sql_median / median:.2f}x median, "
          f"{sql_best_cpu / best_cpu:.2f}x CPU  (target >= 1.0)")
    print(f"ratio aggregate / pandas       : {baseline_seconds / best:>12.2f}x  (target >= 1.0)")


if __name__ == "__main__":
    main()
