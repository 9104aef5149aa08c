"""Benchmark the integrity check slob runs on every writable store open and in `status --check`.

Run: python bench/store_check.py [--ticks N] [--keep DB]

Builds a store holding N seeded ticks, then times
  1. `PRAGMA quick_check(1)` (what Store.open and `slob status --check` run),
  2. the baseline: one full scan of the ticks table (`SELECT sum(size) FROM ticks`), the cheapest
     way to read every row once,
and prints both, the file size and the ratio 1 / 2 (quick_check also walks every index, so about
one to a few scans is expected; it is the price of refusing a damaged store before writing to it).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.models import Tick  # noqa: E402
from tests.sqlfile import sql_file

UTC = timezone.utc
START = datetime(2026, 1, 5, tzinfo=UTC)


def build(path: Path, count: int) -> None:
    """Write `count` seeded ticks in batches of 100 000."""
    rng = random.Random(7)
    price = 21000.0
    with Store.open(path) as store:
        for offset in range(0, count, 100_000):
            batch = []
            for index in range(offset, min(count, offset + 100_000)):
                price = max(1.0, price + rng.choice((-0.25, 0.0, 0.25)))
                batch.append(Tick("NQ", START + timedelta(milliseconds=50 * index), price, float(rng.randint(1, 5))))
            store.insert_ticks(batch)


def best_of(repeat: int, work: object) -> float:
    """Return the best wall time of `repeat` runs of work()."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    """Build the store, time both reads, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "check.db"
        build(path, args.ticks)
        with Store.open(path, readonly=True) as store:
            check = best_of(args.repeat, store.integrity_problem)
            with sql_file(store.path) as conn:  # the baseline reads through a connection of its own
                scan = best_of(args.repeat, lambda: conn.execute("SELECT sum(size) FROM ticks").fetchone())
            problem = store.integrity_problem()
        size = path.stat().st_size
    print(f"store: {args.ticks:,} ticks, {size / 1e6:.1f} MB; quick_check: {problem or 'ok'}")
    print(f"quick_check(1):        {check * 1000:8.1f} ms ({size / 1e6 / check:,.0f} MB/s)")
    print(f"baseline full scan:    {scan * 1000:8.1f} ms")
    print(f"ratio check / scan:    {check / scan:8.2f}")


if __name__ == "__main__":
    main()
