"""Time `slob setups track --json` as a whole command against the in-process tracker on the same days.

Usage: python bench/track_command.py [--year 2025] [--days 250] [--repeat 2] [--db PATH]
bench/tracker.py's generator makes the year's trading days (all in the past), the first `--days`
of them are stored once in a fresh SQLite file (not timed), and one untimed run writes slob's .pyc
files. Then, interleaved `--repeat` times: the in-process tracker over the same candles
(bench/tracker.py's replay), the first `slob setups track --json` in a fresh copy of the store (writes every candidate and event), and a
re-run over the unchanged store (writes nothing), and the first run again with SLOB_TRACK_PROCESSES=1
(one process; by default a helper process computes the later days on a second core). Printed: candles/s of each (best), the command's
share of the in-process rate (target >= 50 %), the first run against the seed's 36-45 k candles/s
(target >= 10x of 45 k), re-run speed-up (target >= 3x), whether all runs print the same bytes,
and the command's peak RSS (target < 120 MB). Wall and CPU seconds are both printed: on a loaded
machine the CPU figures (user + system of the command and its helper) are the steadier ones.
"""

from __future__ import annotations

import argparse
import json
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


# A process forked from this big one would report this one's RSS as its peak (the high-water mark
# survives exec), so a small launcher process starts the command and reports its rusage.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=sys.stdout, stderr=subprocess.PIPE)
_, status, usage = os.wait4(process.pid, 0)
seconds = time.perf_counter() - started
if os.waitstatus_to_exitcode(status):
    sys.exit(process.stderr.read().decode())
print(json.dumps([seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]), file=sys.stderr)
"""


def run_command(db: Path, first: date, last: date, processes: int = 2) -> tuple[float, float, int, bytes]:
    """Run `slob setups track --json` on db; return (seconds, CPU seconds, peak RSS in kB, stdout).

    `processes` is SLOB_TRACK_PROCESSES: 2 (the default) lets a helper process take the later days.
    The CPU seconds count the helper's too (the command reaps it, so its usage is the command's).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "SLOB_TRACK_PROCESSES": str(processes)}
    # An installed package has its .pyc files; with PYTHONDONTWRITEBYTECODE (set in some environments)
    # slob would compile its modules from source on every timed run (see bench/startup.py).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    argv = [sys.executable, "-m", "slob_cli", "--db", str(db), "setups", "track", "--symbol", "NQ",
            "--from", first.isoformat(), "--to", last.isoformat(), "--json"]
    result = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], env=env, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"slob setups track failed: {result.stderr.decode()}")
    seconds, cpu, peak = json.loads(result.stderr.decode().strip().splitlines()[-1])
    return seconds, cpu, peak, result.stdout


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
    warm = Path(folder.name) / "warm.db"  # one untimed run: the file cache and slob's .pyc files
    shutil.copyfile(seeded, warm)
    run_command(warm, days[0] - timedelta(days=1), last_day)
    warm.unlink()
    inprocess, firsts, singles, reruns, peaks, outputs = [], [], [], [], [], set()
    for round_ in range(args.repeat):
        cpu = time.process_time()
        seconds = replay(candles, args.year)[0]
        inprocess.append((seconds, time.process_time() - cpu))
        work = Path(folder.name) / f"run{round_}.db"
        shutil.copyfile(seeded, work)
        *first_times, peak, first_out = run_command(work, days[0] - timedelta(days=1), last_day)
        firsts.append(tuple(first_times))
        peaks.append(peak)
        *again_times, peak, again_out = run_command(work, days[0] - timedelta(days=1), last_day)
        reruns.append(tuple(again_times))
        peaks.append(peak)
        alone = Path(folder.name) / f"alone{round_}.db"
        shutil.copyfile(seeded, alone)
        *single_times, peak, single_out = run_command(alone, days[0] - timedelta(days=1), last_day, processes=1)
        singles.append(tuple(single_times))
        peaks.append(peak)
        outputs |= {first_out, again_out, single_out}
    count = len(candles)
    for label, column in (("wall", 0), ("CPU", 1)):
        best_in = min(run[column] for run in inprocess)
        best_first = min(run[column] for run in firsts)
        best_again = min(run[column] for run in reruns)
        best_single = min(run[column] for run in singles)
        rate_in, rate_first, rate_again = count / best_in, count / best_first, count / best_again
        rate_single = count / best_single
        print(f"[{label}] in-process tracker   : {rate_in:>10,.0f} candles/s (best {best_in:.2f} s)")
        print(f"[{label}] setups track, first  : {rate_first:>10,.0f} candles/s (best {best_first:.2f} s) -> "
              f"{rate_first / rate_in:.0%} of in-process (target >= 50 %), {rate_first / SEED_RATE:.1f}x the "
              f"seed's 45 k (target >= 10x)")
        print(f"[{label}]   the same, 1 process: {rate_single:>10,.0f} candles/s (best {best_single:.2f} s) -> "
              f"{rate_single / rate_in:.0%} of in-process, {rate_single / SEED_RATE:.1f}x the seed's 45 k "
              f"(SLOB_TRACK_PROCESSES=1)")
        print(f"[{label}] setups track, re-run : {rate_again:>10,.0f} candles/s (best {best_again:.2f} s) -> "
              f"{best_first / best_again:.1f}x faster than the first (target >= 3x)")
    print(f"output: {'byte-identical' if len(outputs) == 1 else 'DIFFERENT'} across runs "
          f"({len(next(iter(outputs))):,} bytes); peak RSS {max(peaks) / 1024:.0f} MB (target < 120 MB)")
    folder.cleanup()


if __name__ == "__main__":
    main()
