"""`candles aggregate` finds each recording's first and last tick by index probes within the run's own life.

Ticks have no index by run. A run killed before writing its end had its window open to the end of
time: the probe from the top walked back through every later run's ticks (months of them) to reach
its last one, and through all of a symbol's later ticks when it stored none of that symbol. On the
wall clock such a run died before the next run began (every run row is written under the run lock),
so the next run's start now ends its window. The spans are what the open-window SQL found, and what
the probes cost no longer grows with the ticks stored after the run.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Tick
from slob_cli.runtime.candles import RECORDING_COMMANDS, recording_spans
from tests.sqlfile import sql_file
from tests.sqltrace import traced_store, vm_steps

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 0, tzinfo=UTC)
SYMBOLS = ("ES", "MNQ", "NQ")


def old_spans(conn: sqlite3.Connection, symbol: str) -> list[tuple[int, int | None, int, int]]:
    """The spans as Store.recording_spans read them before: the runs once per symbol, a killed run's window open."""
    margin = 300_000_000
    runs = conn.execute(f"SELECT id, started_at, ended_at FROM runs WHERE command IN "
                        f"({','.join('?' * len(RECORDING_COMMANDS))})", RECORDING_COMMANDS).fetchall()
    spans = []
    for run_id, started, ended in runs:
        low, high = started - margin, (2**63 - 1) if ended is None else ended + margin
        probe = "SELECT ts FROM ticks WHERE symbol=? AND ts>=? AND ts<? AND run_id=? ORDER BY ts {} LIMIT 1"
        first = conn.execute(probe.format("ASC"), (symbol, low, high, run_id)).fetchone()
        if first is None:
            continue
        last = conn.execute(probe.format("DESC"), (symbol, low, high, run_id)).fetchone()
        spans.append((started, ended, first[0], last[0]))
    return spans


def _run(store: Store, command: str, start: timedelta, ticks: dict[str, list[float]], end: timedelta | None = None,
         args: dict[str, Any] | None = None) -> int:
    """A run started at T0 + start with ticks (seconds after T0) per symbol; ended at T0 + end unless None."""
    run_id = store.start_run(command, args or {"sim_clock": False}, T0 + start)
    for symbol, seconds in ticks.items():
        store.insert_ticks([Tick(symbol, T0 + timedelta(seconds=s), 25_000.0, 1) for s in seconds], run_id=run_id)
    if end is not None:
        store.end_run(run_id, 0, T0 + end)
    return run_id


def _history(store: Store) -> None:
    hour = timedelta(hours=1)
    _run(store, "record", 0 * hour, {"NQ": [60, 1800], "MNQ": [61, 1799]}, end=hour)
    _run(store, "record", 2 * hour, {"NQ": [7300, 7500.5]})  # killed: no end, no MNQ
    _run(store, "candles", 3 * hour, {}, end=3 * hour)  # no recording, but its start follows the kill
    _run(store, "record", 4 * hour, {})  # killed before any tick
    # A sim-clock run killed, its virtual ticks days before: its window stays open.
    _run(store, "paper", -48 * hour, {"NQ": [-172_000, -171_000]}, args={"sim": True, "sim_clock": True})
    _run(store, "trade", 5 * hour, {"NQ": [18_100, 18_200], "MNQ": [18_150]}, end=6 * hour)
    _run(store, "record", 7 * hour, {"NQ": [25_300, 25_400], "MNQ": [25_300, 25_400]})  # running now


def test_the_spans_are_what_the_open_window_sql_found(db_path: Path) -> None:
    with Store.open(db_path) as store:
        _history(store)
        found = recording_spans(store, set(SYMBOLS))
    with sql_file(db_path) as conn:
        assert found == {symbol: old_spans(conn, symbol) for symbol in SYMBOLS}
    started = int((T0 + timedelta(hours=2)).timestamp() * 1_000_000)
    assert (started, None, started + 100_000_000, started + 300_500_000) in found["NQ"]  # the killed run's
    assert len(found["NQ"]) == 5 and len(found["MNQ"]) == 3 and found["ES"] == []


def _store_with_later_ticks(path: Path, later: int) -> None:
    with Store.open(path) as store:
        _run(store, "record", timedelta(0), {"NQ": [60, 120]})  # killed early: no end, no MNQ
        _run(store, "record", timedelta(hours=1), {symbol: [3600 + i * 0.5 for i in range(later)]
                                                  for symbol in ("NQ", "MNQ")}, end=timedelta(hours=30))


def test_what_a_killed_runs_probes_cost_does_not_grow_with_the_ticks_after_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    later = 20_000  # ticks of each symbol stored after the killed run, by the next one; a tenth of them first
    costs: dict[int, tuple[int, int]] = {}  # VM steps (hundreds): the bounded probes', the open window's
    for count in (later // 10, later):
        path = tmp_path / f"later-{count}.db"
        _store_with_later_ticks(path, count)
        with traced_store(path, monkeypatch) as traced, sql_file(path) as plain:
            spans: dict[str, Any] = {}
            new = traced.vm_steps(lambda: spans.update(recording_spans(traced.store, {"NQ", "MNQ"})))  # noqa: B023
            old = vm_steps(plain, lambda: [old_spans(plain, symbol) for symbol in ("NQ", "MNQ")])  # noqa: B023
            assert spans == {symbol: old_spans(plain, symbol) for symbol in ("NQ", "MNQ")}
        costs[count] = (new, old)
    (new_few, old_few), (new_many, old_many) = costs[later // 10], costs[later]
    assert old_many > 5 * old_few, costs  # the open window walked every later tick
    assert new_many < 1.5 * new_few + 50, costs  # the bounded one does not
