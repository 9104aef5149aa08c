"""Time `slob candles export` (csv and jsonl) as a whole command against the pandas way of writing the same file.

Usage: python bench/export.py [--candles 500000] [--repeat 3] [--formats csv,jsonl]
A fresh store gets `--candles` M1 candles of NQ (seeded walk, not timed). Then for each format,
interleaved `--repeat` times, each in its own process: `slob candles export --format FMT -o FILE`
(rows streamed from SQLite, no pandas), and the baseline: pandas `read_sql_query` + `to_csv`, or
`to_json(orient="records", lines=True)`, of the same table with the same time text (what the export
did before). Printed: candles/s of each (best), the ratio, peak RSS of each, and whether both files
are byte-identical (the seeded prices are quarter ticks, so the jsonl files agree too; pandas rounds
other floats to 10 digits, the stream does not).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.models import Candle  # noqa: E402

# A process forked from this one would report this one's RSS as its peak: a small launcher starts each run.
LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(process.pid, 0)
if os.waitstatus_to_exitcode(status):
    sys.exit(process.stderr.read().decode())
print(json.dumps([time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]))
"""

PANDAS = """
import sqlite3, sys
import pandas as pd
sys.path.insert(0, sys.argv[3])
from slob_cli.adapters.files import render_times
conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
frame = pd.read_sql_query("SELECT symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks FROM candles"
                          " ORDER BY symbol, ts", conn)
columns = ["open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]
table = pd.DataFrame({"timestamp": render_times(frame["ts"], None), "symbol": frame["symbol"],
                      **{c: frame[c] for c in columns}})
if sys.argv[4] == "csv":
    table.to_csv(sys.argv[2], index=False, lineterminator="\\n")
else:
    with open(sys.argv[2], "w", encoding="utf-8", newline="") as stream:
        stream.write(table.to_json(orient="records", lines=True).rstrip("\\n") + "\\n")
"""


def timed(argv: list[str]) -> tuple[float, float, int]:
    """Run argv in its own process; return (seconds, CPU seconds, peak RSS in kB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files (see bench/startup.py)
    result = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {result.stderr}")
    seconds, cpu, peak = json.loads(result.stdout)
    return seconds, cpu, peak


def compare(db: Path, folder: Path, fmt: str, candles: int, repeat: int) -> None:
    """Run `slob candles export --format fmt` and its pandas baseline interleaved; print the figures."""
    ours, theirs = folder / f"slob.{fmt}", folder / f"pandas.{fmt}"
    slob = [sys.executable, "-m", "slob_cli", "--db", str(db), "candles", "export", "--format", fmt, "-o", str(ours)]
    pandas = [sys.executable, "-c", PANDAS, str(db), str(theirs), str(ROOT), fmt]
    timed(slob)  # warm-up: the file cache and .pyc files
    runs: dict[str, list[tuple[float, float, int]]] = {"slob": [], "pandas": []}
    for _ in range(repeat):
        runs["slob"].append(timed(slob))
        runs["pandas"].append(timed(pandas))
    best = {name: (min(r[0] for r in rows), min(r[1] for r in rows), max(r[2] for r in rows))
            for name, rows in runs.items()}
    baseline = "to_csv" if fmt == "csv" else "to_json"
    for name, label in (("slob", f"slob candles export --format {fmt}"),
                        ("pandas", f"pandas read_sql + {baseline}")):
        seconds, cpu, peak = best[name]
        print(f"{label:<36}: {candles / seconds:>10,.0f} candles/s (best {seconds:.2f} s wall, "
              f"{cpu:.2f} s CPU), peak RSS {peak / 1024:.0f} MB")
    print(f"{fmt} ratio slob / pandas: {best['pandas'][0] / best['slob'][0]:.2f}x wall, "
          f"{best['pandas'][1] / best['slob'][1]:.2f}x CPU; peak RSS {best['slob'][2] / best['pandas'][2]:.2f}x; "
          f"files {'byte-identical' if ours.read_bytes() == theirs.read_bytes() else 'DIFFERENT'}")


def main() -> None:
    """Seed the store, run both ways interleaved, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="csv,jsonl")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    db = Path(folder.name) / "store.db"
    rng = random.Random(5)
    start, price = datetime(2024, 1, 2, tzinfo=timezone.utc), 17000.0
    candles = []
    for minute in range(args.candles):
        step = round(rng.gauss(0, 8) * 4) / 4
        high, low = price + abs(step) + 0.25, price - abs(step) - 0.25
        candles.append(Candle("NQ", start + timedelta(minutes=minute), price, high, low, price + step,
                              float(rng.randrange(1, 400)), rng.randrange(1, 200)))
        price += step
    with Store.open(db) as store:
        store.upsert_candles(candles)
    print(f"{args.candles:,} candles stored; load: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15 min)")
    for fmt in args.formats.split(","):
        compare(db, Path(folder.name), fmt, args.candles, args.repeat)
    folder.cleanup()


if __name__ == "__main__":
    main()
