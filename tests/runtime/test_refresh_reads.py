"""What one refresh of `slob status`, `slob dashboard` and `slob web` reads of ticks, candles and runs.

A trader's store holds months of ticks: every read of a refresh must search ticks(symbol, ts) or the
candles' key by symbol (SQLite's plan says so), never read either whole, and the newest tick is read
once per header (its time and its run together), not once for the age and again for whose it is.
The book (working orders, positions) reads the runs its rows name, not every run the store had.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle, Tick
from slob_cli.runtime import views, web_views
from slob_cli.runtime.dashboard import read_snapshot
from slob_cli.runtime.lock import acquire
from slob_cli.runtime.status import collect_status
from tests.opsdata import add_order
from tests.sqlfile import sql_rows
from tests.sqltrace import on_table, query_plan, reads_by_index, traced_store

UTC = timezone.utc
NOW = datetime(2026, 1, 6, 15, 2, 30, tzinfo=UTC)


def _fill(store: Store, sim: bool, candles: bool = True) -> int:
    """Two symbols' ticks (and candles) of one run, a sim run's (its own clock) or a wall-clock `record`'s."""
    args = {"sim": True, "sim_clock": True} if sim else {}
    run_id = store.start_run("record", args, NOW - timedelta(hours=1))
    for symbol in ("MNQ", "NQ"):
        store.insert_ticks([Tick(symbol, NOW - timedelta(seconds=s), 25_000.0 + s, 1) for s in range(300, 0, -1)],
                           run_id=run_id)
        if candles:
            store.upsert_candles([Candle(symbol, NOW.replace(second=0) - timedelta(minutes=m), 1, 2, 0.5, 1.5, 3, 3)
                                  for m in range(1, 6)])
    return run_id


def _refreshes(store: Store, db_path: Path) -> None:
    read_snapshot(store, db_path, NOW)  # the dashboard's frame, its symbol the newest candle's
    read_snapshot(store, db_path, NOW, "NQ")
    collect_status(store, db_path, NOW)  # `status --json` and /api/status
    web_views.header(store, db_path, NOW, None)  # /api/header
    web_views.header(store, db_path, NOW, "MNQ")
    web_views.change_marker(store)  # the page's event stream, on every commit


@pytest.mark.parametrize(("sim", "candles"), [(False, True), (True, True), (False, False), (True, False)],
                         ids=["wall", "sim-clock", "wall-ticks-only", "sim-clock-ticks-only"])
def test_every_read_of_ticks_and_candles_in_a_refresh_searches_by_symbol(
        db_path: Path, monkeypatch: pytest.MonkeyPatch, sim: bool, candles: bool) -> None:
    with Store.open(db_path) as store:
        _fill(store, sim, candles)
    with traced_store(db_path, monkeypatch) as traced:
        _refreshes(traced.store, db_path)
    statements = traced.statements
    checked = 0
    for table in ("ticks", "candles"):
        for sql in sorted(set(on_table(statements, table))):
            plan = query_plan(db_path, sql)
            assert reads_by_index(sql, plan, table), (sql, plan)
            assert f"SCAN {table}" not in plan, (sql, plan)
            checked += 1
    assert checked >= 6, statements  # the newest tick, its prices and candles were read


def test_a_header_reads_the_newest_tick_once_for_its_age_and_its_run(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with acquire(db_path, "record"):  # this process holds the lock: its run's tick is the session's own
        with Store.open(db_path) as store:
            _fill(store, sim=False)
        with traced_store(db_path, monkeypatch) as traced:
            header = web_views.header(traced.store, db_path, NOW, "NQ")
            header_ticks = on_table(traced.statements, "ticks")
            traced.statements.clear()
            snapshot = read_snapshot(traced.store, db_path, NOW, "NQ")
            frame_ticks = on_table(traced.statements, "ticks")
    assert header["running"] is not None and header["heartbeat_of"]["of_running_session"]
    assert header["last_tick_age_seconds"] == snapshot.last_tick_age == 1.0  # the session's own newest tick
    assert len(header_ticks) == 1, header_ticks  # before: its time, then its run
    assert "ORDER BY ts DESC LIMIT 1" in header_ticks[0]
    # The frame: the newest tick once (age and forming bar), then the forming minute's prices.
    assert len(frame_ticks) == 2, frame_ticks
    assert snapshot.bars[-1].forming and snapshot.bars[-1].close == 25_001.0


def test_an_earlier_runs_newest_tick_is_no_age_of_the_running_session(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(db_path) as store:
        _fill(store, sim=False)
        store.end_run(1, 0, NOW - timedelta(seconds=1))
    with acquire(db_path, "record"), Store.open(db_path) as store:
        store.start_run("record", {}, NOW)  # the holder's run, with no tick yet
        with traced_store(db_path, monkeypatch) as traced:
            header = web_views.header(traced.store, db_path, NOW, "NQ")
    assert header["last_tick_age_seconds"] is None
    assert len(on_table(traced.statements, "ticks")) == 1


def _old_ended_sim_runs(db_path: Path) -> set[int]:
    """Which runs were ended `--sim` runs, as the book read it before: every run of the store, each refresh."""
    rows = sql_rows(db_path, "SELECT id, args, ended_at FROM runs")
    return {run_id for run_id, args, _ in rows if json.loads(args or "{}").get("sim")}  # none of them is held


def test_the_book_reads_only_its_own_runs_not_every_run_the_store_had(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(db_path) as store:
        for number in range(300):  # months of commands and sessions: sim runs ended, died, and wall-clock ones
            run_id = store.start_run("run" if number % 3 else "record", {"sim": number % 3 == 1},
                                     NOW - timedelta(hours=300 - number))
            if number % 5:
                store.end_run(run_id, 0, NOW - timedelta(hours=299 - number))
        for run_id in (1, 2, 10, 296):  # orders of a wall-clock run, of ended and died sim runs, of an unended one
            add_order(store, f"slob:s{run_id}:stop", "stop", "Submitted", f"s{run_id}", run_id=run_id)
        add_order(store, "slob:none:stop", "stop", "Submitted", "none")  # an order no run placed
    with traced_store(db_path, monkeypatch) as traced:
        orders, _ = views.live_book(traced.store, None)
        on_runs = on_table(traced.statements, "runs")
    ended = _old_ended_sim_runs(db_path)
    assert {order["order_ref"]: order["ended_sim_run"] for order in orders} == {
        f"slob:s{run_id}:stop": run_id in ended for run_id in (1, 2, 10, 296)} | {"slob:none:stop": False}
    assert [order["ended_sim_run"] for order in orders].count(True) == 2  # runs 2 and 296 (died): sim, not held
    assert len(on_runs) == 1, on_runs
    plan = query_plan(db_path, on_runs[0])
    assert plan.startswith("SEARCH runs USING INTEGER PRIMARY KEY"), plan


def _newest_tick_reads(statements: list[str]) -> dict[str, int]:
    """Return how often each symbol's newest tick was read: its max(ts), or its ticks newest first, LIMIT 1."""
    reads: dict[str, int] = {}
    for sql in on_table(statements, "ticks"):
        found = re.search(r"(?:max\(ts\) FROM ticks WHERE symbol = '(\w+)'$"
                          r"|FROM ticks WHERE symbol = '(\w+)' ORDER BY ts DESC LIMIT 1$)", sql.strip())
        if found:
            symbol = found.group(1) or found.group(2)
            reads[symbol] = reads.get(symbol, 0) + 1
    return reads


@pytest.mark.parametrize(("candles", "header_ticks", "frame_ticks"), [(True, 5, 6), (False, 7, 7)],
                         ids=["sim-clock", "sim-clock-ticks-only"])
def test_on_a_sim_clock_a_refresh_reads_each_symbols_newest_tick_once(
        db_path: Path, monkeypatch: pytest.MonkeyPatch, candles: bool, header_ticks: int, frame_ticks: int) -> None:
    """The clock (a sim run's now) reads every symbol's newest tick; the header and the frame take the shown
    symbol's from it instead of reading it again (before: 6 and 7 tick statements with candles, 12 and 12 without)."""
    with Store.open(db_path) as store:
        _fill(store, sim=True, candles=candles)
    with traced_store(db_path, monkeypatch) as traced:
        header = web_views.header(traced.store, db_path, NOW, None)
        header_reads = list(traced.statements)
        traced.statements.clear()
        snapshot = read_snapshot(traced.store, db_path, NOW)
        frame_reads = list(traced.statements)
        # The same reads with nothing passed along: each symbol's newest tick read again, as before.
        with monkeypatch.context() as patch:
            clock = views.store_clock
            patch.setattr(views, "store_clock", lambda *args: dataclasses.replace(clock(*args), ))
            header_again = web_views.header(traced.store, db_path, NOW, None)
            snapshot_again = read_snapshot(traced.store, db_path, NOW)
    assert header["clock"]["simulated"] and header["last_tick_age_seconds"] == 0.0, header
    assert (header, snapshot) == (header_again, snapshot_again)  # the same answers
    assert bool(snapshot.bars) == candles and all(bar.forming == (bar is snapshot.bars[-1]) for bar in snapshot.bars)
    assert snapshot.last_tick_age == 0.0 and (snapshot.bars[-1].close == 25_001.0 if candles else True)
    assert set(_newest_tick_reads(header_reads).values()) == {1}, header_reads
    assert set(_newest_tick_reads(frame_reads).values()) == {1}, frame_reads
    assert len(on_table(header_reads, "ticks")) == header_ticks, on_table(header_reads, "ticks")
    assert len(on_table(frame_reads, "ticks")) == frame_ticks, on_table(frame_reads, "ticks")
