"""What the candle-version triggers of schema v7 cost the writers of candles.

Run: python bench/candle_versions.py [--candles N] [--repeat R]

On fresh stores, interleaved `--repeat` times, with the triggers (as every v7 store has them) and
without them (the baseline: the same store with its three triggers dropped), times in CPU seconds:
  1. a bulk write of N new candles in one transaction (as `candles aggregate` or an import writes),
  2. 2,000 single-candle upserts that change a value (as a live candle close writes),
  3. 2,000 upserts that change nothing (no version is bumped: the trigger's WHEN clause),
and prints the best of each, per candle, and the ratio with / without.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.adapters.store.rows import CANDLE_INSERT  # noqa: E402

START_US = 1_735_689_600_000_000  # 2025-01-01T00:00:00Z
TRIGGERS = ("candles_inserted", "candles_updated", "candles_deleted")
SINGLE = 2_000


def run_once(path: Path, rows: list[tuple[object, ...]], triggers: bool) -> tuple[float, float, float]:
    """Return CPU seconds of (bulk write, changing upserts, unchanging upserts) on a fresh store."""
    with Store.open(path) as store:
        conn = store._conn  # a bench measures the raw statements the writers use
        if not triggers:
            for name in TRIGGERS:
                conn.execute(f"DROP TRIGGER {name}")
        started = time.process_time()
        with store.transaction() as writing:
            writing.executemany(CANDLE_INSERT, rows)
        bulk = time.process_time() - started
        upsert = CANDLE_INSERT + " ON CONFLICT(symbol, ts) DO UPDATE SET close=excluded.close"
        started = time.process_time()
        for row in rows[:SINGLE]:
            with store.transaction() as writing:
                writing.execute(upsert, (*row[:5], row[5] + 1, *row[6:]))
        changing = time.process_time() - started
        started = time.process_time()
        for row in rows[:SINGLE]:
            with store.transaction() as writing:
                writing.execute(upsert, (*row[:5], row[5] + 1, *row[6:]))
        unchanging = time.process_time() - started
        if triggers:
            assert store.candle_versions("NQ", 0, 10**6), "the triggers kept no version"
    return bulk, changing, unchanging


def main() -> None:
    """Time both kinds of store, interleaved, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [("NQ", START_US + index * 60_000_000, 1.0, 2.0, 0.5, 1.5, 3.0, 4, 0, "bench", None)
            for index in range(args.candles)]
    best: dict[bool, list[float]] = {True: [float("inf")] * 3, False: [float("inf")] * 3}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.repeat):
            for triggers in (True, False):
                figures = run_once(Path(folder) / f"{round_}-{triggers}.db", rows, triggers)
                best[triggers] = [min(old, new) for old, new in zip(best[triggers], figures, strict=True)]
    counts = (args.candles, SINGLE, SINGLE)
    names = ("bulk write of new candles", "upserts that change a value", "upserts that change nothing")
    for index, name in enumerate(names):
        with_, without = best[True][index], best[False][index]
        print(f"{name:28s}: {with_ / counts[index] * 1e6:6.2f} us/candle with triggers, "
              f"{without / counts[index] * 1e6:6.2f} without (best CPU of {args.repeat}; {counts[index]:,} candles)"
              f" -> {with_ / without:.2f}x")


if __name__ == "__main__":
    main()
