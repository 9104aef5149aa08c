"""The SQLite schema and its migrations.

Conventions: every instant is INTEGER microseconds since the Unix epoch (UTC) since v6 (before,
only `ticks.ts` and `candles.ts` were, and every other time column was ISO-8601 text). The store's
rows still give the columns of ISO_TEXT_INSTANTS as `2026-01-06T15:01:00Z` text (adapters/store/
instants.py), so people and callers read them as before. Dates such as `trading_date` are
calendar days, not instants, and stay `YYYY-MM-DD` text. JSON columns hold compact JSON text.
"""
from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable

from slob_cli.adapters.store.instants import add_time_functions, instant_us
from slob_cli.errors import StoreError

SCHEMA_VERSION = 8

# Every column that holds an instant (tests/adapters/test_store.py checks the live schema against
# them): those rows give as microseconds, and those rows give as ISO text (stored as text until v5).
MICROSECOND_INSTANTS: dict[str, tuple[str, ...]] = {"ticks": ("ts",), "candles": ("ts",)}
ISO_TEXT_INSTANTS: dict[str, tuple[str, ...]] = {
    "runs": ("started_at", "ended_at"),
    "events": ("ts",),
    "setups": ("liq1_time", "high_time", "low_time", "nowick_time", "liq2_time", "trigger_time", "updated_at"),
    "setup_events": ("bar_time",),
    "state": ("updated_at",),
    "orders": ("created_at", "sent_at", "updated_at"),
    "fills": ("ts",),
    "trades": ("entry_time", "exit_time", "settled_at"),
    "health": ("ts",),
    "tracked_days": ("updated_at",),
    "backtest_runs": ("created_at",),
    "backtest_trades": ("decision_time", "entry_time", "exit_time"),
}

_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    ts INTEGER NOT NULL,
    price REAL NOT NULL,
    size REAL NOT NULL,
    local_symbol TEXT,
    run_id INTEGER
);
CREATE INDEX IF NOT EXISTS ticks_symbol_ts ON ticks(symbol, ts);

CREATE TABLE IF NOT EXISTS candles (
    symbol TEXT NOT NULL,
    ts INTEGER NOT NULL,
    open REAL NOT NULL,
    high REAL NOT NULL,
    low REAL NOT NULL,
    close REAL NOT NULL,
    volume REAL NOT NULL,
    tick_count INTEGER NOT NULL,
    dropped_ticks INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT 'live',
    local_symbol TEXT,
    PRIMARY KEY (symbol, ts)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    args TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    exit_code INTEGER,
    pid INTEGER,
    data_mode TEXT,
    stats TEXT
);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    run_id INTEGER,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    symbol TEXT,
    payload TEXT
);
CREATE INDEX IF NOT EXISTS events_type_ts ON events(type, ts);

CREATE TABLE IF NOT EXISTS setups (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    trading_date TEXT NOT NULL,
    direction TEXT NOT NULL,
    state TEXT NOT NULL,
    invalidation_reason TEXT,
    liq1_time TEXT, liq1_price REAL,
    high REAL, high_time TEXT,
    low REAL, low_time TEXT,
    nowick_time TEXT,
    liq2_time TEXT, liq2_price REAL,
    trigger_time TEXT,
    entry_estimate REAL, stop REAL, target REAL, risk_reward REAL,
    state_json TEXT,
    updated_at TEXT
);
CREATE INDEX IF NOT EXISTS setups_date ON setups(symbol, trading_date);

CREATE TABLE IF NOT EXISTS setup_events (
    id INTEGER PRIMARY KEY,
    setup_id TEXT,
    symbol TEXT NOT NULL,
    trading_date TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bar_time TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT,
    UNIQUE (symbol, trading_date, seq)
);

CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    order_ref TEXT PRIMARY KEY,
    setup_id TEXT,
    role TEXT NOT NULL,
    symbol TEXT NOT NULL,
    local_symbol TEXT,
    action TEXT NOT NULL,
    order_type TEXT NOT NULL,
    quantity REAL NOT NULL,
    limit_price REAL,
    stop_price REAL,
    tif TEXT,
    oca_group TEXT,
    parent_ref TEXT,
    broker_order_id INTEGER,
    perm_id INTEGER,
    status TEXT NOT NULL,
    filled REAL NOT NULL DEFAULT 0,
    avg_fill_price REAL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    updated_at TEXT,
    run_id INTEGER
);
CREATE INDEX IF NOT EXISTS orders_setup ON orders(setup_id);

CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY,
    order_ref TEXT,
    broker_order_id INTEGER,
    perm_id INTEGER,
    symbol TEXT,
    side TEXT NOT NULL,
    quantity REAL NOT NULL,
    price REAL NOT NULL,
    ts TEXT NOT NULL,
    commission REAL,
    realized_pnl REAL
);

CREATE TABLE IF NOT EXISTS trades (
    setup_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    direction TEXT NOT NULL,
    quantity REAL NOT NULL,
    entry_estimate REAL,
    entry_time TEXT, entry_price REAL,
    exit_time TEXT, exit_price REAL, exit_reason TEXT,
    pnl_points REAL, pnl_money REAL, commission REAL,
    status TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS health (
    id INTEGER PRIMARY KEY,
    run_id INTEGER,
    ts TEXT NOT NULL,
    connected INTEGER,
    last_tick_age REAL,
    buffer_utilization REAL,
    open_orders INTEGER,
    positions INTEGER,
    payload TEXT
);
"""

# v2: a trade's result in full (core/pnl.TradeResult: gross, entry and exit commission, the time it
# became final), and the strategy config each tracked day was computed with.
_V2 = """
ALTER TABLE trades ADD COLUMN gross_money REAL;
ALTER TABLE trades ADD COLUMN entry_commission REAL;
ALTER TABLE trades ADD COLUMN exit_commission REAL;
ALTER TABLE trades ADD COLUMN settled_at TEXT;

CREATE TABLE IF NOT EXISTS tracked_days (
    symbol TEXT NOT NULL,
    trading_date TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config_json TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (symbol, trading_date)
);
"""

# v3: named backtest runs (`slob backtest`) and their trades; deleting a run deletes its trades.
_V3_BACKTESTS = """
CREATE TABLE IF NOT EXISTS backtest_runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    symbol TEXT NOT NULL,
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    candles INTEGER NOT NULL,
    trades INTEGER NOT NULL,
    net_pnl REAL NOT NULL,
    win_rate REAL,
    profit_factor REAL,
    expectancy_r REAL,
    max_drawdown REAL NOT NULL,
    max_drawdown_pct REAL NOT NULL,
    settings TEXT NOT NULL,
    stats TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS backtest_trades (
    run_id INTEGER NOT NULL REFERENCES backtest_runs(id) ON DELETE CASCADE,
    setup_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    direction TEXT NOT NULL,
    trading_date TEXT NOT NULL,
    contracts INTEGER NOT NULL,
    decision_time TEXT NOT NULL,
    entry_estimate REAL NOT NULL,
    stop REAL NOT NULL,
    target REAL NOT NULL,
    entry_time TEXT NOT NULL,
    entry_price REAL NOT NULL,
    exit_time TEXT NOT NULL,
    exit_price REAL NOT NULL,
    exit_reason TEXT NOT NULL,
    points REAL NOT NULL,
    commission REAL NOT NULL,
    pnl REAL NOT NULL,
    r_multiple REAL NOT NULL,
    PRIMARY KEY (run_id, setup_id)
) WITHOUT ROWID;
"""

# v4: partial indexes holding only the rows `slob status` and `slob web` list on every read (open
# setups, working orders), so a year of finished ones costs nothing. adapters/store/views.py writes the same
# WHERE terms (literally: SQLite matches a partial index against the query's text, not bound values).
_V4_OPEN_ROWS = """
CREATE INDEX IF NOT EXISTS setups_open ON setups(trading_date, id)
    WHERE lower(state) NOT IN ('setup_complete', 'invalidated', 'setup_skipped', 'skipped');
CREATE INDEX IF NOT EXISTS orders_working ON orders(created_at)
    WHERE lower(status) NOT IN ('apicancelled', 'cancelled', 'expired', 'filled', 'inactive', 'rejected');
"""

# v5: what each tracked day's stored events were computed from (a digest of its candles, session
# window, strategy config and tracker code) and how many events and candidates that gave, so
# `setups track` can skip a finished day whose inputs and outputs are unchanged.
_V5_TRACKED_INPUTS = """
ALTER TABLE tracked_days ADD COLUMN input_digest TEXT;
ALTER TABLE tracked_days ADD COLUMN event_count INTEGER;
ALTER TABLE tracked_days ADD COLUMN setup_count INTEGER;
"""


def _v6_integer_instants(conn: sqlite3.Connection) -> None:
    """v6: one time encoding. Rebuild each table with ISO-text instants as INTEGER microseconds.

    SQLite cannot change a column's type, so each table is copied into a new one declared the same
    but for those columns (their values converted by `us_time`), the old one dropped and the new
    one renamed; its indexes (the partial ones of v4 too) are created again from their own SQL.
    Foreign keys are checked once at the end of the migration (Store._migrate).
    """
    add_time_functions(conn)
    for table, columns in ISO_TEXT_INSTANTS.items():
        create = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        indexes = [sql for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,))]
        create, renamed = re.subn(r'^CREATE TABLE\s+(?:IF NOT EXISTS\s+)?"?\w+"?', f"CREATE TABLE {table}_v6", create)
        assert renamed == 1, create
        for column in columns:
            create, retyped = re.subn(rf"\b({column})\s+TEXT\b", r"\1 INTEGER", create)
            assert retyped == 1, (table, column, create)
        info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        names = [row[1] for row in info]
        values = [f"us_time({name})" if name in columns else name for name in names]
        keys = [row for row in info if row[5]]
        if "WITHOUT ROWID" not in create.upper() and not (len(keys) == 1 and keys[0][2].upper() == "INTEGER"):
            names, values = ["rowid", *names], ["rowid", *values]  # a rowid that is no key is read (ORDER BY rowid)
        conn.execute(create)
        try:
            conn.execute(f"INSERT INTO {table}_v6 ({', '.join(names)}) SELECT {', '.join(values)} FROM {table}")
        except sqlite3.OperationalError:  # us_time raised: name the value (the transaction rolls everything back)
            _refuse_unreadable_times(conn, table, columns)
            raise
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_v6 RENAME TO {table}")
        for index in indexes:
            conn.execute(index)


def _refuse_unreadable_times(conn: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> None:
    """Raise StoreError naming the first stored time of these columns that is no ISO-8601 instant."""
    for column in columns:
        for (value,) in conn.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"):
            try:
                instant_us(value)
            except (TypeError, ValueError):
                raise StoreError(f"cannot migrate to schema v6: {table}.{column} holds {value!r}, which is no "
                                 "ISO-8601 time; nothing was changed") from None


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run plain DDL statements (no `;` inside one) inside the caller's transaction.

    Not executescript(): it commits the open transaction first, so a later migration that fails
    would leave this one applied under the old version number (and the next open would fail on it).
    """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


# v7: a version per (symbol, UTC day) of the stored candles, kept by SQLite itself: triggers bump it
# whenever a candle of that day is inserted, deleted or changed, by slob or any other writer (a
# sqlite3 shell). `setups track` records the versions of the days a trading day reads and, while
# they stand, knows the day unchanged without reading its candles (runtime/tracking.py). A version
# only ever grows; a day without a row is at version 0. An update that changes no value bumps nothing.
DAY_US = 86_400_000_000
_CANDLE_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume", "tick_count", "dropped_ticks", "source",
                   "local_symbol")


def _utc_day(ts: str) -> str:
    """Return SQL for the UTC day (days since the epoch, floored as Python's //) of the microseconds `ts`."""
    return f"({ts} - (({ts} % {DAY_US}) + {DAY_US}) % {DAY_US}) / {DAY_US}"


def _bump(row: str) -> str:
    return (f"INSERT INTO candle_versions(symbol, utc_day, version) VALUES ({row}.symbol, {_utc_day(row + '.ts')}, 1)"
            " ON CONFLICT(symbol, utc_day) DO UPDATE SET version = version + 1;")


_V7_CANDLE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS candle_versions (symbol TEXT NOT NULL, utc_day INTEGER NOT NULL,"
    " version INTEGER NOT NULL, PRIMARY KEY (symbol, utc_day)) WITHOUT ROWID",
    f"CREATE TRIGGER IF NOT EXISTS candles_inserted AFTER INSERT ON candles BEGIN {_bump('NEW')} END",
    f"CREATE TRIGGER IF NOT EXISTS candles_deleted AFTER DELETE ON candles BEGIN {_bump('OLD')} END",
    "CREATE TRIGGER IF NOT EXISTS candles_updated AFTER UPDATE ON candles WHEN "
    + " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in _CANDLE_COLUMNS)
    + f" BEGIN {_bump('OLD')} {_bump('NEW')} END",
    f"INSERT INTO candle_versions(symbol, utc_day, version) SELECT symbol, {_utc_day('ts')}, 1 FROM candles"
    " GROUP BY 1, 2 ON CONFLICT(symbol, utc_day) DO NOTHING",
)


def _run_statements(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    """Run statements one by one inside the caller's transaction (see _run_script)."""
    for statement in statements:
        conn.execute(statement)


def _v8_compact_events(conn: sqlite3.Connection) -> None:
    """v8: a setup event stores its data and direction, not its whole `to_dict()` beside the columns that repeat it.

    Before, `setup_events.payload` held the event's `to_dict()` as canonical JSON: its bar time,
    candidate id, symbol, trading date and type again, about 190 bytes an event where its data is
    about 30. The column becomes `data` (the payload's "data", canonical JSON) and `direction` is
    added (the payload's "direction"); readers make the whole payload again from the columns
    (`EVENT_PAYLOAD_SQL`, `SetupRepository`). A payload that is no JSON object with "data" (no slob
    wrote one) is kept whole as the data, so nothing stored is lost.
    """
    from slob_cli.adapters.store.setups import canonical_json

    conn.execute("ALTER TABLE setup_events ADD COLUMN direction TEXT")
    conn.execute("ALTER TABLE setup_events RENAME COLUMN payload TO data")
    changed = []
    for row_id, text in conn.execute("SELECT id, data FROM setup_events").fetchall():
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            continue  # not JSON: left as it is (a reader meets it as before)
        if isinstance(payload, dict) and "data" in payload:
            direction = payload.get("direction")
            changed.append((direction if isinstance(direction, str) else None, canonical_json(payload["data"]), row_id))
    conn.executemany("UPDATE setup_events SET direction=?, data=? WHERE id=?", changed)


# A setup event's whole payload (its `to_dict()`, keys in canonical order), made again in SQL from its
# columns (v8). Data that is not JSON reads as null.
EVENT_PAYLOAD_SQL = ("json_object('bar_time', iso_time(bar_time), 'candidate_id', setup_id, 'data',"
                     " CASE WHEN json_valid(data) THEN json(data) END, 'direction', direction, 'symbol', symbol,"
                     " 'trading_date', trading_date, 'type', type)")


# MIGRATIONS[n] upgrades a file at version n to n + 1. Version 0 is an empty file.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], object]] = {
    0: lambda conn: _run_script(conn, _V1),
    1: lambda conn: _run_script(conn, _V2),
    2: lambda conn: _run_script(conn, _V3_BACKTESTS),
    3: lambda conn: _run_script(conn, _V4_OPEN_ROWS),
    4: lambda conn: _run_script(conn, _V5_TRACKED_INPUTS),
    5: lambda conn: _v6_integer_instants(conn),
    6: lambda conn: _run_statements(conn, _V7_CANDLE_VERSIONS),
    7: _v8_compact_events,
}
