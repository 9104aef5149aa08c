"""Print the ticks/s the simulated gateway delivers to ib_async and to IB's official client, and how many
clients it serves at once with a startup sync under 100 ms.

The gateway runs as `slob sim-gateway --speed max` in its own process (as a user would run it);
the clients connect over 127.0.0.1. Baselines from the same run: a bare socket reader that only
counts tick-by-tick frames (what the gateway can push at all), and one client's connect time.
Targets: >= 50k ticks/s, connect < 100 ms.

    python bench/gateway.py [--seconds 5] [--connects 20] [--max-clients 64] [--start 2026-03-10T13:30Z]
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


def raw_tick_rate(port: int, seconds: float) -> tuple[int, float]:
    """Return (ticks, elapsed) a bare socket reader receives: frames counted, nothing decoded (the baseline)."""
    import socket
    import struct

    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    offer = b"v157..178"
    sock.sendall(b"API\0" + struct.pack(">I", len(offer)) + offer)

    def send(*fields: str) -> None:
        payload = "".join(field + "\0" for field in fields).encode()
        sock.sendall(struct.pack(">I", len(payload)) + payload)

    send("71", "2", "2", "")
    send("97", "1", "0", "NQ", "CONTFUT", "", "0", "", "", "CME", "", "USD", "", "", "AllLast", "0", "0")
    buffer, ticks, first, deadline = b"", 0, 0.0, 0.0
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        buffer += chunk
        position = 0
        while len(buffer) - position >= 4:
            (length,) = struct.unpack_from(">I", buffer, position)
            if len(buffer) - position - 4 < length:
                break
            if buffer[position + 4:position + 7] == b"99\0":
                ticks += 1
                if not first:
                    first = time.perf_counter()
                    deadline = first + seconds
            position += 4 + length
        buffer = buffer[position:]
        if first and time.perf_counter() >= deadline:
            break
    elapsed = time.perf_counter() - first
    sock.close()
    return ticks, elapsed


def ibapi_tick_rate(port: int, seconds: float) -> tuple[int, float]:
    """Return (ticks, elapsed) of tick-by-tick AllLast delivered to IB's official client (ibapi)."""
    import threading

    from ibapi.client import EClient
    from ibapi.contract import Contract
    from ibapi.wrapper import EWrapper

    class App(EWrapper, EClient):
        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)
            self.ready = threading.Event()
            self.ticks = 0
            self.first = 0.0

        def nextValidId(self, orderId: int) -> None:  # noqa: N802,N803 - ibapi's names
            self.ready.set()

        def tickByTickAllLast(self, *args: object) -> None:  # noqa: N802
            if not self.first:
                self.first = time.perf_counter()
            self.ticks += 1

        def error(self, *args: object) -> None:
            pass

    def run() -> None:
        try:
            app.run()
        except TypeError:
            pass  # ibapi 10.50's loop compares a reset server version while draining after disconnect()

    app = App()
    app.connect("127.0.0.1", port, 3)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    app.ready.wait(10)
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = "NQ", "CONTFUT", "CME", "USD"
    app.reqTickByTickData(1, contract, "AllLast", 0, False)
    while not app.first:
        time.sleep(0.01)
    time.sleep(seconds)
    ticks, elapsed = app.ticks, time.perf_counter() - app.first
    app.disconnect()
    thread.join(10)
    return ticks, elapsed


async def simultaneous_sync(port: int, clients: int) -> list[float]:
    """Connect `clients` ib_async clients at once; return each one's connect-to-synced seconds."""
    async def one(client_id: int) -> tuple[IB, float]:
        ib = IB()
        started = time.perf_counter()
        await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=10)
        return ib, time.perf_counter() - started

    results = await asyncio.gather(*(one(1000 + index) for index in range(clients)))
    for ib, _ in results:
        ib.disconnect()
    await asyncio.sleep(0.2)  # let the gateway see the closes before the next round reuses client ids
    return [seconds for _, seconds in results]


async def clients_under(port: int, limit_ms: float, most: int) -> list[tuple[int, float]]:
    """Return (clients, slowest sync ms) for 1, 2, 4, ... simultaneous clients until one exceeds limit_ms."""
    rounds = []
    clients = 1
    while clients <= most:
        slowest = max(await simultaneous_sync(port, clients)) * 1000
        rounds.append((clients, slowest))
        if slowest >= limit_ms:
            break
        clients *= 2
    return rounds


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="How long to stream ticks.")
    parser.add_argument("--connects", type=int, default=20, help="How many connects to time.")
    parser.add_argument("--start", default="2026-03-10T13:30Z", help="Market start (a busy New York open).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-clients", type=int, default=64, help="Most simultaneous clients to try.")
    options = parser.parse_args()
    rates: dict[str, tuple[int, float]] = {}
    process, port = start_gateway(options.start, options.seed)
    try:
        connects = asyncio.run(connect_times(port, options.connects))
        rounds = asyncio.run(clients_under(port, 100.0, options.max_clients))
    finally:
        process.terminate()
        process.wait(timeout=10)
    # A fresh gateway per stream: each starts at the same market moment, so the three read the same ticks.
    for name, measure in (("bare socket (baseline)", raw_tick_rate), ("ib_async", None),
                          ("ibapi (IB's official client)", ibapi_tick_rate)):
        process, port = start_gateway(options.start, options.seed)
        try:
            rates[name] = (asyncio.run(tick_rate(port, options.seconds)) if measure is None
                           else measure(port, options.seconds))
        finally:
            process.terminate()
            process.wait(timeout=10)
    connects_ms = sorted(t * 1000 for t in connects)
    median = statistics.median(connects_ms)
    print(f"connect-to-synced, one client at a time (baseline): median {median:.1f} ms, "
          f"p95 {connects_ms[int(0.95 * (len(connects_ms) - 1))]:.1f} ms, max {connects_ms[-1]:.1f} ms "
          f"over {len(connects_ms)} connects (target < 100 ms)")
    for clients, slowest in rounds:
        print(f"  {clients:3d} simultaneous clients: slowest sync {slowest:6.1f} ms "
              f"({slowest / median:.1f} x the single median)")
    served = max((clients for clients, slowest in rounds if slowest < 100.0), default=0)
    print(f"simultaneous clients served with every sync < 100 ms: {served}"
          f"{'+' if rounds and rounds[-1][1] < 100.0 else ''}")
    base_ticks, base_elapsed = rates["bare socket (baseline)"]
    base_rate = base_ticks / base_elapsed
    for name, (ticks, elapsed) in rates.items():
        rate = ticks / elapsed
        print(f"tick-by-tick AllLast to {name}: {ticks:,} ticks in {elapsed:.2f} s = {rate:,.0f} ticks/s "
              f"({rate / base_rate:.2f} x the bare socket; target >= 50,000)")


if __name__ == "__main__":
    main()
