"""Time `slob setups track --json` as a whole command against the in-process tracker on the same days.

Usage: python bench/track_command.py [--year 2025] [--days 250] [--repeat 2] [--db PATH]
bench/tracker.py's generator makes the year's trading days (all in the past), the first `--days`
of them are stored once in a fresh SQLite file (not timed). Then, interleaved `--repeat` times:
the in-process tracker over the same candles (bench/tracker.py's replay), the first
`slob setups track --json` in a fresh copy of the store (writes every candidate and event), and a
re-run over the unchanged store (writes nothing). Printed: candles/s of each (best), the command's
share of the in-process rate (target >= 50 %), the first run against the seed's 36-45 k candles/s
(target >= 10x of 45 k), re-run speed-up (target >= 3x), whether both runs print the same bytes,
and the command's peak RSS (target < 120 MB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tracker import generate_year, replay  # noqa: E402  (bench/tracker.py)

from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.sessions import trading_date_of  # noqa: E402

SEED_RATE = 45_000  # the seed's `setups track` over such days: 36-45 k candles/s (issue 15)


def run_command(db: Path, first: date, last: date) -> tuple[float, int, bytes]:
    """Run `slob setups track --json` on db; return (seconds, peak RSS in kB, stdout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    argv = [sys.executable, "-m", "slob_cli", "--db", str(db), "setups", "track", "--symbol", "NQ",
            "--from", first.isoformat(), "--to", last.isoformat(), "--json"]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"slob setups track failed ({process.returncode}): {process.stderr.read().decode()}")
        out.seek(0)
        return seconds, usage.ru_maxrss, out.read()


def main() -> None:
    """Store the days, run everything interleaved, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--db", type=Path, default=None, help="keep the seeded store here")
    args = parser.parse_args()
    candles = generate_year(args.year)
    days = sorted({trading_date_of(candle.ts) for candle in candles})[: args.days]
    last_day = days[-1]
    candles = [candle for candle in candles if trading_date_of(candle.ts) <= last_day]
    folder = tempfile.TemporaryDirectory()
    seeded = args.db or Path(folder.name) / "seeded.db"
    with Store.open(seeded) as store:
        store.upsert_candles(candles)
    print(f"{len(candles):,} M1 candles over {len(days)} trading days {days[0]} .. {last_day}")
    print(f"load: {' '.join(f'{value:.2f}' for value in os.getloadavg())} (1/5/15 min)")
    inprocess, firsts, reruns, peaks, outputs = [], [], [], [], set()
    for round_ in range(args.repeat):
        inprocess.append(replay(candles, args.year)[0])
        work = Path(folder.name) / f"run{round_}.db"
        shutil.copyfile(seeded, work)
        seconds, peak, first_out = run_command(work, days[0] - timedelta(days=1), last_day)
        firsts.append(seconds)
        peaks.append(peak)
        seconds, peak, again_out = run_command(work, days[0] - timedelta(days=1), last_day)
        reruns.append(seconds)
        peaks.append(peak)
        outputs |= {first_out, again_out}
    count = len(candles)
    rate_in, rate_first, rate_again = count / min(inprocess), count / min(firsts), count / min(reruns)
    print(f"in-process tracker        : {rate_in:>10,.0f} candles/s (best {min(inprocess):.2f} s)")
    print(f"setups track, first run   : {rate_first:>10,.0f} candles/s (best {min(firsts):.2f} s) -> "
          f"{rate_first / rate_in:.0%} of in-process (target >= 50 %), {rate_first / SEED_RATE:.1f}x the seed's "
          f"45 k (target >= 10x)")
    print(f"setups track, re-run      : {rate_again:>10,.0f} candles/s (best {min(reruns):.2f} s) -> "
          f"{min(firsts) / min(reruns):.1f}x faster than the first (target >= 3x)")
    print(f"output: {'byte-identical' if len(outputs) == 1 else 'DIFFERENT'} across runs "
          f"({len(next(iter(outputs))):,} bytes); peak RSS {max(peaks) / 1024:.0f} MB (target < 120 MB)")
    folder.cleanup()


if __name__ == "__main__":
    main()
