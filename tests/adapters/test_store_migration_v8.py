"""Schema v8 on real SQLite files: a v7 store's setup events, each stored with its whole `to_dict()`, keep
their data and direction only, and every event reads back as the same bytes; a replay finds the log unchanged."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store import db as store_db
from slob_cli.adapters.store.setups import SetupRepository, canonical_json, event_rows
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import SetupTracker, StrategyConfig
from slob_cli.core.strategy.events import SetupEvent
from slob_cli.runtime import views
from slob_cli.runtime.tracking import day_window
from slob_cli.sim.scenarios import SCENARIOS, build_scenario

NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
FIRST = date(2026, 3, 9)


def _days() -> dict[date, list[SetupEvent]]:
    """Every scenario's day, replayed by the tracker: the events a v7 slob stored, by trading date."""
    days = {}
    for index, name in enumerate(SCENARIOS):
        day = FIRST + timedelta(days=index)
        tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
        events = [event for bar in build_scenario(name, day, seed=index) for event in tracker.on_candle(bar)]
        days[day] = events + tracker.on_time(day_window(day)[1])
    return days


def _v7_store(path: Path, monkeypatch: pytest.MonkeyPatch, days: dict[date, list[SetupEvent]],
              odd: list[tuple[int, str | None]]) -> list[tuple[Any, ...]]:
    """Make a schema v7 file holding the days' events as v7 stored them (payload: canonical `to_dict()`).

    `odd` are (seq, payload) rows of another day that no slob wrote: kept, whatever they hold.
    Return the stored (symbol, trading_date, seq, payload) rows.
    """
    with monkeypatch.context() as patch:
        patch.setattr(store_db, "SCHEMA_VERSION", 7)
        with Store.open(path) as store, store.transaction() as conn:
            for events in days.values():
                conn.executemany(
                    "INSERT INTO setup_events (setup_id, symbol, trading_date, seq, bar_time, type, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(row.setup_id, row.symbol, row.trading_date, row.seq, row.bar_time, row.type,
                      canonical_json(event.to_dict())) for row, event in zip(event_rows(events), events, strict=True)])
            conn.executemany("INSERT INTO setup_events (setup_id, symbol, trading_date, seq, bar_time, type, payload)"
                             " VALUES (NULL, 'NQ', '2026-01-02', ?, 0, 'NOTE', ?)", odd)
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT symbol, trading_date, seq, payload FROM setup_events ORDER BY 1, 2, 3").fetchall()
    finally:
        conn.close()


def test_a_v7_stores_events_read_back_as_the_same_bytes_and_a_replay_finds_nothing_to_write(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = _days()
    assert sum(map(len, days.values())) > 50 and len({e.type for events in days.values() for e in events}) >= 8
    odd = [(1, '{"note":"by hand"}'), (2, "not json"), (3, None), (4, "[1,2]")]
    v7 = _v7_store(db_path, monkeypatch, days, odd)
    v7_bytes = sum(len(payload or "") for *_, payload in v7)
    with Store.open(db_path) as store:
        assert store.schema_version() == 8
        repository = SetupRepository(store)
        for day, events in days.items():
            read = repository.events_of_day("NQ", day)
            # byte for byte what v7 stored, and each event's to_dict() again
            assert [e.payload_json for e in read] == [canonical_json(event.to_dict()) for event in events]
            assert [e.payload for e in read] == [event.to_dict() for event in events]
            # a replay of the day (as `setups track` makes it) is the stored log: nothing new, nothing replaced
            sync = repository.sync_day("NQ", day, event_rows(events), [], NOW, replace_divergent=False)
            assert (sync.new_events, sync.replaced) == (0, False)
        levels = views.reference_levels(store, FIRST, "NQ")
        frozen = next(e for e in days[FIRST] if e.type.value == "LSE_LEVELS_FROZEN")
        assert levels is not None and (levels["high"], levels["low"]) == (frozen.data["high"], frozen.data["low"])
        newest = [row for row in views.latest_events(store, 5) if row["source"] == "setup"]
        assert newest and all(row["payload"]["type"] == row["type"] and "data" in row["payload"] for row in newest)
    conn = sqlite3.connect(db_path)
    try:
        kept = conn.execute("SELECT seq, data, direction FROM setup_events WHERE trading_date='2026-01-02' ORDER BY seq")
        assert kept.fetchall() == [(seq, payload, None) for seq, payload in odd]  # no slob's payload: kept as it was
        v8_bytes = conn.execute("SELECT sum(length(data)) + sum(coalesce(length(direction), 0)) FROM setup_events")
        assert v8_bytes.fetchone()[0] < v7_bytes / 3
    finally:
        conn.close()


def test_a_new_store_and_a_migrated_one_have_the_same_setup_events_table(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _v7_store(db_path, monkeypatch, {}, [])
    with Store.open(db_path), Store.open(tmp_path / "new.db"):
        pass

    def columns(path: Path) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(path)
        try:
            return conn.execute("SELECT name, type, pk FROM pragma_table_info('setup_events')").fetchall()
        finally:
            conn.close()

    assert columns(db_path) == columns(tmp_path / "new.db")
    assert [name for name, *_ in columns(db_path)][-2:] == ["data", "direction"]
