"""Benchmark one refresh of `slob status`, `slob dashboard` and `/api/header` on a big store, against the old reads.

Run: python bench/refresh_reads.py [--ticks N] [--days D] [--repeat R]

Builds once (not timed) a store with N ticks (default 2 M) over two symbols (NQ, MNQ), recorded by
a `record` session this process holds the lock for (so the tick age is its own run's), then times,
each against a baseline measured in the same run on the same store (the reads before: `max(ts)` and
`ORDER BY ts DESC LIMIT 1` over all symbols, the newest tick read twice, its time then its run):

- on the empty store first (the session's run row only), for what a refresh costs with nothing stored;
- while only ticks are stored (a recording not yet aggregated into candles): one dashboard refresh
  (read_snapshot, no --symbol), one `/api/header` through the app in this process, one `status --json`
  report (collect_status, to JSON);
- `candles aggregate`'s look for each recording's first and last tick (recording_spans), with an
  earlier recording killed before writing its end (its window was open to the end of time);
- after D days of M1 candles of both symbols are added: the same three.

Prints p50 in ms of each, new and old, and old / new. The old SQL lives here only (OldReads).
Target: a refresh on a 2 M tick store costs what it costs on an empty one (a few ms).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.operations import timed  # noqa: E402
from slob_cli.adapters.store import Store, to_us  # noqa: E402
from slob_cli.core.models import Candle, Tick  # noqa: E402
from slob_cli.runtime import web_views  # noqa: E402
from slob_cli.runtime.candles import recording_spans  # noqa: E402
from slob_cli.runtime.dashboard import read_snapshot  # noqa: E402
from slob_cli.runtime.lock import acquire  # noqa: E402
from slob_cli.runtime.status import collect_status  # noqa: E402
from slob_cli.web.app import create_app  # noqa: E402
from tests.runtime.test_recording_spans import old_spans  # noqa: E402
from tests.sqlfile import sql_file  # noqa: E402
from tests.web.test_one_header import _get  # noqa: E402

UTC = timezone.utc
SYMBOLS = ("MNQ", "NQ")


class OldReads(Store):
    """The store's reads of the newest tick and candle as they were: whole-table SQL without a symbol."""

    def newest_tick_us(self, symbol: str | None = None) -> int | None:
        if symbol is None:
            return self._conn.execute("SELECT max(ts) FROM ticks").fetchone()[0]
        return self._conn.execute("SELECT max(ts) FROM ticks WHERE symbol = ?", (symbol,)).fetchone()[0]

    def newest_tick_run_id(self, symbol: str | None = None) -> int | None:
        where = " WHERE symbol = ?" if symbol else ""
        row = self._conn.execute(f"SELECT run_id FROM ticks{where} ORDER BY ts DESC LIMIT 1",
                                 (symbol,) if symbol else ()).fetchone()
        return None if row is None else row[0]

    def newest_tick(self, symbol: str | None = None) -> tuple[int, int | None] | None:
        # A header beside a running session read the newest tick's time, then its run: two probes.
        ts = self.newest_tick_us(symbol)
        return None if ts is None else (ts, self.newest_tick_run_id(symbol))

    def newest_candle_us(self, symbol: str | None = None) -> int | None:
        sql = "SELECT max(ts) FROM candles" + (" WHERE symbol = ?" if symbol else "")
        return self._conn.execute(sql, (symbol,) if symbol else ()).fetchone()[0]

    def newest_candle_symbol(self) -> str | None:
        row = self._conn.execute("SELECT symbol FROM candles ORDER BY ts DESC LIMIT 1").fetchone()
        return row[0] if row else None


def old_default_symbol(store: Store) -> str | None:
    """The page's default symbol as it was read: per symbol already (it never scanned)."""
    best: tuple[int, str] | None = None
    for symbol in store.symbols_in("candles"):
        newest = store.newest_candle_us(symbol)
        if newest is not None and (best is None or newest > best[0]):
            best = (newest, symbol)
    return best[1] if best else None


@contextmanager
def old_page_symbol(old: bool) -> Iterator[None]:
    """Let the page read its default symbol as it did (with the old store only)."""
    if not old:
        yield
        return
    kept = web_views.default_symbol
    web_views.default_symbol = old_default_symbol
    try:
        yield
    finally:
        web_views.default_symbol = kept


def build_ticks(store: Store, ticks: int, days: int, run_id: int, now: datetime, rng: random.Random) -> None:
    """Store `ticks` ticks, half per symbol, evenly over `days` days up to `now`, in one transaction."""
    start, span = to_us(now - timedelta(days=days)), days * 86_400_000_000
    per_symbol = ticks // len(SYMBOLS)
    with store.transaction() as conn:
        for symbol in SYMBOLS:
            conn.executemany(
                "INSERT INTO ticks(symbol, ts, price, size, local_symbol, run_id) VALUES (?,?,?,?,?,?)",
                ((symbol, start + i * span // per_symbol, 25_000 + rng.uniform(-50, 50), 1.0, None, run_id)
                 for i in range(1, per_symbol + 1)))


def build_candles(store: Store, days: int, now: datetime) -> None:
    """Store `days` days of M1 candles of both symbols, up to the minute before `now`."""
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=days * 1380)
    store.upsert_candles([Candle(symbol, first + timedelta(minutes=m), 25_000, 25_001, 24_999, 25_000.5, 5, 5)
                          for symbol in SYMBOLS for m in range(days * 1380)])


def reads(store: Store, path: Path, now: datetime) -> dict[str, Callable[[], Any]]:
    """The three refreshes, each a zero-argument call."""
    app = create_app(store, path, "Europe/Stockholm", None, path, now=lambda: now)
    return {
        "dashboard refresh": lambda: read_snapshot(store, path, now),
        "/api/header": lambda: _get(app, "/api/header"),
        "status --json": lambda: json.dumps(collect_status(store, path, now).to_dict(), default=str),
    }


def compare(path: Path, now: datetime, repeat: int, title: str) -> None:
    """Time each refresh with the new reads and with the old ones; print p50s and the ratio."""
    with Store.open(path, readonly=True) as new_store, OldReads.open(path, readonly=True) as old_store:
        calls = {"new": reads(new_store, path, now), "old": reads(old_store, path, now)}
        with old_page_symbol(True):
            old_header = calls["old"]["/api/header"]()
        assert calls["new"]["/api/header"]() == old_header, old_header  # the same page header either way
        print(f"{title}:")
        for label in calls["new"]:
            took: dict[str, list[float]] = {}
            for side in ("new", "old"):
                with old_page_symbol(side == "old"):
                    calls[side][label]()  # one untimed call first: the first after the other side's runs cold
                    took[side] = timed(calls[side][label], repeat)
            fast, slow = statistics.median(took["new"]), statistics.median(took["old"])
            print(f"  {label:18} new p50 {fast:8.2f} ms   old p50 {slow:8.2f} ms   old/new {slow / fast:6.1f}x")


def compare_spans(path: Path, repeat: int) -> None:
    """Time `candles aggregate`'s recording spans (recorded_partial_minutes) against the open-window SQL."""
    with Store.open(path, readonly=True) as store, sql_file(path) as plain:
        new = recording_spans(store, set(SYMBOLS))
        assert new == {symbol: old_spans(plain, symbol) for symbol in SYMBOLS}, new
        fast = statistics.median(timed(lambda: recording_spans(store, set(SYMBOLS)), repeat))
        slow = statistics.median(timed(lambda: [old_spans(plain, symbol) for symbol in SYMBOLS], 3))
    print("candles aggregate, the recordings' spans (a killed run first, then the session's):")
    print(f"  {'recording spans':18} new p50 {fast:8.2f} ms   old p50 {slow:8.2f} ms   old/new {slow / fast:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        with acquire(path, "record"):  # this process is the recording session: the ticks are its run's
            with Store.open(path) as writer:  # an earlier recording, killed (no end), then this session's run
                killed = writer.start_run("record", {"sim_clock": False}, now - timedelta(days=options.days, hours=2))
                run_id = writer.start_run("record", {"sim_clock": False}, now - timedelta(days=options.days))
            compare(path, now, options.repeat, "empty store (the session's run, no tick yet)")
            began = time.perf_counter()
            with Store.open(path) as writer:
                build_ticks(writer, options.ticks, options.days, run_id, now - timedelta(seconds=2),
                            random.Random(options.seed))
                first = now - timedelta(days=options.days, hours=2)
                writer.insert_ticks([Tick("NQ", first + timedelta(seconds=s), 25_000.0, 1) for s in range(1000)],
                                    run_id=killed)
            print(f"store: {options.ticks:,} ticks over {', '.join(SYMBOLS)}, built in "
                  f"{time.perf_counter() - began:.1f} s, {path.stat().st_size / 1e6:.0f} MB")
            compare(path, now, options.repeat, "ticks only (a recording not aggregated yet)")
            compare_spans(path, options.repeat)
            with Store.open(path) as writer:
                build_candles(writer, options.days, now)
            compare(path, now, options.repeat, f"ticks and {options.days * 1380 * len(SYMBOLS):,} M1 candles")


if __name__ == "__main__":
    main()
