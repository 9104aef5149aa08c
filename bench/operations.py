"""Benchmark the read-only operations views on a store the size of a month of recording.

Run: python bench/operations.py [--ticks N] [--days D] [--frames F] [--seed S]

Builds a store with N ticks (default 1 M), D days of M1 candles, setups, orders, trades, events
and 8-second heartbeats, then prints the time to build one dashboard frame (snapshot + render,
p50/p99; target: well under the 1 s refresh), one `slob status` report, and one paper-validation
judgement of a 24 h run (gather + evaluate).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from slob_cli.adapters.store import Store, to_us  # noqa: E402
from slob_cli.core.models import Candle  # noqa: E402
from slob_cli.core.validation import evaluate  # noqa: E402
from slob_cli.runtime.dashboard import read_snapshot  # noqa: E402
from slob_cli.runtime.dashboard_view import render_frame  # noqa: E402
from slob_cli.runtime.status import collect_status  # noqa: E402
from slob_cli.runtime.validation_data import gather  # noqa: E402

UTC = timezone.utc


def build(store: Store, ticks: int, days: int, rng: random.Random, now: datetime) -> int:
    """Fill the store; return the id of a 24 h paper run ending at `now`."""
    start = now - timedelta(days=days)
    price = 25_000.0
    candles = []
    for minute in range(days * 1380):
        step = rng.uniform(-3, 3)
        high, low = price + abs(step) + 1, price - abs(step) - 1
        candles.append(Candle("NQ", start + timedelta(minutes=minute), price, high, low, price + step, 50, 50))
        price += step
    store.upsert_candles(candles)
    span_us = to_us(now) - to_us(start)
    rows = [("NQ", to_us(start) + i * span_us // ticks, 25_000 + rng.uniform(-50, 50), 1.0, None, None)
            for i in range(ticks)]
    with store.transaction() as conn:
        conn.executemany("INSERT INTO ticks(symbol, ts, price, size, local_symbol, run_id) VALUES (?,?,?,?,?,?)", rows)
    run_id = store.start_run("paper", {"duration": "24"}, now - timedelta(hours=24))
    with store.transaction() as conn:
        for number in range(days * 6):
            day = (start + timedelta(days=number // 6)).date().isoformat()
            setup = f"NQ-{day}-SHORT-{number % 6}"
            state = "WATCHING_LIQ2" if number >= days * 6 - 2 else rng.choice(["SETUP_COMPLETE", "INVALIDATED"])
            conn.execute("INSERT INTO setups(id, symbol, trading_date, direction, state) VALUES (?,?,?,?,?)",
                         (setup, "NQ", day, "SHORT", state))
            for seq in range(12):
                conn.execute("INSERT INTO setup_events(setup_id, symbol, trading_date, seq, bar_time, type, data)"
                             " VALUES (?,?,?,?,?,?,?)", (setup, "NQ", day, number % 6 * 100 + seq,
                                                         to_us(start + timedelta(days=number // 6, minutes=seq)),
                                                         "HIGH_SET", '{"price": 1.0}'))
            if state == "SETUP_COMPLETE":
                for role in ("entry", "stop", "target"):
                    conn.execute("INSERT INTO orders(order_ref, setup_id, role, symbol, action, order_type, quantity,"
                                 " status, created_at, run_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                 (f"slob:{setup}:{role}", setup, role, "NQ", "SELL", "MKT", 1.0,
                                  "Filled" if role != "target" else "Cancelled", to_us(now), run_id))
                conn.execute("INSERT INTO trades(setup_id, symbol, direction, quantity, entry_price, exit_time,"
                             " pnl_points, pnl_money, status) VALUES (?,?,?,?,?,?,?,?,?)",
                             (setup, "NQ", "SHORT", 1.0, 25_000.0, to_us(now), -20.0, -400.0, "closed"))
        beat = now - timedelta(hours=24)
        while beat < now:
            conn.execute("INSERT INTO health(run_id, ts, connected, last_tick_age) VALUES (?,?,?,?)",
                         (run_id, to_us(beat), 1, 0.4))
            beat += timedelta(seconds=8)
    store.end_run(run_id, 0, now, stats={"candles_generated": 1380, "candles_persisted": 1380})
    return run_id


def timed(action, repeat: int) -> list[float]:  # noqa: ANN001 - any zero-argument callable
    """Return the milliseconds each of `repeat` calls took."""
    took = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        took.append((time.perf_counter() - began) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    now = datetime(2026, 2, 6, 20, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        began = time.perf_counter()
        with Store.open(path) as writer:
            run_id = build(writer, options.ticks, options.days, random.Random(options.seed), now)
        print(f"store: {options.ticks:,} ticks, {options.days * 1380:,} candles, built in "
              f"{time.perf_counter() - began:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
        zone = ZoneInfo("Europe/Stockholm")
        with open(os.devnull, "w") as sink, Store.open(path, readonly=True) as store:
            console = Console(file=sink, width=140)
            frames = timed(lambda: console.print(render_frame(read_snapshot(store, path, now), zone)),
                           options.frames)
            status = timed(lambda: collect_status(store, path, now), 20)
            judged = timed(lambda: evaluate(gather(store, run_id, 24 * 3600, now)), 5)
    for name, took in (("dashboard frame (snapshot + render)", frames), ("status report", status),
                       ("validation (gather + evaluate)", judged)):
        ordered = sorted(took)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        print(f"{name}: p50 {statistics.median(took):.1f} ms, p99 {p99:.1f} ms over {len(took)} runs")


if __name__ == "__main__":
    main()
