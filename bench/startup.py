"""Time slob's start-up against sqlite-utils' on the same machine, interleaved; print the ratios.

Usage: python bench/startup.py [--repeat 7]
Pairs (subject vs baseline, each a fresh process): `slob --help` and `slob --version` vs
`sqlite-utils --help`; `slob status --json` vs `sqlite-utils tables` on the same store (a fresh
slob store). The baseline is sqlite-utils with pandas blocked (click + numpy: the fastest it starts);
the first pair also shows sqlite-utils as installed, which imports pandas. Runs alternate subject and
baseline, after one warm-up run of each (which also writes slob's .pyc files, as an installed package
has them); the best and the median of `--repeat` runs of each are printed with subject/baseline
ratios. Targets (issue 15): help and version <= 1.2x, status <= 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from slob_cli.adapters.store import Store  # noqa: E402

BIN = Path(sys.executable).parent


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


# sqlite-utils as installed imports pandas when it is present (it is: slob needs it), which makes it a
# slow baseline; the lean one blocks pandas the way slob's store does, leaving click and numpy.
LEAN = "import sys; sys.modules['pandas'] = None; sys.argv[0] = 'sqlite-utils'; from sqlite_utils.cli import cli; cli()"


def _sqlite_utils(lean: bool = True) -> list[str]:
    if lean:
        return [sys.executable, "-c", LEAN]
    script = BIN / "sqlite-utils"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sqlite_utils"]


def main() -> None:
    """Run every pair interleaved and print best, median and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    # An installed package has its .pyc files (sqlite-utils has); with PYTHONDONTWRITEBYTECODE slob's
    # sources would be compiled on every run instead, so the warm-up run writes them here as well.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    slob = [sys.executable, "-m", "slob_cli"]
    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "store.db")
        Store.open(db).close()
        pairs = {
            "slob --help vs sqlite-utils --help (as installed)": (
                [*slob, "--help"], [*_sqlite_utils(lean=False), "--help"], 1.2),
            "slob --help vs sqlite-utils --help": ([*slob, "--help"], [*_sqlite_utils(), "--help"], 1.2),
            "slob --version vs sqlite-utils --help": ([*slob, "--version"], [*_sqlite_utils(), "--help"], 1.2),
            "slob status --json vs sqlite-utils tables": (
                [*slob, "--db", db, "status", "--json"], [*_sqlite_utils(), "tables", db], 1.5),
        }
        for subject, baseline, _ in pairs.values():  # warm the file cache and .pyc files once
            _timed(subject, env)
            _timed(baseline, env)
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")
        for label, (subject, baseline, target) in pairs.items():
            ours, theirs = [], []
            for _ in range(args.repeat):
                ours.append(_timed(subject, env))
                theirs.append(_timed(baseline, env))
            best = min(ours) / min(theirs)
            median = statistics.median(ours) / statistics.median(theirs)
            verdict = "ok" if median <= target else "OVER"
            print(f"{label}: best {min(ours) * 1000:.0f} vs {min(theirs) * 1000:.0f} ms ({best:.2f}x), "
                  f"median {statistics.median(ours) * 1000:.0f} vs {statistics.median(theirs) * 1000:.0f} ms "
                  f"({median:.2f}x; target <= {target}x: {verdict})")


if __name__ == "__main__":
    main()
