"""Benchmark the schema v6 migration (ISO-text instants rebuilt as integer microseconds) on a big v5 store.

Run: python bench/migrate_v6.py [--rows N]

Builds a schema v5 store holding N heartbeats (`health`, one every 8 s: a year is about 4 million)
and N operational events, as v5 wrote them (ISO text), then times
  1. opening it with this slob: the v6 migration rebuilds both tables (and the ten others, small
     here), converting every time, in one transaction,
  2. the baseline: the same two tables copied row for row into new tables without any conversion
     (`CREATE TABLE ... AS SELECT *`), the least a rebuild costs,
and prints both and the ratio 1 / 2 (the price of parsing every time once).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slob_cli.adapters.store import Store, to_iso  # noqa: E402
from slob_cli.adapters.store import db as store_db  # noqa: E402
from slob_cli.adapters.store.schema import SCHEMA_VERSION  # noqa: E402
from tests.sqlfile import sql_file  # noqa: E402

START = datetime(2025, 1, 6, tzinfo=timezone.utc)


def build_v5(path: Path, rows: int) -> None:
    """Write a v5 store with `rows` heartbeats and `rows` events (ISO text times)."""
    store_db.SCHEMA_VERSION = 5  # v5's migrations only
    try:
        Store.open(path).close()
    finally:
        store_db.SCHEMA_VERSION = SCHEMA_VERSION
    with sql_file(path) as conn:
        conn.executemany(
            "INSERT INTO health(run_id, ts, connected, last_tick_age, buffer_utilization, open_orders, positions,"
            " payload) VALUES (1, ?, 1, 0.4, 0.0, 0, 0, '{}')",
            ((to_iso(START + timedelta(seconds=8 * i, microseconds=i % 7)),) for i in range(rows)))
        conn.executemany("INSERT INTO events(run_id, ts, type, symbol, payload) VALUES (1, ?, 'TICKS_DROPPED', 'NQ', '{}')",
                         ((to_iso(START + timedelta(seconds=5 * i)),) for i in range(rows)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        original = Path(folder) / "v5.db"
        build_v5(original, args.rows)
        migrated, copied = Path(folder) / "migrated.db", Path(folder) / "copied.db"
        shutil.copy(original, migrated)
        shutil.copy(original, copied)
        began = time.perf_counter()
        with Store.open(migrated) as store:
            version = store.schema_version()
        migration = time.perf_counter() - began
        began = time.perf_counter()
        with sql_file(copied) as conn:
            conn.execute("CREATE TABLE health_copy AS SELECT * FROM health")
            conn.execute("CREATE TABLE events_copy AS SELECT * FROM events")
        baseline = time.perf_counter() - began
    print(f"{args.rows:,} heartbeats + {args.rows:,} events, v5 -> v{version}")
    print(f"  migration (rebuild 12 tables, convert every time): {migration:8.2f} s")
    print(f"  baseline (copy the two tables, no conversion):     {baseline:8.2f} s")
    print(f"  ratio: {migration / baseline:.1f}x")


if __name__ == "__main__":
    main()
