"""Backtest one year of generated M1 candles; print candles/s, the ratio to the tracker alone, and peak memory.

Usage: python bench/backtest.py [--year 2026] [--repeat 3]
The year comes from bench/tracker.py's generator (~360 k candles, a planted or generated scenario
every trading day plus overnight bars), written to a temporary store. Three figures, best of
`--repeat`:
  baseline  the setup tracker alone over the candles in memory (what `slob setups track` computes);
  kernel    the backtest kernel (tracker + risk manager + brackets + fills) over the same list;
  store     `run_backtest` reading the candles from SQLite, as `slob backtest` does (target < 5 s),
            run in a fresh child process that reports its peak RSS (target < 150 MB);
  track     `slob setups track` (track_range, store writes included) over the same stored year.
Generation and the store write are not timed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slob_cli.adapters.calendar import load_calendar, load_calendar_isolated  # noqa: E402
from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.backtest import FillModel, run_kernel  # noqa: E402
from slob_cli.core.risk import RiskConfig  # noqa: E402
from slob_cli.core.strategy import StrategyConfig  # noqa: E402

UTC = timezone.utc


def child(db: str, year: int) -> None:
    """Backtest the stored year from SQLite; print seconds, candles, trades and peak RSS as JSON."""
    from slob_cli.runtime.backtest import BacktestSettings, calendar_range, run_backtest

    start, end = date(year, 1, 1), date(year, 12, 31)
    calendar = load_calendar_isolated(*calendar_range(start, end))
    settings = BacktestSettings(StrategyConfig(), RiskConfig(), FillModel())
    now = datetime(year + 1, 1, 2, tzinfo=UTC)
    with Store.open(db, readonly=True) as store:
        started = time.perf_counter()
        report = run_backtest(store, "NQ", start, end, settings, calendar, now)
        seconds = time.perf_counter() - started
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork + exec, so it would report the parent's peak.
    status = Path("/proc/self/status").read_text()
    peak_mb = int(status.split("VmHWM:")[1].split()[0]) / 1024
    print(json.dumps({"seconds": seconds, "candles": report.outcome.candles, "trades": report.stats.trades,
                      "net_pnl": report.stats.net_pnl, "peak_rss_mb": peak_mb}))


def child_track(db: str, year: int) -> None:
    """Time `slob setups track` (runtime/tracking.track_range, store writes included) over the stored year."""
    from slob_cli.runtime.backtest import calendar_range
    from slob_cli.runtime.tracking import track_range

    start, end = date(year, 1, 1), date(year, 12, 31)
    calendar = load_calendar_isolated(*calendar_range(start, end))
    with Store.open(db) as store:
        started = time.perf_counter()
        result = track_range(store, "NQ", start, end, StrategyConfig(), calendar, datetime(year + 1, 1, 2, tzinfo=UTC))
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "candles": result.candles}))


def main() -> None:
    """Generate, store, time the three paths and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-track", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.year)
        return
    if args.child_track:
        child_track(args.child_track, args.year)
        return
    from bench.tracker import generate_year, replay

    started = time.perf_counter()
    candles = generate_year(args.year)
    print(f"generated {len(candles):,} M1 candles for {args.year} in {time.perf_counter() - started:.1f} s")
    calendar = load_calendar(date(args.year, 1, 1) - timedelta(days=14), date(args.year, 12, 31) + timedelta(days=14))
    until = candles[-1].end + timedelta(days=1)
    baseline = min(replay(candles, args.year)[0] for _ in range(args.repeat))
    kernel_times = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        outcome = run_kernel("NQ", candles, until, StrategyConfig(), RiskConfig(), calendar, FillModel())
        kernel_times.append(time.perf_counter() - began)
    kernel = min(kernel_times)
    print(f"baseline (tracker alone, in memory): {baseline:.3f} s -> {len(candles) / baseline:,.0f} candles/s")
    print(f"kernel (tracker + risk + brackets + fills, in memory): {kernel:.3f} s -> "
          f"{len(candles) / kernel:,.0f} candles/s; ratio to baseline {kernel / baseline:.2f}x; "
          f"{len(outcome.trades):,} trades")
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "year.db")
        with Store.open(db) as store:
            store.upsert_candles(candles)
        stored = len(candles)
        del candles
        runs = []
        for _ in range(args.repeat):
            result = subprocess.run([sys.executable, __file__, "--child", db, "--year", str(args.year)],
                                    check=True, capture_output=True, text=True)
            runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
        copy = str(Path(folder) / "track.db")
        shutil.copy(db, copy)
        tracked = subprocess.run([sys.executable, __file__, "--child-track", copy, "--year", str(args.year)],
                                 check=True, capture_output=True, text=True)
        track = json.loads(tracked.stdout.strip().splitlines()[-1])
    best = min(runs, key=lambda run: run["seconds"])
    print(f"store (slob backtest path, SQLite -> kernel): {best['seconds']:.3f} s for the {stored:,} stored candles "
          f"({best['candles']:,} read: reference windows and sessions) -> {stored / best['seconds']:,.0f} candles/s "
          f"(target < 5 s); ratio to baseline {best['seconds'] / baseline:.2f}x; {best['trades']:,} trades, "
          f"net {best['net_pnl']:+,.2f} USD")
    print(f"slob setups track over the same stored year (store writes included): {track['seconds']:.3f} s -> "
          f"backtest / setups track = {best['seconds'] / track['seconds']:.2f}x")
    print(f"peak RSS of the backtest process: {max(run['peak_rss_mb'] for run in runs):.0f} MB (target < 150 MB)")


if __name__ == "__main__":
    main()
