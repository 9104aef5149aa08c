"""Read-only views of the store shared by `slob status`, `slob dashboard` and the validation report.

Every function takes a sqlite3 connection (possibly read-only) and only runs SELECTs. Status words
written by other parts (order status, setup state) are compared case-insensitively, so both IB's
`Filled` and a lower-case `filled` count as done.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from slob_cli.core.models import INSTRUMENTS, Direction
from slob_cli.core.pnl import mark_open
from slob_cli.core.sessions import trading_date_of  # noqa: F401 - re-exported for the views' callers
from slob_cli.core.validation import DONE_STATUSES

UTC = timezone.utc

TERMINAL_SETUP_STATES = ("setup_complete", "invalidated", "setup_skipped", "skipped")
DONE_ORDER_STATUSES = tuple(sorted(DONE_STATUSES))


def _literal_list(words: tuple[str, ...]) -> str:
    """Return constant words as an SQL list, e.g. ('a', 'b'): the partial indexes of schema v4 match only literals."""
    return "(" + ", ".join("'" + word.replace("'", "''") + "'" for word in words) + ")"


# The same terms as the partial indexes setups_open and orders_working (adapters/store/schema.py, v4).
_OPEN_SETUP = f"lower(state) NOT IN {_literal_list(TERMINAL_SETUP_STATES)}"
_WORKING_ORDER = f"lower(status) NOT IN {_literal_list(DONE_ORDER_STATUSES)}"


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


class StoreMemo:
    """Answers of read-only queries, kept until the store changes.

    SQLite's `PRAGMA data_version` moves whenever another connection commits, so a reader that asks
    often (`slob web`) answers an unchanged store from memory. Only for a connection that itself
    never writes (its own commits do not move the number).
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._answers: dict[Any, Any] = {}

    def reader(self, conn: sqlite3.Connection) -> Callable[[Any, Callable[[], Any]], Any]:
        """Return read(key, compute): the kept answer for key while the store is unchanged, else compute()."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._answers.clear()
            self._version = version

        def read(key: Any, compute: Callable[[], Any]) -> Any:
            if key not in self._answers:
                self._answers[key] = compute()
            return self._answers[key]

        return read


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
    return _rows(
        conn,
        "SELECT id, symbol, trading_date, direction, state, high, low, liq1_price, liq2_price, entry_estimate,"
        f" stop, target, updated_at FROM setups WHERE {_OPEN_SETUP} ORDER BY trading_date, id",
    )


def working_orders(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return orders that are neither filled nor cancelled nor rejected."""
    return _rows(
        conn,
        "SELECT order_ref, setup_id, role, symbol, action, order_type, quantity, limit_price, stop_price,"
        f" status, filled, created_at, run_id FROM orders WHERE {_WORKING_ORDER} ORDER BY created_at",
    )


def open_positions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return trades whose entry filled and whose exit has not happened yet, with their stop and target."""
    return _rows(
        conn,
        "SELECT t.setup_id, t.symbol, t.direction, t.quantity, t.entry_time, t.entry_price, t.entry_commission,"
        " t.status, s.stop, s.target, (SELECT max(o.run_id) FROM orders o WHERE o.setup_id = t.setup_id) AS run_id"
        " FROM trades t LEFT JOIN setups s ON s.id = t.setup_id"
        " WHERE t.entry_price IS NOT NULL AND t.exit_time IS NULL ORDER BY t.entry_time",
    )


def day_pnl(conn: sqlite3.Connection, trading_date: date) -> dict[str, Any]:
    """Return the realised P&L of the closed trades of one New York trading date (each trade's core/pnl result)."""
    wanted = trading_date.isoformat()
    # Rows of other known dates never count: leave them in SQLite (a year of trades costs a scan, not a loop).
    rows = _rows(
        conn,
        "SELECT t.setup_id, t.entry_time, t.exit_time, t.pnl_points, t.gross_money, t.pnl_money, t.commission,"
        " s.trading_date FROM trades t LEFT JOIN setups s ON s.id = t.setup_id"
        " WHERE t.exit_time IS NOT NULL AND (s.trading_date = ? OR s.trading_date IS NULL) ORDER BY t.exit_time",
        (wanted,),
    )
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
        "trades": [{"setup_id": r["setup_id"], "pnl_points": r["pnl_points"], "gross_money": r["gross_money"],
                    "commission": r["commission"], "pnl_money": r["pnl_money"]} for r in chosen],
    }


@dataclass(frozen=True)
class StoreClock:
    """The clock a store's newest run lives by: the wall clock, or a simulated run's own virtual clock."""

    now: datetime
    simulated: bool = False
    run_id: int | None = None
    run_ended: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"now": self.now.isoformat(), "simulated": self.simulated, "run_id": self.run_id,
                "run_ended": self.run_ended}


def is_sim_run(run: dict[str, Any]) -> bool:
    """Return True for a run on the simulated gateway (its times are virtual)."""
    return run.get("data_mode") == "sim" or bool(_payload(run.get("args")).get("sim"))


def on_sim_clock(run: dict[str, Any]) -> bool:
    """Return True for a run whose times are a simulated gateway's (--sim, or trade --follow-sim-clock/--lockstep)."""
    return is_sim_run(run) or bool(_payload(run.get("args")).get("sim_clock"))


def candle_symbols(conn: Any, table: str = "candles") -> list[str]:
    """Return the symbols that have candles (or ticks), alphabetically (a skip-scan: one index probe each)."""
    found: list[str] = []
    row = conn.execute(f"SELECT min(symbol) FROM {table}").fetchone()
    while row and row[0] is not None:
        found.append(row[0])
        row = conn.execute(f"SELECT min(symbol) FROM {table} WHERE symbol > ?", (row[0],)).fetchone()
    return found


def store_clock(conn: sqlite3.Connection, wall_now: datetime) -> StoreClock:
    """Return "now" for a store: a simulated newest run's last virtual instant, else the wall clock.

    A sim run stores virtual times (a day in 2026-01 while the wall clock says otherwise), so its
    "today", ages and P&L are read on its own clock: its newest heartbeat or tick (a clock running
    at max speed keeps racing after the data ends, so its recorded end may lie hours later).
    """
    runs = _rows(conn, "SELECT id, args, started_at, ended_at, data_mode FROM runs ORDER BY id DESC LIMIT 1")
    if not runs or not on_sim_clock(runs[0]):
        return StoreClock(wall_now)
    run = runs[0]
    # Index probes only (the newest heartbeat, the newest tick per symbol): pages ask for this often.
    health = conn.execute("SELECT ts, run_id FROM health ORDER BY id DESC LIMIT 1").fetchone()
    moments = [parse_time(health[0]) if health and health[1] == run["id"] else None]
    moments += [latest_tick_time(conn, symbol) for symbol in candle_symbols(conn, "ticks")]
    known = [m for m in moments if m is not None]
    if not known:
        known = [m for m in (parse_time(run["ended_at"]), parse_time(run["started_at"])) if m is not None][:1]
    return StoreClock(max(known) if known else wall_now, True, run["id"], run["ended_at"] is not None)


def ended_sim_runs(conn: sqlite3.Connection) -> set[int]:
    """Return the ids of sim runs that have ended (their gateway and its orders no longer exist)."""
    rows = _rows(conn, "SELECT id, args, data_mode, ended_at FROM runs WHERE ended_at IS NOT NULL")
    return {row["id"] for row in rows if is_sim_run(row)}


def last_price(conn: sqlite3.Connection, symbol: str) -> float | None:
    """Return the newest known price of a symbol: its latest tick, else its latest candle's close."""
    row = conn.execute("SELECT price FROM ticks WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,)).fetchone()
    if row is None:
        row = conn.execute("SELECT close FROM candles WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,)).fetchone()
    return None if row is None else float(row[0])


def live_book(conn: sqlite3.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return working orders and open positions, marked: last price, unrealized P&L, distance to stop/target.

    Rows of an ended sim run carry `ended_sim_run` (its gateway is gone: they are not live).
    """
    ended = ended_sim_runs(conn)
    orders = working_orders(conn)
    for order in orders:
        order["ended_sim_run"] = order.get("run_id") in ended
    positions = mark_positions(conn, open_positions(conn))
    for position in positions:
        position["ended_sim_run"] = position.get("run_id") in ended
    return orders, positions


def mark_positions(conn: sqlite3.Connection, positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return open positions marked at the last price: unrealized points and money, distance to stop/target."""
    marked = []
    for row in positions:
        position = dict(row)
        marked.append(position)
        price = last_price(conn, position["symbol"])
        position.update(last_price=price, unrealized_points=None, unrealized_money=None, to_stop=None,
                        to_target=None)
        if price is None or position["entry_price"] is None:
            continue
        multiplier = INSTRUMENTS[position["symbol"]].multiplier if position["symbol"] in INSTRUMENTS else 1.0
        mark = mark_open(Direction(str(position["direction"]).upper()), multiplier, position["quantity"],
                         position["entry_price"], position.get("entry_commission") or 0.0, price,
                         position.get("stop"), position.get("target"))
        position.update(unrealized_points=mark.points, unrealized_money=mark.unrealized,
                        to_stop=mark.to_stop, to_target=mark.to_target)
    return marked


def human_age(seconds: float | None) -> str:
    """Return an age as people say it: "3 s", "2 h 5 min", "41 days" ("-" when unknown)."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        rest = int(seconds - minutes * 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


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
    inner = payload.get("data")
    data = inner if isinstance(inner, dict) else payload
    return {"symbol": row[0], "frozen_at": row[1], "high": data.get("high"), "low": data.get("low")}


# Tracker steps that build a structure; the events pane leaves them out so orders, fills and trades show.
_TRACKER_STEPS = ("HIGH_SET", "LOW_SET", "HIGH_CONFIRMED", "LOW_CONFIRMED", "STRUCTURE_RESET", "ARMED", "DISARMED")


def latest_events(conn: sqlite3.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Return the newest events, newest first: runs' events, setup milestones, fills and closed trades."""
    operational = _rows(
        conn, "SELECT ts, type, symbol, payload, 'run' AS source FROM events ORDER BY id DESC LIMIT ?", (limit,)
    )
    marks = ",".join("?" * len(_TRACKER_STEPS))
    setup = _rows(
        conn,
        "SELECT bar_time AS ts, type, symbol, payload, 'setup' AS source, setup_id FROM setup_events"
        f" WHERE type NOT IN ({marks}) ORDER BY id DESC LIMIT ?",
        (*_TRACKER_STEPS, limit),
    )
    fills = _rows(
        conn,
        "SELECT f.ts, 'FILL' AS type, f.symbol, NULL AS payload, 'fill' AS source, o.setup_id,"
        " f.side || ' ' || f.quantity || ' @ ' || f.price AS detail"
        " FROM fills f LEFT JOIN orders o ON o.order_ref = f.order_ref ORDER BY f.ts DESC LIMIT ?",
        (limit,),
    )
    trades = _rows(
        conn,
        "SELECT exit_time AS ts, 'TRADE_CLOSED' AS type, symbol, NULL AS payload, 'trade' AS source, setup_id,"
        " pnl_money FROM trades WHERE status = 'CLOSED' AND exit_time IS NOT NULL ORDER BY exit_time DESC LIMIT ?",
        (limit,),
    )
    for row in trades:
        row["detail"] = "-" if row["pnl_money"] is None else f"${row['pnl_money']:+,.2f} net"
    merged = operational + setup + fills + trades
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
