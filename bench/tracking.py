"""Time `slob setups track` work on one year of stored M1 candles: replay with persistence, re-run, restore.

Usage: python bench/tracking.py [--year 2026] [--db PATH]
The year is bench/tracker.py's generated year (about 350 k candles), stored once (not timed) in a
fresh SQLite file. Printed: the first track (writes every candidate and event), the second track
over the same candles (writes nothing), a restore of one day at its last candle, and file size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tracker import generate_year  # noqa: E402  (bench/tracker.py)

from slob_cli.adapters.calendar import load_calendar  # noqa: E402
from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.strategy import StrategyConfig  # noqa: E402
from slob_cli.runtime.tracking import LiveTracking, track_range  # noqa: E402
from tests.sqlfile import sql_rows

UTC = timezone.utc


def main() -> None:
    """Store a year, track it twice, restore one day, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--db", type=Path, default=None, help="store file (default: a temporary one)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "bench.db"
    candles = generate_year(args.year)
    with Store.open(path) as store:
        store.upsert_candles(candles)
        first_day, last_day = date(args.year, 1, 1), date(args.year, 12, 31)
        calendar = load_calendar(first_day - timedelta(days=14), last_day + timedelta(days=14))
        config = StrategyConfig()
        now = datetime(args.year + 1, 1, 2, tzinfo=UTC)
        print(f"stored {len(candles):,} M1 candles of {args.year}")
        for label in ("first track (writes everything)", "second track (same candles)"):
            started = time.perf_counter()
            result = track_range(store, "NQ", first_day, last_day, config, calendar, now)
            seconds = time.perf_counter() - started
            print(f"{label}: {seconds:.2f} s -> {result.candles / seconds:,.0f} candles/s; "
                  f"{len(result.candidates):,} candidates, {result.new_events:,} new events, "
                  f"{result.changed_setups:,} candidates written")
        busiest = sql_rows(store.path,
            "SELECT trading_date, count(*) FROM setup_events GROUP BY trading_date ORDER BY 2 DESC LIMIT 1"
        )[0]
        day = date.fromisoformat(busiest[0])
        live = LiveTracking(store, "NQ", config, calendar)
        started = time.perf_counter()
        report = live.restore(datetime(day.year, day.month, day.day, 20, 59, tzinfo=UTC))
        print(f"restore of {day} ({busiest[1]} stored events): {(time.perf_counter() - started) * 1000:.1f} ms, "
              f"{report.replayed_candles} candles and {report.replayed_events} events replayed")
        size = sum(part.stat().st_size for part in path.parent.glob(path.name + "*"))
        rows = sql_rows(store.path, "SELECT (SELECT count(*) FROM setups), (SELECT count(*) FROM setup_events)")[0]
        print(f"store: {rows[0]:,} setups, {rows[1]:,} setup events, {size / 1e6:.1f} MB with candles")
    folder.cleanup()


if __name__ == "__main__":
    main()
