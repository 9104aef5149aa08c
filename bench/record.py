"""Bench: ticks/s that `slob record` persists end to end (simulated gateway -> ib_async -> SQLite), against
what the same simulated gateway delivers to a bare ib_async client in the same run, and the delay from
a tick's arrival to its row being committed.

Each round starts a fresh simulated gateway at max clock speed (so the market produces ticks as fast
as the wire allows) twice, each in its own process, at the same market moment:
- the baseline: a bare ib_async client in its own process, counting tick-by-tick AllLast ticks from
  the first one for `--seconds`, once as it comes and once with slob's 32 KiB socket reads (ib_async
  re-slices its buffer per message, so large reads cost it; adapters/ib/config.py). The faster of
  the two is the baseline;
- `slob record` as a user runs it (`python -m slob_cli record` in its own process). The bench watches
  the store read-only and counts rows committed between the first and the last commit it sees inside
  the window, then stops the recorder with SIGTERM and checks its exit code and its stats.
Rounds alternate (bare, bare with small reads, slob, ...) so load from other jobs hits both alike; the ratio is
of the medians. Target (issue 15): slob >= 80 % of the bare client. The client processes' CPU time per
tick (every thread, so slob's writer thread too) is printed alongside: it moves less with load.

A last in-process run at a paced clock (below saturation) gives the arrival -> commit delays.

Every process of the bench runs the slob_cli of the tree this file is in (`python -m`/`-c` put the
working directory first on sys.path, so a bench started from another tree measured that tree's code).

    python bench/record.py [--seconds 10] [--rounds 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[1]  # the tree whose slob_cli is measured
sys.path.insert(0, str(ROOT))
GATEWAY = """
import signal, sys, threading
from slob_cli.sim.gateway import SimGatewayThread
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
with SimGatewayThread(seed=int(sys.argv[1]), speed=sys.argv[3], start=sys.argv[2]) as gateway:
    print(gateway.port, flush=True)
    stop.wait()
"""
BARE_CLIENT = """
import asyncio, sys, time
from ib_async import IB, ContFuture

async def main(port: int, seconds: float) -> None:
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=8, timeout=10)
    if sys.argv[3] == "small-reads":  # slob's read size (adapters/ib/config.py limit_reads)
        ib.client.conn.transport.max_size = 32 * 1024
    [contract] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    count, first, cpu = 0, 0.0, 0.0
    done = asyncio.Event()

    def on_update(ticker):
        nonlocal count, first, cpu
        now = time.perf_counter()
        if not first:
            first, cpu = now, time.process_time()
        count += len(ticker.tickByTicks)
        if now - first >= seconds:
            done.set()

    ticker = ib.reqTickByTickData(contract, "AllLast")
    ticker.updateEvent += on_update
    await asyncio.wait_for(done.wait(), seconds + 30)
    print(count, time.perf_counter() - first, time.process_time() - cpu, flush=True)
    ib.disconnect()

asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
"""


def _env() -> dict[str, str]:
    """Return the environment of the bench's processes: this tree first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(part for part in (str(ROOT), env.get("PYTHONPATH")) if part)
    return env


def start_gateway(seed: int, start: str, speed: str) -> tuple[subprocess.Popen[str], int]:
    """Start the simulated gateway in a child process; return it and its port."""
    process = subprocess.Popen([sys.executable, "-c", GATEWAY, str(seed), start, speed], stdout=subprocess.PIPE,
                               text=True, env=_env(), cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"simulated gateway did not start: {line!r}")
    return process, int(line)


def bare_rate(port: int, seconds: float, reads: str) -> tuple[float, float]:
    """Return ticks/s a bare ib_async client (its own process) receives from the first tick on, and its CPU us/tick."""
    result = subprocess.run([sys.executable, "-c", BARE_CLIENT, str(port), str(seconds), reads], capture_output=True,
                            text=True, timeout=seconds + 60, env=_env(), cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"bare client failed: {result.stderr.strip().splitlines()[-1:]}")
    ticks, elapsed, cpu = result.stdout.split()
    return int(ticks) / float(elapsed), 1e6 * float(cpu) / int(ticks)


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds of a process so far (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _committed(db: Path) -> int | None:
    """Return the highest tick id committed so far (ids of a fresh store count rows), or None before the table."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT max(id) FROM ticks").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0] or 0)


def slob_rate(port: int, seconds: float, folder: Path) -> tuple[float, float, dict[str, object]]:
    """Run `slob record` (its own process); return ticks/s committed between commits seen in the window, its CPU
    us/tick over that window (all threads), and its stats."""
    db = folder / "record.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db), "--log-level", "WARNING", "record", "--port", str(port),
         "--client-id", "7", "--no-warm-up", "--symbols", "NQ"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    try:
        first: tuple[float, int, float] | None = None
        last: tuple[float, int, float] | None = None
        give_up = time.perf_counter() + 60
        while process.poll() is None and time.perf_counter() < give_up:
            time.sleep(0.01)
            count = _committed(db)
            now = time.perf_counter()
            if not count or (last is not None and count == last[1]):
                continue
            last = (now, count, _cpu_seconds(process.pid))
            if first is None:
                first = last
            if now - first[0] >= seconds:
                break
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode != 0 or first is None or last is None or last[0] <= first[0]:
        raise SystemExit(f"slob record failed (exit {process.returncode}): {stderr.strip()[-400:]}")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        stats = json.loads(conn.execute("SELECT stats FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    ticks = last[1] - first[1]
    return ticks / (last[0] - first[0]), 1e6 * (last[2] - first[2]) / ticks, stats


async def paced_delays(port: int, db: Path, seconds: float) -> dict[str, float]:
    """Record in process with latency measurement on; return stored ticks/s and the arrival -> commit delays."""
    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.adapters.store import Store
    from slob_cli.runtime.recorder import Recorder, RecorderOptions

    with Store.open(db) as store:
        run_id = store.start_run("record", {"bench": True}, datetime.now(UTC))
        options = RecorderOptions(symbols=["NQ"], warm_up=False, measure_latency=True, stale_after=3600,
                                  until=datetime.now(UTC) + timedelta(seconds=seconds))
        recorder = Recorder(store, GatewayConfig(port=port, client_id=7, sync_orders=False), options, run_id=run_id)
        started = time.perf_counter()
        stats = await recorder.run()
        elapsed = time.perf_counter() - started
        stored = store.tick_count()
    latencies = sorted(recorder.latencies)
    return {
        "ticks_per_second": stored / elapsed, "dropped": stats["dropped"],
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    }


def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="window measured in each run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved bare/slob rounds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2026-03-10T13:30Z", help="simulated market start (UTC)")
    parser.add_argument("--paced-speed", default="2000",
                        help="clock speed of the last, paced run (below saturation) for the delay figures; 0: skip")
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"bare": [], "bare-small-reads": [], "slob": []}
    cpu: dict[str, list[float]] = {label: [] for label in runs}
    for round_number in range(1, args.rounds + 1):
        for label, rates in runs.items():
            gateway, port = start_gateway(args.seed, args.start, "max")
            try:
                if label == "slob":
                    with tempfile.TemporaryDirectory() as folder:
                        rate, per_tick, stats = slob_rate(port, args.seconds, Path(folder))
                    if stats.get("dropped"):
                        print(f"  round {round_number}: slob record dropped {stats['dropped']:,} ticks")
                else:
                    rate, per_tick = bare_rate(port, args.seconds,
                                               "small-reads" if label.endswith("small-reads") else "default")
                rates.append(rate)
                cpu[label].append(per_tick)
            finally:
                gateway.terminate()
                gateway.wait(10)
        print(f"round {round_number}: bare ib_async {runs['bare'][-1]:,.0f} ticks/s, with slob's read size "
              f"{runs['bare-small-reads'][-1]:,.0f}, slob record {runs['slob'][-1]:,.0f}", flush=True)
    median = {label: statistics.median(rates) for label, rates in runs.items()}
    cpu_median = {label: statistics.median(values) for label, values in cpu.items()}
    baseline = max(median["bare"], median["bare-small-reads"])
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"record bench ({ROOT}), flood (clock at max speed), {args.rounds} interleaved rounds of {args.seconds:g} s;"
          f" load average now {load}:")
    for label, text in (("bare", "bare ib_async client, default reads:      "),
                        ("bare-small-reads", "bare ib_async client, slob's 32 KiB reads:"),
                        ("slob", "slob record, rows committed to SQLite:    ")):
        print(f"  {text} median {median[label]:7,.0f} ticks/s, best {max(runs[label]):7,.0f};"
              f" client CPU {cpu_median[label]:5.1f} us/tick")
    print(f"  slob / the faster bare client (medians): {median['slob'] / baseline:.2f} x (target >= 0.80); "
          f"CPU per tick {cpu_median['slob'] / cpu_median['bare-small-reads']:.2f} x the small-read client's")
    if args.paced_speed != "0":
        gateway, port = start_gateway(args.seed, args.start, args.paced_speed)
        try:
            with tempfile.TemporaryDirectory() as folder:
                figures = asyncio.run(paced_delays(port, Path(folder) / "paced.db", args.seconds))
        finally:
            gateway.terminate()
            gateway.wait(10)
        print(f"paced (clock x{args.paced_speed}), in process: {figures['ticks_per_second']:,.0f} ticks/s stored, "
              f"dropped {figures['dropped']:,}; arrival -> commit delay p50 {figures['p50_ms']:.1f} ms, "
              f"p99 {figures['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
