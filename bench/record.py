"""Bench: ticks/s that `slob record` persists end to end from the simulated gateway, and the p99 delay
from a tick's arrival to its row being committed.

The simulated gateway runs in its own process at max clock speed (so the market produces ticks as
fast as the wire allows); the recorder runs here with the real ib_async client and a real SQLite
file. Target: >= 20,000 ticks/s sustained with the buffer never dropping.

    python bench/record.py [--seconds 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
GATEWAY = """
import signal, sys, threading
from slob_cli.sim.gateway import SimGatewayThread
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
with SimGatewayThread(seed=int(sys.argv[1]), speed=sys.argv[3], start=sys.argv[2]) as gateway:
    print(gateway.port, flush=True)
    stop.wait()
"""


def start_gateway(seed: int, start: str, speed: str) -> tuple[subprocess.Popen[str], int]:
    """Start the simulated gateway in a child process; return it and its port."""
    process = subprocess.Popen([sys.executable, "-c", GATEWAY, str(seed), start, speed], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"simulated gateway did not start: {line!r}")
    return process, int(line)


async def record(port: int, db: Path, seconds: float) -> dict[str, float]:
    """Record for `seconds` and return the figures."""
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
    p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan")
    return {
        "seconds": elapsed, "stored": stored, "ticks_per_second": stored / elapsed,
        "dropped": stats["dropped"], "received": stats["ticks_received"],
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"), "p99_ms": 1000 * p99,
    }


def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2026-03-10T13:30Z", help="simulated market start (UTC)")
    parser.add_argument("--paced-speed", default="2000",
                        help="clock speed of the second, paced run (below saturation) for the delay figures")
    args = parser.parse_args()
    for label, speed in (("flood (clock at max speed)", "max"), (f"paced (clock x{args.paced_speed})", args.paced_speed)):
        gateway, port = start_gateway(args.seed, args.start, speed)
        try:
            with tempfile.TemporaryDirectory() as folder:
                figures = asyncio.run(record(port, Path(folder) / "bench.db", args.seconds))
        finally:
            gateway.terminate()
            gateway.wait(10)
        print(f"record bench, {label}: {figures['stored']:,} ticks stored in {figures['seconds']:.1f} s "
              f"= {figures['ticks_per_second']:,.0f} ticks/s (target >= 20,000)")
        print(f"  received {figures['received']:,}, dropped {figures['dropped']:,}")
        print(f"  arrival -> commit delay: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")


if __name__ == "__main__":
    main()
