"""Named reads behind `slob status`, `slob dashboard` and `slob web`: short SELECTs, plain rows.

Every method only reads, so each runs on a read-only store too. Rows come back as dicts keyed by
column name (or as the tuple or scalar the docstring names); decoding payloads, marking positions
and choosing dates stays in runtime/views.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from slob_cli.adapters.store.schema import EVENT_PAYLOAD_SQL, ISO_TEXT_INSTANTS

TERMINAL_SETUP_STATES = ("setup_complete", "invalidated", "setup_skipped", "skipped")


def _literal_list(words: tuple[str, ...]) -> str:
    """Return constant words as an SQL list, e.g. ('a', 'b'): the partial indexes of schema v4 match only literals."""
    return "(" + ", ".join("'" + word.replace("'", "''") + "'" for word in words) + ")"


# The same terms as the partial indexes setups_open and orders_working (schema.py, v4).
OPEN_SETUP = f"lower(state) NOT IN {_literal_list(TERMINAL_SETUP_STATES)}"


@cache
def working_order() -> str:
    """Return the orders_working term (imported late: the order statuses cost 35 ms of every command's start)."""
    from slob_cli.core.validation import DONE_STATUSES

    return f"lower(status) NOT IN {_literal_list(tuple(sorted(DONE_STATUSES)))}"

SETUP_COLUMNS = (
    "id, symbol, trading_date, direction, state, invalidation_reason, liq1_time, liq1_price, high, high_time,"
    " low, low_time, liq2_time, liq2_price, trigger_time, entry_estimate, stop, target, risk_reward, updated_at"
)


class ViewQueries:
    """Reads for the status, dashboard and web views, mixed into `Store` (which provides `_conn` and `query`)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:
        def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]: ...

    def _dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return list(self.query(sql, params))

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, params).fetchone()[0]

    # ------------------------------------------------------------------ the connection itself
    def data_version(self) -> int:
        """Return SQLite's data version: it moves whenever another connection commits."""
        return int(self._scalar("PRAGMA data_version"))

    def refuse_writes(self) -> None:
        """Make this connection refuse every write statement (besides a read-only open)."""
        self._conn.execute("PRAGMA query_only = 1")

    # ------------------------------------------------------------------ runs and health
    def backtest_run_rows(self, limit: int) -> list[dict[str, Any]]:
        """Return the newest stored backtest runs, newest first, without their trades."""
        return self._dicts(
            "SELECT id, name, iso_time(created_at) AS created_at, symbol, from_date, to_date, trades, net_pnl, win_rate, profit_factor,"
            " expectancy_r, max_drawdown, max_drawdown_pct FROM backtest_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )

    def recent_run_rows(self, limit: int) -> list[dict[str, Any]]:
        """Return the latest runs (id, command, times, exit code, pid, data mode), newest first."""
        return self._dicts(
            "SELECT id, command, iso_time(started_at) AS started_at, iso_time(ended_at) AS ended_at, exit_code, pid,"
            " data_mode FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )

    def newest_run_row(self) -> dict[str, Any] | None:
        """Return the newest run's id, args, started_at, ended_at, data_mode and pid, or None."""
        rows = self._dicts("SELECT id, args, iso_time(started_at) AS started_at, iso_time(ended_at) AS ended_at,"
                           " data_mode, pid FROM runs ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    def newest_run_command(self) -> tuple[int, str] | None:
        """Return (id, command) of the newest run, or None."""
        row: tuple[int, str] | None = self._conn.execute(
            "SELECT id, command FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return row

    def run_end_rows(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """Return id, args, data_mode, pid and ended_at (None: no end written) of the runs with these ids (key probes)."""
        return self._dicts("SELECT id, args, data_mode, pid, iso_time(ended_at) AS ended_at FROM runs"
                           f" WHERE id IN ({','.join('?' * len(run_ids))})", run_ids)

    def all_run_rows(self) -> list[dict[str, Any]]:
        """Return id, args, data_mode, started_at and ended_at of every run."""
        return self._dicts("SELECT id, args, data_mode, iso_time(started_at) AS started_at,"
                           " iso_time(ended_at) AS ended_at FROM runs")

    def newest_data_mode(self) -> str | None:
        """Return the data mode of the newest run that recorded one, or None."""
        row = self._conn.execute(
            "SELECT data_mode FROM runs WHERE data_mode IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def newest_heartbeat(self) -> tuple[str, int | None] | None:
        """Return (ts, run_id) of the newest health row, or None (an index probe)."""
        row: tuple[str, int | None] | None = self._conn.execute(
            "SELECT iso_time(ts), run_id FROM health ORDER BY id DESC LIMIT 1").fetchone()
        return row

    def live_run_id_of(self, pid: int) -> int | None:
        """Return the id of the newest run of process `pid` that has not written its end (a lock holder's run), or None."""
        value: int | None = self._scalar("SELECT max(id) FROM runs WHERE pid = ? AND ended_at IS NULL", (pid,))
        return value

    def newest_health_row(self) -> dict[str, Any] | None:
        """Return the newest health row with its figures and its payload text, or None."""
        rows = self._dicts(
            "SELECT id, run_id, iso_time(ts) AS ts, connected, last_tick_age, buffer_utilization, open_orders, positions, payload"
            " FROM health ORDER BY id DESC LIMIT 1",
        )
        return rows[0] if rows else None

    # ------------------------------------------------------------------ setups, orders, trades
    def open_setup_rows(self) -> list[dict[str, Any]]:
        """Return setups in a non-terminal state, oldest first."""
        return self._dicts(
            "SELECT id, symbol, trading_date, direction, state, high, low, liq1_price, liq2_price, entry_estimate,"
            f" stop, target, iso_time(updated_at) AS updated_at FROM setups WHERE {OPEN_SETUP} ORDER BY trading_date, id",
        )

    def working_order_rows(self) -> list[dict[str, Any]]:
        """Return orders that are neither filled nor cancelled nor rejected, oldest first."""
        return self._dicts(
            "SELECT order_ref, setup_id, role, symbol, action, order_type, quantity, limit_price, stop_price,"
            f" status, filled, iso_time(created_at) AS created_at, run_id FROM orders WHERE {working_order()}"
            " ORDER BY orders.created_at",
        )

    def open_position_rows(self) -> list[dict[str, Any]]:
        """Return trades whose entry filled and whose exit has not happened yet, with their stop, target and run."""
        return self._dicts(
            "SELECT t.setup_id, t.symbol, t.direction, t.quantity, iso_time(t.entry_time) AS entry_time, t.entry_price,"
            " t.entry_commission,"
            " t.status, s.stop, s.target, (SELECT max(o.run_id) FROM orders o WHERE o.setup_id = t.setup_id) AS run_id"
            " FROM trades t LEFT JOIN setups s ON s.id = t.setup_id"
            " WHERE t.entry_price IS NOT NULL AND t.exit_time IS NULL ORDER BY t.entry_time",
        )

    def closed_trade_rows_of(self, trading_date_iso: str) -> list[dict[str, Any]]:
        """Return the closed trades whose setup is of a trading date or unknown, in exit order.

        Rows of other known dates never come back: they stay in SQLite (a year of trades costs a
        scan, not a loop); the caller dates the setup-less ones itself.
        """
        return self._dicts(
            "SELECT t.setup_id, iso_time(t.entry_time) AS entry_time, iso_time(t.exit_time) AS exit_time, t.pnl_points,"
            " t.gross_money, t.pnl_money, t.commission,"
            " s.trading_date FROM trades t LEFT JOIN setups s ON s.id = t.setup_id"
            " WHERE t.exit_time IS NOT NULL AND (s.trading_date = ? OR s.trading_date IS NULL) ORDER BY t.exit_time",
            (trading_date_iso,),
        )

    def setup_counts_by_state(self) -> dict[str, int]:
        """Return how many setups there are per state (lower case)."""
        return dict(self._conn.execute("SELECT lower(state), count(*) FROM setups GROUP BY lower(state)").fetchall())

    def setup_rows_of_day(self, symbol: str, trading_date_iso: str) -> list[dict[str, Any]]:
        """Return the setups of one symbol and trading date with their trade's status and exit, in id order."""
        columns = ", ".join(f"iso_time(s.{name}) AS {name}" if name in ISO_TEXT_INSTANTS["setups"] else f"s.{name}"
                            for name in (part.strip() for part in SETUP_COLUMNS.split(",")))
        return self._dicts(
            f"SELECT {columns}, t.status AS trade_status, iso_time(t.exit_time) AS trade_exit_time FROM setups s"
            " LEFT JOIN trades t ON t.setup_id = s.id WHERE s.symbol = ? AND s.trading_date = ? ORDER BY s.id",
            (symbol, trading_date_iso),
        )

    def fill_rows_between(self, symbol: str, start_us: int, end_us: int) -> list[dict[str, Any]]:
        """Return the fills of a symbol with ts in [start, end), with their order's role and setup, in time order."""
        return self._dicts(
            "SELECT f.exec_id, f.order_ref, o.role, o.setup_id, f.side, f.quantity, f.price, iso_time(f.ts) AS ts"
            " FROM fills f"
            " LEFT JOIN orders o ON o.order_ref = f.order_ref"
            " WHERE (f.symbol = ? OR (f.symbol IS NULL AND o.symbol = ?)) AND f.ts >= ? AND f.ts < ?"
            " ORDER BY f.ts, f.exec_id",
            (symbol, symbol, start_us, end_us),
        )

    def trade_history_rows(self) -> list[dict[str, Any]]:
        """Return every trade's figures in entry order (exit order for those never entered)."""
        return self._dicts(
            "SELECT setup_id, symbol, direction, quantity, iso_time(entry_time) AS entry_time, entry_price,"
            " iso_time(exit_time) AS exit_time, exit_price, exit_reason, pnl_points, pnl_money, commission, status"
            " FROM trades t ORDER BY coalesce(t.entry_time, t.exit_time), t.setup_id",
        )

    # ------------------------------------------------------------------ levels and events
    def reference_level_row(self, trading_date_iso: str, symbol: str | None = None) -> tuple[str, str, str] | None:
        """Return (symbol, bar_time, data JSON) of the newest LSE_LEVELS_FROZEN event of a trading date, or None."""
        sql = ("SELECT symbol, iso_time(bar_time), data FROM setup_events"
               " WHERE type = 'LSE_LEVELS_FROZEN' AND trading_date = ?")
        params: list[Any] = [trading_date_iso]
        if symbol is not None:
            sql += " AND symbol = ?"
            params.append(symbol)
        row: tuple[str, str, str] | None = self._conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return row

    def latest_levels_date(self, on_or_before_iso: str, symbol: str | None = None) -> str | None:
        """Return the newest trading date, on or before a date, whose LSE levels froze; or None."""
        row = self._conn.execute(
            "SELECT trading_date FROM setup_events WHERE type = 'LSE_LEVELS_FROZEN' AND trading_date <= ?"
            + (" AND symbol = ?" if symbol else "") + " ORDER BY trading_date DESC LIMIT 1",
            (on_or_before_iso, symbol) if symbol else (on_or_before_iso,),
        ).fetchone()
        return row[0] if row else None

    def newest_run_event_rows(self, limit: int) -> list[dict[str, Any]]:
        """Return the newest operational events (ts, type, symbol, payload, source 'run'), newest first."""
        return self._dicts(
            "SELECT iso_time(ts) AS ts, type, symbol, payload, 'run' AS source FROM events ORDER BY id DESC LIMIT ?",
            (limit,)
        )

    def newest_setup_event_rows(self, left_out: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """Return the newest setup events of types other than `left_out` (source 'setup'), newest first."""
        marks = ",".join("?" * len(left_out))
        return self._dicts(
            f"SELECT iso_time(bar_time) AS ts, type, symbol, {EVENT_PAYLOAD_SQL} AS payload, 'setup' AS source, setup_id"
            " FROM setup_events"
            f" WHERE type NOT IN ({marks}) ORDER BY id DESC LIMIT ?",
            (*left_out, limit),
        )

    def newest_fill_event_rows(self, limit: int) -> list[dict[str, Any]]:
        """Return the newest fills as events (type 'FILL', source 'fill', with side, quantity and price)."""
        return self._dicts(
            "SELECT iso_time(f.ts) AS ts, 'FILL' AS type, f.symbol, NULL AS payload, 'fill' AS source, o.setup_id,"
            " f.side, f.quantity, f.price"
            " FROM fills f LEFT JOIN orders o ON o.order_ref = f.order_ref ORDER BY f.ts DESC LIMIT ?",
            (limit,),
        )

    def newest_closed_trade_event_rows(self, limit: int) -> list[dict[str, Any]]:
        """Return the newest closed trades as events (type 'TRADE_CLOSED', source 'trade', with pnl_money)."""
        return self._dicts(
            "SELECT iso_time(exit_time) AS ts, 'TRADE_CLOSED' AS type, symbol, NULL AS payload, 'trade' AS source, setup_id,"
            " pnl_money FROM trades WHERE status = 'CLOSED' AND exit_time IS NOT NULL ORDER BY exit_time DESC LIMIT ?",
            (limit,),
        )

    # ------------------------------------------------------------------ ticks and candles
    def symbols_in(self, table: Literal["candles", "ticks"]) -> list[str]:
        """Return the symbols of the candles (or ticks) table, alphabetically (a skip-scan: one index probe each)."""
        if table not in ("candles", "ticks"):
            raise ValueError(f"no symbols in table {table!r}")
        found: list[str] = []
        row = self._conn.execute(f"SELECT min(symbol) FROM {table}").fetchone()
        while row and row[0] is not None:
            found.append(row[0])
            row = self._conn.execute(f"SELECT min(symbol) FROM {table} WHERE symbol > ?", (row[0],)).fetchone()
        return found

    def newest_tick(self, symbol: str | None = None,
                    newest_times: Mapping[str, int] | None = None) -> tuple[int, int | None] | None:
        """Return (ts, run_id) of the newest stored tick, of a symbol or of any, or None: the tick's time and its run in one read.

        Index probes only, however many ticks the store holds. Of ticks sharing the newest time, a
        symbol's is its last stored (the index read backwards); of any symbol's, the first stored.
        `newest_times`: each symbol's newest tick time already read (any symbol's newest is then one probe).
        """
        if symbol is not None:
            row: tuple[int, int | None] | None = self._conn.execute(
                "SELECT ts, run_id FROM ticks WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,)).fetchone()
            return row
        newest = self._newest_per_symbol("ticks") if newest_times is None else newest_times
        if not newest:
            return None
        best = max(newest.values())
        first: tuple[int, int | None] | None = None
        for tied in (name for name, ts in newest.items() if ts == best):
            found = self._conn.execute("SELECT id, run_id FROM ticks WHERE symbol = ? AND ts = ? ORDER BY id LIMIT 1",
                                       (tied, best)).fetchone()
            if first is None or found[0] < first[0]:
                first = found
        assert first is not None  # a symbol's newest time is one of its ticks
        return best, first[1]

    def newest_tick_us(self, symbol: str | None = None) -> int | None:
        """Return the time (epoch microseconds) of the newest stored tick, of a symbol or of any (index probes only)."""
        if symbol is not None:
            return self._newest_of("ticks", symbol)
        return max(self._newest_per_symbol("ticks").values(), default=None)

    def newest_candle_us(self, symbol: str | None = None) -> int | None:
        """Return the label (epoch microseconds) of the newest candle, of a symbol or of any (index probes only)."""
        if symbol is not None:
            return self._newest_of("candles", symbol)
        return max(self._newest_per_symbol("candles").values(), default=None)

    def newest_candle_symbol(self) -> str | None:
        """Return the symbol of the newest candle (of a tie, the first alphabetically), or None (index probes only)."""
        best: tuple[int, str] | None = None
        for name, ts in self._newest_per_symbol("candles").items():  # alphabetically: a tie keeps the first
            if best is None or ts > best[0]:
                best = (ts, name)
        return None if best is None else best[1]

    def _newest_per_symbol(self, table: Literal["candles", "ticks"]) -> dict[str, int]:
        """Return each symbol's newest time in a table, alphabetically: two index probes a symbol, never a scan.

        Neither table has an index that starts with `ts` (ticks: (symbol, ts); candles: its key), so
        `max(ts)` or `ORDER BY ts` over all symbols would read them whole; per symbol each is one probe.
        The symbols are walked in the index (`symbols_in`), so a new symbol counts at once.
        """
        return {name: ts for name in self.symbols_in(table) if (ts := self._newest_of(table, name)) is not None}

    def _newest_of(self, table: Literal["candles", "ticks"], symbol: str) -> int | None:
        """Return a symbol's newest time in a table, or None: one probe of its index (ticks) or key (candles)."""
        value: int | None = self._scalar(f"SELECT max(ts) FROM {table} WHERE symbol = ?", (symbol,))
        return value

    def newest_price(self, symbol: str) -> float | None:
        """Return a symbol's newest known price: its latest tick, else its latest candle's close."""
        row = self._conn.execute(
            "SELECT price FROM ticks WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,)).fetchone()
        if row is None:
            row = self._conn.execute(
                "SELECT close FROM candles WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,)).fetchone()
        return None if row is None else float(row[0])

    def newest_bar_rows(self, symbol: str, count: int) -> list[tuple[int, float, float, float, float]]:
        """Return (ts, open, high, low, close) of a symbol's newest `count` candles, newest first."""
        return self._conn.execute(
            "SELECT ts, open, high, low, close FROM candles WHERE symbol = ? ORDER BY ts DESC LIMIT ?", (symbol, count)
        ).fetchall()

    def tick_prices_since(self, symbol: str, start_us: int) -> tuple[Any, Any, Any, Any]:
        """Return (high, low, first, last) price of a symbol's ticks at or after an instant (Nones when none)."""
        row = self._conn.execute(
            "SELECT max(price), min(price),"
            " (SELECT price FROM ticks WHERE symbol = ?1 AND ts >= ?2 ORDER BY ts, id LIMIT 1),"
            " (SELECT price FROM ticks WHERE symbol = ?1 AND ts >= ?2 ORDER BY ts DESC, id DESC LIMIT 1)"
            " FROM ticks WHERE symbol = ?1 AND ts >= ?2",
            (symbol, start_us),
        ).fetchone()
        return row[0], row[1], row[2], row[3]

    def chart_candles_json(self, symbol: str, start_us: int, end_us: int) -> str:
        """Return a symbol's candles in [start, end) as JSON rows [time s, open, high, low, close, volume].

        SQLite renders a day of rows as JSON in C, twice as fast as building and encoding them in Python.
        """
        text: str = self._scalar(
            "SELECT coalesce(json_group_array(json_array(ts / 1000000, open, high, low, close, volume)), '[]') FROM"
            " (SELECT ts, open, high, low, close, volume FROM candles WHERE symbol = ? AND ts >= ? AND ts < ? ORDER BY ts)",
            (symbol, start_us, end_us),
        )
        return text

    def table_fingerprints(self) -> dict[str, list[Any]]:
        """Return a cheap fingerprint of fills, trades, orders, setups, health and runs (counts, newest times, ids)."""
        def one(sql: str) -> list[Any]:
            return list(self._conn.execute(sql).fetchone())

        return {
            "fills": one("SELECT count(*), max(ts), max(rowid) FROM fills"),
            "trades": one("SELECT count(*), max(exit_time), max(entry_time), total(pnl_money), max(rowid) FROM trades"),
            "orders": one("SELECT count(*), max(updated_at), max(created_at) FROM orders"),
            "setups": one("SELECT count(*), max(updated_at) FROM setups"),
            "health": one("SELECT max(id) FROM health"),
            "runs": one("SELECT max(id), count(ended_at) FROM runs"),
        }
