"""Print the ticks/s the simulated gateway delivers to ib_async over loopback, and connect-to-synced time.

The gateway runs as `slob sim-gateway --speed max` in its own process (as a user would run it);
the real ib_async client connects over 127.0.0.1. Targets: >= 50k ticks/s, connect < 100 ms.

    python bench/gateway.py [--seconds 5] [--connects 20] [--start 2026-03-10T13:30Z]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ib_async import IB, ContFuture, Ticker  # noqa: E402


def start_gateway(start: str, seed: int) -> tuple[subprocess.Popen[str], int]:
    """Start `slob sim-gateway` at max speed on a free port and return (process, port)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--log-level", "WARNING", "sim-gateway", "--port", "0",
         "--start", start, "--speed", "max", "--seed", str(seed)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if match is None:
        process.kill()
        raise SystemExit(f"the gateway did not start: {line!r}")
    return process, int(match.group(1))


async def connect_times(port: int, count: int) -> list[float]:
    """Return seconds from TCP connect to 'Synchronization complete' for count fresh clients."""
    times: list[float] = []
    for client_id in range(100, 100 + count):
        ib = IB()
        started = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=5)
        times.append(time.perf_counter() - started)
        ib.disconnect()
        await asyncio.sleep(0.01)  # let the gateway see the close before the next client id
    return times


async def tick_rate(port: int, seconds: float) -> tuple[int, float]:
    """Return (ticks, elapsed) of tick-by-tick AllLast delivered to one ib_async client."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=5)
    [contract] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    count = 0
    first: float | None = None

    def on_update(ticker: Ticker) -> None:
        nonlocal count, first
        if first is None:
            first = time.perf_counter()
        count += len(ticker.tickByTicks)

    ticker = ib.reqTickByTickData(contract, "AllLast")
    ticker.updateEvent += on_update
    while first is None:  # noqa: ASYNC110 - set by an ib_async event handler, polled cheaply
        await asyncio.sleep(0.01)
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - first
    ticks = count
    ib.cancelTickByTickData(contract, "AllLast")
    ib.disconnect()
    return ticks, elapsed


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="How long to stream ticks.")
    parser.add_argument("--connects", type=int, default=20, help="How many connects to time.")
    parser.add_argument("--start", default="2026-03-10T13:30Z", help="Market start (a busy New York open).")
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    process, port = start_gateway(options.start, options.seed)
    try:
        connects = asyncio.run(connect_times(port, options.connects))
        ticks, elapsed = asyncio.run(tick_rate(port, options.seconds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    connects_ms = sorted(t * 1000 for t in connects)
    rate = ticks / elapsed
    print(f"connect-to-synced: median {statistics.median(connects_ms):.1f} ms, "
          f"p95 {connects_ms[int(0.95 * (len(connects_ms) - 1))]:.1f} ms, max {connects_ms[-1]:.1f} ms "
          f"over {len(connects_ms)} connects (target < 100 ms)")
    print(f"tick-by-tick AllLast to ib_async: {ticks:,} ticks in {elapsed:.2f} s = {rate:,.0f} ticks/s "
          f"(target >= 50,000)")


if __name__ == "__main__":
    main()
