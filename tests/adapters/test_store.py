"""Store on real SQLite files: migration, refusal of foreign/newer files, idempotent upsert, ranges."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store, from_us
from slob_cli.adapters.store.schema import SCHEMA_VERSION
from slob_cli.core.models import Candle, Tick
from slob_cli.errors import StoreError
from tests.sqlfile import sql_file, sql_rows, sql_run, sql_value

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def candle(minute: int, close: float = 100.0, symbol: str = "NQ") -> Candle:
    return Candle(symbol, T0 + timedelta(minutes=minute), 100.0, 101.0, 99.0, close, 5.0, 3)


def test_new_file_is_created_in_wal_mode_at_current_schema(db_path: Path) -> None:
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert sql_value(store.path, "PRAGMA journal_mode") == "wal"


def test_every_instant_column_is_integer_microseconds_and_named(db_path: Path) -> None:
    from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS, MICROSECOND_INSTANTS

    # One encoding: every instant is INTEGER microseconds; the two maps only say how rows give it.
    declared = {(table, column): "INTEGER" for instants in (MICROSECOND_INSTANTS, ISO_TEXT_INSTANTS)
                for table, columns in instants.items() for column in columns}
    Store.open(db_path).close()
    found = {}
    for (table,) in sql_rows(db_path, "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
        for _, column, kind, *_ in sql_rows(db_path, f'PRAGMA table_info("{table}")'):
            if column == "ts" or column.endswith(("_at", "_time")):
                found[(table, column)] = kind
    assert found == declared


def test_empty_sqlite_file_is_upgraded_to_current_schema(db_path: Path) -> None:
    sqlite3.connect(db_path).close()  # an existing, empty file: version 0
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.stats()["rows"]["candles"] == 0


def test_older_schema_version_is_migrated(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.adapters.store import db as store_db

    with Store.open(db_path) as store:
        store.upsert_candles([candle(0)])
    upgrades = {**store_db.MIGRATIONS, SCHEMA_VERSION: lambda conn: conn.execute("CREATE TABLE extra (x)")}
    monkeypatch.setattr(store_db, "MIGRATIONS", upgrades)
    monkeypatch.setattr(store_db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert sql_value(store.path, "SELECT count(*) FROM extra") == 0
        assert store.candles("NQ") == [candle(0)]


def _v5_file(path: Path) -> None:
    """Write a schema-v5 file (instants as ISO text) with a run, an event, an order and a backtest with a trade."""
    from slob_cli.adapters.store.schema import MIGRATIONS

    with sql_file(path) as conn:
        for version in range(5):
            MIGRATIONS[version](conn)
        conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', '5')")
        conn.execute("INSERT INTO runs(command, args, started_at, ended_at, pid) VALUES"
                     " ('paper', '{}', '2026-01-06T14:00:00Z', '2026-01-06T21:00:00.250000Z', 1)")
        conn.execute("INSERT INTO events(run_id, ts, type, payload) VALUES (1, '2026-01-06T14:00:01Z', 'IB_CONNECTED', '{}')")
        conn.execute("INSERT INTO orders(order_ref, role, symbol, action, order_type, quantity, status, created_at)"
                     " VALUES ('slob:a:entry', 'entry', 'NQ', 'SELL', 'MKT', 1, 'Submitted', '2026-01-06T15:10:00Z')")
        conn.execute("INSERT INTO backtest_runs(name, created_at, symbol, from_date, to_date, candles, trades, net_pnl,"
                     " max_drawdown, max_drawdown_pct, settings, stats) VALUES ('march', '2026-03-31T20:00:00Z', 'NQ',"
                     " '2026-03-02', '2026-03-31', 10, 1, 5.0, 0, 0, '{}', '{}')")
        conn.execute("INSERT INTO backtest_trades VALUES (1, 'NQ-20260310-S1', 'NQ', 'SHORT', '2026-03-10', 1,"
                     " '2026-03-10T14:05:00Z', 1, 2, 0, '2026-03-10T14:06:00Z', 1, '2026-03-10T14:30:00Z', 0, 'target',"
                     " 1, 4.5, 15.5, 1)")


def test_schema_v5_instants_become_integer_microseconds_and_read_back_the_same(db_path: Path) -> None:
    from slob_cli.adapters.store.backtests import BacktestRepository

    _v5_file(db_path)
    with Store.open(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        [run] = store.runs()
        assert (run["started_at"], run["ended_at"]) == ("2026-01-06T14:00:00Z", "2026-01-06T21:00:00.250000Z")
        assert store.run_events(1) == [("2026-01-06T14:00:01Z", "IB_CONNECTED", "{}", None)]
        assert [order["created_at"] for order in store.working_order_rows()] == ["2026-01-06T15:10:00Z"]
        march = BacktestRepository(store).run("march")
        assert march is not None and march["created_at"] == "2026-03-31T20:00:00Z"
        assert [trade["exit_time"] for trade in march["trades"]] == ["2026-03-10T14:30:00Z"]
    assert sql_rows(db_path, "SELECT started_at, typeof(ended_at) FROM runs") == [(1767708000000000, "integer")]
    assert sql_value(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'orders_working'"
                              " AND sql LIKE '%WHERE lower(status) NOT IN%'") == 1, "the partial index is kept"
    with sql_file(db_path) as conn:  # the trades still belong to their run: deleting it deletes them
        conn.execute("DELETE FROM backtest_runs WHERE name = 'march'")
        assert conn.execute("SELECT count(*) FROM backtest_trades").fetchone()[0] == 0


def test_newer_schema_version_is_refused_with_clear_error(db_path: Path) -> None:
    with Store.open(db_path) as store:
        sql_run(store.path, "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 5),))
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 5}, newer than this slob"):
        Store.open(db_path)


def test_foreign_sqlite_file_is_refused_and_left_alone(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a slob database"):
        Store.open(db_path)
    tables = [r[0] for r in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["recipes"]


def test_file_that_is_not_sqlite_is_refused(db_path: Path) -> None:
    db_path.write_text("hello, I am a text file\n" * 100)
    with pytest.raises(StoreError, match=r"not a slob database|cannot open"):
        Store.open(db_path)


def test_candle_upsert_is_idempotent_and_replaces_by_symbol_and_minute(store: Store) -> None:
    store.upsert_candles([candle(0), candle(1)])
    store.upsert_candles([candle(0), candle(1)])
    assert store.stats()["rows"]["candles"] == 2
    store.upsert_candles([candle(1, close=100.5)])
    assert [c.close for c in store.candles("NQ")] == [100.0, 100.5]


def test_candle_range_is_start_inclusive_end_exclusive(store: Store) -> None:
    store.upsert_candles([candle(m) for m in range(5)] + [candle(2, symbol="MNQ")])
    got = store.candles("NQ", T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    assert [c.ts for c in got] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    frame = store.candles_frame("NQ", T0 + timedelta(minutes=3))
    assert list(frame.index) == [T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)]
    assert store.latest_candle("NQ") == candle(4)


def test_ticks_round_trip_with_microseconds(store: Store) -> None:
    tick = Tick("NQ", T0 + timedelta(microseconds=123_457), 21000.25, 2.0)
    store.insert_ticks([tick])
    assert list(store.iter_ticks("NQ")) == [tick]


def test_price_bars_carry_the_stored_instant_to_the_microsecond() -> None:
    from slob_cli.adapters.store.db import price_bars

    stamps = [1_741_791_600_000_000, 1_741_791_660_000_000, 1_741_791_720_000_001, 1_741_791_780_000_001,
              1_741_791_840_000_000, 1_741_791_900_000_000, 0]
    bars = price_bars("NQ", [(ts, 1.0, 2.0, 0.5, 1.5, 3) for ts in stamps])
    assert [bar.ts for bar in bars] == [from_us(ts) for ts in stamps]
    assert all(bar.ts.tzinfo is timezone.utc for bar in bars)
    first = bars[0]
    assert (first.open, first.high, first.low, first.close, first.tick_count) == (1.0, 2.0, 0.5, 1.5, 3)
    assert first.end == from_us(stamps[0] + 60_000_000)


def test_stored_candidate_rows_keep_the_key_order_of_the_tracker_view() -> None:
    from datetime import date

    from slob_cli.adapters.store.setups import SETUP_FIELDS
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy import SetupTracker, StrategyConfig
    from slob_cli.sim.scenarios import build_scenario

    tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
    for bar in build_scenario("short_setup", date(2026, 3, 10)):
        tracker.on_candle(bar)
    views = tracker.candidates()
    assert views and all(tuple(view.to_dict()) == SETUP_FIELDS for view in views)
