"""Read-only views of the store shared by `slob status`, `slob dashboard` and the validation report.

Every function takes a sqlite3 connection (possibly read-only) and only runs SELECTs. Status words
written by other parts (order status, setup state) are compared case-insensitively, so both IB's
`Filled` and a lower-case `filled` count as done.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from slob_cli.core.sessions import trading_date_of  # noqa: F401 - re-exported for the views' callers
from slob_cli.core.validation import DONE_STATUSES

UTC = timezone.utc

TERMINAL_SETUP_STATES = ("setup_complete", "invalidated", "setup_skipped", "skipped")
DONE_ORDER_STATUSES = tuple(sorted(DONE_STATUSES))


def parse_time(text: str | None) -> datetime | None:
    """Parse a stored UTC ISO time (`...Z` or with offset); None stays None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _rows(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _payload(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def backtest_runs(conn: sqlite3.Connection, limit: int = 5) -> list[dict[str, Any]]:
    """Return the newest stored backtest runs (`slob backtest`), newest first, without their trades."""
    return _rows(
        conn,
        "SELECT id, name, created_at, symbol, from_date, to_date, trades, net_pnl, win_rate, profit_factor,"
        " expectancy_r, max_drawdown, max_drawdown_pct FROM backtest_runs ORDER BY id DESC LIMIT ?",
        (limit,),
    )


def recent_runs(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Return the latest runs, newest first."""
    return _rows(
        conn,
        "SELECT id, command, started_at, ended_at, exit_code, pid, data_mode FROM runs ORDER BY id DESC LIMIT ?",
        (limit,),
    )


def open_setups(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return setups in a non-terminal state, oldest first."""
    marks = ",".join("?" * len(TERMINAL_SETUP_STATES))
    return _rows(
        conn,
        "SELECT id, symbol, trading_date, direction, state, high, low, liq1_price, liq2_price, entry_estimate,"
        f" stop, target, updated_at FROM setups WHERE lower(state) NOT IN ({marks})"
        " ORDER BY trading_date, id",
        TERMINAL_SETUP_STATES,
    )


def working_orders(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return orders that are neither filled nor cancelled nor rejected."""
    marks = ",".join("?" * len(DONE_ORDER_STATUSES))
    return _rows(
        conn,
        "SELECT order_ref, setup_id, role, symbol, action, order_type, quantity, limit_price, stop_price,"
        f" status, filled, created_at FROM orders WHERE lower(status) NOT IN ({marks}) ORDER BY created_at",
        DONE_ORDER_STATUSES,
    )


def open_positions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return trades whose entry filled and whose exit has not happened yet."""
    return _rows(
        conn,
        "SELECT setup_id, symbol, direction, quantity, entry_time, entry_price, status FROM trades"
        " WHERE entry_price IS NOT NULL AND exit_time IS NULL ORDER BY entry_time",
    )


def day_pnl(conn: sqlite3.Connection, trading_date: date) -> dict[str, Any]:
    """Return the realised P&L of the closed trades of one New York trading date."""
    rows = _rows(
        conn,
        "SELECT t.setup_id, t.entry_time, t.exit_time, t.pnl_points, t.pnl_money, t.commission,"
        " s.trading_date FROM trades t LEFT JOIN setups s ON s.id = t.setup_id WHERE t.exit_time IS NOT NULL",
    )
    wanted = trading_date.isoformat()
    chosen = []
    for row in rows:
        day = row["trading_date"]
        if day is None:
            moment = parse_time(row["entry_time"]) or parse_time(row["exit_time"])
            day = trading_date_of(moment).isoformat() if moment else None
        if day == wanted:
            chosen.append(row)
    return {
        "trading_date": wanted,
        "closed_trades": len(chosen),
        "pnl_points": round(sum(r["pnl_points"] or 0.0 for r in chosen), 2),
        "pnl_money": round(sum(r["pnl_money"] or 0.0 for r in chosen), 2),
        "commission": round(sum(r["commission"] or 0.0 for r in chosen), 2),
    }


def last_health(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """Return the newest health heartbeat, payload decoded, or None."""
    rows = _rows(
        conn,
        "SELECT id, run_id, ts, connected, last_tick_age, buffer_utilization, open_orders, positions, payload"
        " FROM health ORDER BY id DESC LIMIT 1",
    )
    if not rows:
        return None
    row = rows[0]
    row["payload"] = _payload(row["payload"])
    row["connected"] = None if row["connected"] is None else bool(row["connected"])
    return row


def reference_levels(conn: sqlite3.Connection, trading_date: date, symbol: str | None = None) -> dict[str, Any] | None:
    """Return the frozen reference (LSE) high and low of a trading date, or None before they freeze."""
    sql = "SELECT symbol, bar_time, payload FROM setup_events WHERE type = 'LSE_LEVELS_FROZEN' AND trading_date = ?"
    params: list[Any] = [trading_date.isoformat()]
    if symbol is not None:
        sql += " AND symbol = ?"
        params.append(symbol)
    row = conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
    if row is None:
        return None
    payload = _payload(row[2])
    # The tracker stores SetupEvent.to_dict(), whose figures sit under "data"; accept both shapes.
    data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
    return {"symbol": row[0], "frozen_at": row[1], "high": data.get("high"), "low": data.get("low")}


def latest_events(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Return the newest operational and setup events together, newest first."""
    operational = _rows(
        conn, "SELECT ts, type, symbol, payload, 'run' AS source FROM events ORDER BY id DESC LIMIT ?", (limit,)
    )
    setup = _rows(
        conn,
        "SELECT bar_time AS ts, type, symbol, payload, 'setup' AS source, setup_id FROM setup_events"
        " ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    merged = operational + setup
    for row in merged:
        row["payload"] = _payload(row["payload"])
    merged.sort(key=lambda row: parse_time(row["ts"]) or datetime.min.replace(tzinfo=UTC), reverse=True)
    return merged[:limit]


def latest_tick_time(conn: sqlite3.Connection, symbol: str | None = None) -> datetime | None:
    """Return the time of the newest stored tick (of a symbol, or any)."""
    if symbol is None:
        value = conn.execute("SELECT max(ts) FROM ticks").fetchone()[0]
    else:
        value = conn.execute("SELECT max(ts) FROM ticks WHERE symbol = ?", (symbol,)).fetchone()[0]
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def local_time(text: str | None, zone: ZoneInfo, with_date: bool = True) -> str:
    """Return a stored UTC time shown in the display zone (`-` when missing)."""
    moment = parse_time(text)
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def format_price(value: float | None) -> str:
    """Return a price on two decimals, or `-`."""
    return "-" if value is None else f"{value:,.2f}"
