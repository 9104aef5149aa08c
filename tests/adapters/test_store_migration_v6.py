"""Schema v6 on real SQLite files: a v5 store with rows in every table is migrated to integer instants,
every value converted exactly, and every read answers as it did on the v5 file."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store import db as store_db
from slob_cli.adapters.store import views as store_views
from slob_cli.adapters.store.backtests import BacktestRepository
from slob_cli.adapters.store.instants import instant_us, to_us
from slob_cli.adapters.store.orders import OrderRepository
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS as INSTANT_COLUMNS
from slob_cli.adapters.store.schema import SCHEMA_VERSION
from slob_cli.adapters.store.setups import SetupRepository
from slob_cli.errors import StoreError
from slob_cli.runtime import views

UTC = timezone.utc

# v5 rows as v5's writers stored them: ISO text ending in Z, with `.ffffff` only when the microseconds are not 0.
V5_ROWS: dict[str, list[dict[str, Any]]] = {
    "runs": [
        {"id": 1, "command": "run", "args": '{"sim": true}', "started_at": "2026-01-06T07:30:00Z",
         "ended_at": "2026-01-06T21:03:02.250000Z", "exit_code": 0, "pid": 41, "data_mode": "sim", "stats": "{}"},
        {"id": 2, "command": "paper", "args": "{}", "started_at": "2026-01-07T14:00:00.000001Z", "ended_at": None,
         "exit_code": None, "pid": 42, "data_mode": "live", "stats": None},
    ],
    "events": [
        {"id": 1, "run_id": 1, "ts": "2026-01-06T15:32:02Z", "type": "ORDER_PLACED", "symbol": "NQ",
         "payload": '{"order_ref": "slob:NQ-20260106-S1:entry"}'},
        {"id": 2, "run_id": 1, "ts": "2026-01-06T15:32:02.500000Z", "type": "DISCONNECTED", "symbol": None,
         "payload": "{}"},
        {"id": 3, "run_id": 2, "ts": "2026-01-07T14:00:01Z", "type": "ORDER_PLACED", "symbol": "NQ", "payload": "{}"},
    ],
    "setups": [
        {"id": "NQ-20260106-S1", "symbol": "NQ", "trading_date": "2026-01-06", "direction": "SHORT",
         "state": "SETUP_COMPLETE", "invalidation_reason": None, "liq1_time": "2026-01-06T14:30:00Z",
         "liq1_price": 25_600.0, "high": 25_610.0, "high_time": "2026-01-06T15:01:00Z", "low": 25_560.0,
         "low_time": "2026-01-06T15:11:00Z", "nowick_time": "2026-01-06T15:25:00Z",
         "liq2_time": "2026-01-06T15:26:00Z", "liq2_price": 25_611.0, "trigger_time": "2026-01-06T15:31:00Z",
         "entry_estimate": 25_572.0, "stop": 25_593.0, "target": 25_501.0, "risk_reward": 3.4,
         "state_json": '{"id":"NQ-20260106-S1"}', "updated_at": "2026-01-06T15:32:00Z"},
        {"id": "NQ-20260106-L1", "symbol": "NQ", "trading_date": "2026-01-06", "direction": "LONG",
         "state": "LIQ1_SEEN", "invalidation_reason": None, "liq1_time": "2026-01-06T18:30:00Z",
         "liq1_price": 25_200.0, "high": None, "high_time": None, "low": None, "low_time": None, "nowick_time": None,
         "liq2_time": None, "liq2_price": None, "trigger_time": None, "entry_estimate": None, "stop": None,
         "target": None, "risk_reward": None, "state_json": '{"id":"NQ-20260106-L1"}',
         "updated_at": "2026-01-06T18:30:00.123456Z"},
    ],
    "setup_events": [
        {"id": 1, "setup_id": None, "symbol": "NQ", "trading_date": "2026-01-06", "seq": 1,
         "bar_time": "2026-01-06T14:29:00Z", "type": "LSE_LEVELS_FROZEN",
         "payload": '{"bar_time":"2026-01-06T14:29:00Z","candidate_id":null,"data":{"high":25610.0,"low":25100.0},'
                    '"direction":null,"symbol":"NQ","trading_date":"2026-01-06","type":"LSE_LEVELS_FROZEN"}'},
        {"id": 2, "setup_id": "NQ-20260106-S1", "symbol": "NQ", "trading_date": "2026-01-06", "seq": 2,
         "bar_time": "2026-01-06T14:30:00Z", "type": "LIQ1",
         "payload": '{"bar_time":"2026-01-06T14:30:00Z","candidate_id":"NQ-20260106-S1","data":{"level":25610.0,'
                    '"price":25611.0},"direction":"SHORT","symbol":"NQ","trading_date":"2026-01-06","type":"LIQ1"}'},
        {"id": 3, "setup_id": "NQ-20260106-S1", "symbol": "NQ", "trading_date": "2026-01-06", "seq": 3,
         "bar_time": "2026-01-06T15:31:00Z", "type": "ENTRY_TRIGGERED",
         "payload": '{"bar_time":"2026-01-06T15:31:00Z","candidate_id":"NQ-20260106-S1","data":{},'
                    '"direction":"SHORT","symbol":"NQ","trading_date":"2026-01-06","type":"ENTRY_TRIGGERED"}'},
    ],
    "state": [{"key": "risk", "value": '{"equity": 100000}', "updated_at": "2026-01-06T18:45:44.999999Z"}],
    "orders": [
        {"order_ref": "slob:NQ-20260106-S1:entry", "setup_id": "NQ-20260106-S1", "role": "entry", "symbol": "NQ",
         "local_symbol": "NQH6", "action": "SELL", "order_type": "MKT", "quantity": 1.0, "limit_price": None,
         "stop_price": None, "tif": "DAY", "oca_group": None, "parent_ref": None, "broker_order_id": 7,
         "perm_id": 70, "status": "FILLED", "filled": 1.0, "avg_fill_price": 25_571.75,
         "created_at": "2026-01-06T15:32:02Z", "sent_at": "2026-01-06T15:32:02.000100Z",
         "updated_at": "2026-01-06T15:32:03Z", "run_id": 1},
        {"order_ref": "slob:NQ-20260106-S1:stop", "setup_id": "NQ-20260106-S1", "role": "stop", "symbol": "NQ",
         "local_symbol": "NQH6", "action": "BUY", "order_type": "STP", "quantity": 1.0, "limit_price": None,
         "stop_price": 25_593.0, "tif": "GTC", "oca_group": "oca1", "parent_ref": "slob:NQ-20260106-S1:entry",
         "broker_order_id": 8, "perm_id": None, "status": "WORKING", "filled": 0.0, "avg_fill_price": None,
         "created_at": "2026-01-06T15:32:01.500000Z", "sent_at": None, "updated_at": None,
         "run_id": 1},
    ],
    "fills": [
        {"exec_id": "e1", "order_ref": "slob:NQ-20260106-S1:entry", "broker_order_id": 7, "perm_id": 70,
         "symbol": "NQ", "side": "SLD", "quantity": 1.0, "price": 25_571.75, "ts": "2026-01-06T15:32:02Z",
         "commission": 2.25, "realized_pnl": None},
    ],
    "trades": [
        {"setup_id": "NQ-20260106-S1", "symbol": "NQ", "direction": "SHORT", "quantity": 1.0,
         "entry_estimate": 25_572.0, "entry_time": "2026-01-06T15:32:02Z", "entry_price": 25_571.75,
         "exit_time": None, "exit_price": None, "exit_reason": None, "pnl_points": None, "pnl_money": None,
         "commission": 2.25, "status": "OPEN", "gross_money": None, "entry_commission": 2.25,
         "exit_commission": None, "settled_at": None},
        {"setup_id": "NQ-20260105-S1", "symbol": "NQ", "direction": "SHORT", "quantity": 1.0,
         "entry_estimate": 25_000.0, "entry_time": "2026-01-05T15:00:00Z", "entry_price": 25_000.0,
         "exit_time": "2026-01-05T15:20:00.750000Z", "exit_price": 24_950.0, "exit_reason": "target",
         "pnl_points": 50.0, "pnl_money": 995.5, "commission": 4.5, "status": "CLOSED", "gross_money": 1000.0,
         "entry_commission": 2.25, "exit_commission": 2.25, "settled_at": "2026-01-05T15:20:01Z"},
    ],
    "health": [
        {"id": 1, "run_id": 1, "ts": "2026-01-06T21:03:02Z", "connected": 1, "last_tick_age": 0.2,
         "buffer_utilization": 0.0, "open_orders": 1, "positions": 1, "payload": '{"data_mode": "sim"}'},
    ],
    "tracked_days": [
        {"symbol": "NQ", "trading_date": "2026-01-06", "config_hash": "abc123", "config_json": "{}",
         "updated_at": "2026-01-06T07:30:00Z", "input_digest": "d1", "event_count": 3, "setup_count": 1},
    ],
    "backtest_runs": [
        {"id": 1, "name": "q1", "created_at": "2026-12-04T20:48:12.304651Z", "symbol": "NQ",
         "from_date": "2026-01-05", "to_date": "2026-01-06", "candles": 780, "trades": 1, "net_pnl": 995.5,
         "win_rate": 1.0, "profit_factor": None, "expectancy_r": 3.4, "max_drawdown": 0.0, "max_drawdown_pct": 0.0,
         "settings": '{"risk": {}}', "stats": '{"trades": 1}'},
    ],
    "backtest_trades": [
        {"run_id": 1, "setup_id": "NQ-20260105-S1", "symbol": "NQ", "direction": "SHORT",
         "trading_date": "2026-01-05", "contracts": 1, "decision_time": "2026-01-05T14:59:00Z",
         "entry_estimate": 25_000.0, "stop": 25_020.0, "target": 24_950.0, "entry_time": "2026-01-05T15:00:00Z",
         "entry_price": 25_000.25, "exit_time": "2026-01-05T15:20:00Z", "exit_price": 24_950.0,
         "exit_reason": "target", "points": 50.25, "commission": 4.5, "pnl": 1000.5, "r_multiple": 2.5},
    ],
}
ROWID_TABLES = ("setups", "state", "orders", "fills", "trades", "tracked_days")


def _as_v8(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Return a v5 row as schema v8 holds it: a setup event keeps its payload's data and direction (v8), not all of it."""
    if table != "setup_events":
        return row
    payload = json.loads(row["payload"])
    return {**{k: v for k, v in row.items() if k != "payload"},
            "data": json.dumps(payload["data"], sort_keys=True, separators=(",", ":")), "direction": payload["direction"]}


def _v5_store(path: Path, monkeypatch: pytest.MonkeyPatch, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Create a schema v5 file (v5's migrations) holding rows, written as v5's writers wrote them."""
    with monkeypatch.context() as patch:
        patch.setattr(store_db, "SCHEMA_VERSION", 5)
        with Store.open(path) as store, store.transaction() as conn:
            for table, table_rows in rows.items():
                for row in table_rows:
                    conn.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                 tuple(row.values()))
            # rowids that are no INTEGER PRIMARY KEY must survive the rebuild (read with ORDER BY rowid)
            for table in ROWID_TABLES:
                conn.execute(f"UPDATE {table} SET rowid = rowid + 100")


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _all_rows(store: Store, table: str, render: bool) -> list[tuple[Any, ...]]:
    rowid = "rowid AS row_number, " if table in ROWID_TABLES else ""
    names = [row["name"] for row in store.query(f"SELECT name FROM pragma_table_info('{table}')")]
    columns = ", ".join(f"iso_time({n})" if render and n in INSTANT_COLUMNS[table] else n for n in names)
    return [tuple(row.values()) for row in store.query(f"SELECT {rowid}{columns} FROM {table} ORDER BY 1, 2")]


def _reads(store: Store, fill_bounds: tuple[Any, Any]) -> dict[str, Any]:
    """What status, dashboard and web read (runtime/views.py); fills in [bounds) as that store compares them."""
    return {
        "runs": views.recent_runs(store), "open_setups": views.open_setups(store),
        "working_orders": views.working_orders(store), "positions": views.open_positions(store),
        "day": views.day_pnl(store, date(2026, 1, 5)), "backtests": views.backtest_runs(store),
        "health": views.last_health(store), "levels": views.reference_levels(store, date(2026, 1, 6), "NQ"),
        "events": views.latest_events(store, 20),
        "ended_sim": views.ended_sim_runs(store, None, [run["id"] for run in views.recent_runs(store, 1000)]),
        "fills": store.fill_rows_between("NQ", *fill_bounds),
        "trades": store.trade_history_rows(), "setups": store.setup_rows_of_day("NQ", "2026-01-06"),
    }


@pytest.fixture
def v5_path(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _v5_store(db_path, monkeypatch, V5_ROWS)
    return db_path


def test_v5_store_migrates_every_instant_to_integer_microseconds_exactly(v5_path: Path) -> None:
    with Store.open(v5_path) as store:
        assert store.schema_version() == SCHEMA_VERSION  # v6 and the ones after it
    conn = _raw(v5_path)  # no converters: the stored values themselves
    for table, v5_rows in V5_ROWS.items():
        rows = [_as_v8(table, row) for row in v5_rows]
        order = "run_id, setup_id" if table == "backtest_trades" else "rowid"
        cursor = conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
        assert [column[0] for column in cursor.description] == list(rows[0]), table  # same columns, same order
        stored = cursor.fetchall()
        assert len(stored) == len(rows), table
        for row, values in zip(rows, stored, strict=True):
            for (column, original), value in zip(row.items(), values, strict=True):
                if column in INSTANT_COLUMNS[table] and original is not None:
                    moment = datetime.fromisoformat(original.replace("Z", "+00:00"))
                    assert isinstance(value, int) and value == to_us(moment), (table, column, original, value)
                else:
                    assert value == original, (table, column)


def test_migrated_store_reads_what_the_v5_store_read(v5_path: Path) -> None:
    # the v5 file as v5 read it: its TEXT columns come back as they are (a store over a plain connection)
    raw = _raw(v5_path)
    # v8 keeps a setup event's data and direction, not its whole payload: the v5 events as this slob reads them
    raw.execute("CREATE TEMP VIEW setup_events AS SELECT id, setup_id, symbol, trading_date, seq, bar_time, type,"
                " json_extract(payload, '$.data') AS data, json_extract(payload, '$.direction') AS direction"
                " FROM main.setup_events")
    with Store(raw, v5_path, readonly=True) as v5:
        before_rows = {table: _all_rows(v5, table, False) for table in V5_ROWS}
        before_reads = _reads(v5, ("2026-01-06T15:32:02", "2026-01-07T00:00:00"))  # v5's web_views bounds
    assert before_rows["events"][1][2] == "2026-01-06T15:32:02.500000Z"
    with Store.open(v5_path) as store:
        for table in V5_ROWS:  # every value, rowids included, comes back as the v5 text
            assert _all_rows(store, table, True) == before_rows[table], table
        assert _reads(store, (instant_us("2026-01-06T15:32:02Z"), instant_us("2026-01-07T00:00:00Z"))) == before_reads
        assert before_reads["working_orders"] and before_reads["events"] and before_reads["day"]["closed_trades"] == 1
        assert before_reads["fills"] and before_reads["trades"] and before_reads["setups"]
        orders = OrderRepository(store)
        assert [o.intent.order_ref for o in orders.stored_orders()] == ["slob:NQ-20260106-S1:entry",
                                                                        "slob:NQ-20260106-S1:stop"]
        assert orders.open_trades()[0]["entry_time"] == "2026-01-06T15:32:02Z"
        timeline = SetupRepository(store).timeline("NQ-20260106-S1")
        assert [(e.seq, e.to_dict()["bar_time"]) for e in timeline] == [
            (1, "2026-01-06T14:29:00Z"), (2, "2026-01-06T14:30:00Z"), (3, "2026-01-06T15:31:00Z")]
        run = BacktestRepository(store).run("q1")
        assert run is not None and run["created_at"] == "2026-12-04T20:48:12.304651Z"
        assert [t["decision_time"] for t in run["trades"]] == ["2026-01-05T14:59:00Z"]
        # comparisons with an instant: the text argument is compared as an instant, not as text
        assert store.order_count_since("2026-01-06T15:32:01.500000Z") == 2
        assert store.order_count_since("2026-01-06T15:32:01.500001Z") == 1
        assert store.fill_count_since("2026-01-06T15:32:02Z") == 1
        assert store.event_payloads_since("ORDER_PLACED", "2026-01-07T00:00:00Z") == ["{}"]
        assert [t["setup_id"] for t in store.trades_entered_since("2026-01-05T15:20:00Z")] == [
            "NQ-20260105-S1", "NQ-20260106-S1"]
        assert sorted(store.setup_states_updated_since("2026-01-06T18:30:00.123456Z")) == ["LIQ1_SEEN"]


def test_migrated_schema_equals_a_new_stores_with_the_v4_indexes(v5_path: Path, tmp_path: Path) -> None:
    with Store.open(v5_path):
        pass
    with Store.open(tmp_path / "new.db"):
        pass

    def schema(path: Path) -> list[tuple[str, str, str]]:
        conn = _raw(path)
        return conn.execute("SELECT type, name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name").fetchall()

    migrated = schema(v5_path)
    assert migrated == schema(tmp_path / "new.db")
    indexes = {name: sql for kind, name, sql in migrated if kind == "index"}
    assert {"events_type_ts", "setups_date", "orders_setup", "setups_open", "orders_working"} <= set(indexes)
    # the partial indexes keep the WHERE text adapters/store/views.py writes literally
    assert f"WHERE {store_views.OPEN_SETUP}" in " ".join(indexes["setups_open"].split())
    assert f"WHERE {store_views.working_order()}" in " ".join(indexes["orders_working"].split())
    assert not [name for kind, name, _ in migrated if name.endswith("_v5")]
    assert _raw(v5_path).execute("PRAGMA foreign_key_check").fetchall() == []


def test_migration_keeps_backtest_trades_and_their_cascade(v5_path: Path) -> None:
    with Store.open(v5_path) as store:
        assert BacktestRepository(store).run("q1")["trades"]  # type: ignore[index]
        with store.transaction() as conn:
            conn.execute("DELETE FROM backtest_runs WHERE name = 'q1'")
            assert conn.execute("SELECT count(*) FROM backtest_trades").fetchone()[0] == 0


def test_v5_time_with_an_offset_becomes_the_same_instant(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {"events": [{"id": 1, "run_id": None, "ts": "2026-01-06T16:32:02.5+01:00", "type": "X", "symbol": None,
                        "payload": None}]}
    _v5_store(db_path, monkeypatch, rows)
    with Store.open(db_path) as store:
        assert list(store.query("SELECT ts + 0 AS us, iso_time(ts) AS ts FROM events")) == [
            {"us": instant_us("2026-01-06T15:32:02.500000Z"), "ts": "2026-01-06T15:32:02.500000Z"}]


def test_v5_store_with_an_unreadable_time_is_refused_and_left_at_v5(db_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {**V5_ROWS, "health": [{**V5_ROWS["health"][0], "ts": "yesterday"}]}
    _v5_store(db_path, monkeypatch, rows)
    with pytest.raises(StoreError, match=r"cannot migrate to schema v6: health.ts holds 'yesterday', which is no ISO"):
        Store.open(db_path)
    conn = _raw(db_path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "5"
    assert conn.execute("SELECT typeof(started_at) FROM runs WHERE id = 1").fetchone()[0] == "text"
    assert conn.execute("SELECT count(*) FROM backtest_trades").fetchone()[0] == 1
    assert not [row for row in conn.execute("SELECT name FROM sqlite_master") if row[0].endswith("_v5")]


def test_written_instants_read_back_as_the_text_they_were_written_from(store: Store) -> None:
    for text in ("2026-01-06T15:32:02Z", "2026-01-06T15:32:02.000001Z", "2026-01-06T15:32:02.100000Z",
                 "1999-12-31T23:59:59.999999Z"):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        store.log_event("X", moment, {})
        assert next(store.query("SELECT iso_time(ts) AS ts FROM events ORDER BY id DESC LIMIT 1"))["ts"] == text
        assert moment.astimezone(UTC).isoformat().replace("+00:00", "Z") == text


def test_v4_store_whose_upgrade_fails_is_left_at_v4_and_fails_the_same_way_again(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {"health": [{**V5_ROWS["health"][0], "ts": "yesterday"}]}
    with monkeypatch.context() as patch:
        patch.setattr(store_db, "SCHEMA_VERSION", 4)
        with Store.open(db_path) as store, store.transaction() as conn:
            for row in rows["health"]:
                conn.execute(f"INSERT INTO health ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))
    for _ in range(2):
        with pytest.raises(StoreError, match=r"cannot migrate to schema v6: health\.ts holds 'yesterday'"):
            Store.open(db_path)
        conn = _raw(db_path)
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "4"
        assert [row[1] for row in conn.execute("PRAGMA table_info(tracked_days)")][-1] == "updated_at"
        assert not [row for row in conn.execute("SELECT name FROM sqlite_master") if row[0].endswith("_v6")]
        conn.close()
