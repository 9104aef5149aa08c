"""Named read queries of the store: what reports, summaries and validations ask of it.

Only `adapters/store/` speaks SQL; everyone else calls one of these methods on the `Store`.
Rows come back as plain tuples in the documented column order (or dicts where noted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.instants import instant_us
from slob_cli.adapters.store.schema import EVENT_PAYLOAD_SQL


class ReadQueries:
    """Read-only queries, mixed into `Store` (which provides `_conn` and `query`)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:
        def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]: ...
        def _columns(self, table: str, alias: str = "") -> str: ...

    def _rows_in(self, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run sql whose `{}` is the placeholder list of values; no values, no rows."""
        if not values:
            return []
        return self._conn.execute(sql.format(",".join("?" * len(values))), list(values)).fetchall()

    # ------------------------------------------------------------------ ticks
    def rows_not_written_by(self, command: str, symbol: str, start_us: int, end_us: int,
                            derived_sources: Sequence[str]) -> tuple[int, dict[str, int]]:
        """Return the ticks in [start, end) that no run of `command` wrote, and the candles there whose
        source is neither `command` nor one of `derived_sources`, counted per source."""
        ticks = self._conn.execute(
            "SELECT count(*) FROM ticks WHERE symbol=? AND ts>=? AND ts<? AND (run_id IS NULL OR run_id NOT IN"
            " (SELECT id FROM runs WHERE command=?))", (symbol, start_us, end_us, command)).fetchone()[0]
        own = [command, *derived_sources]
        candles = self._conn.execute(
            f"SELECT source, count(*) FROM candles WHERE symbol=? AND ts>=? AND ts<? AND source NOT IN"
            f" ({','.join('?' * len(own))}) GROUP BY source ORDER BY source", (symbol, start_us, end_us, *own)).fetchall()
        return int(ticks), {str(source): int(count) for source, count in candles}

    def tick_span(self, symbol: str) -> tuple[int, int] | None:
        """Return the first and last tick time of a symbol (epoch microseconds), or None."""
        first, last = self._conn.execute("SELECT min(ts), max(ts) FROM ticks WHERE symbol=?", (symbol,)).fetchone()
        return None if first is None else (int(first), int(last))

    def tick_rows_between(self, symbol: str, start_us: int, end_us: int) -> list[tuple[int, float, float]]:
        """Return (ts, price, size) of a symbol's ticks in [start, end), in arrival order."""
        return self._conn.execute(
            "SELECT ts, price, size FROM ticks WHERE symbol=? AND ts>=? AND ts<? ORDER BY ts, id",
            (symbol, start_us, end_us),
        ).fetchall()

    def last_tick_row_before(self, symbol: str, ts_us: int) -> list[tuple[int, float, float]]:
        """Return (ts, price, size) of a symbol's last tick before an instant (none or one row)."""
        return self._conn.execute(
            "SELECT ts, price, size FROM ticks WHERE symbol=? AND ts<? ORDER BY ts DESC, id DESC LIMIT 1",
            (symbol, ts_us),
        ).fetchall()

    # ------------------------------------------------------------------ candles
    def candle_span(self, symbol: str) -> tuple[int | None, int | None]:
        """Return the first and last candle time of a symbol (epoch microseconds), or (None, None)."""
        # Two subqueries: SQLite answers a lone min() or max() from the index, but both at once scan every row.
        first, last = self._conn.execute(
            "SELECT (SELECT min(ts) FROM candles WHERE symbol=?), (SELECT max(ts) FROM candles WHERE symbol=?)",
            (symbol, symbol)).fetchone()
        return first, last

    def candle_bar_rows(self, symbol: str, start_us: int, end_us: int) -> list[tuple[int, float, float, float, float, int]]:
        """Return (ts, open, high, low, close, tick_count) of a symbol's candles in [start, end), in time order."""
        return self._conn.execute(
            "SELECT ts, open, high, low, close, tick_count FROM candles WHERE symbol=? AND ts>=? AND ts<? ORDER BY ts",
            (symbol, start_us, end_us),
        ).fetchall()

    def candle_versions(self, symbol: str, first_day: int, last_day: int) -> dict[int, int]:
        """Return the versions of a symbol's candles by UTC day (days since the epoch) in [first, last].

        SQLite's triggers bump a day's version on every change to its candles (schema v7); a day
        missing from the answer has never held a candle (version 0).
        """
        return dict(self._conn.execute(
            "SELECT utc_day, version FROM candle_versions WHERE symbol=? AND utc_day BETWEEN ? AND ?",
            (symbol, first_day, last_day)).fetchall())

    def candle_count_between(self, symbol: str, start_us: int, end_us: int) -> int:
        """Return how many candles of a symbol lie in [start, end)."""
        return int(self._conn.execute(
            "SELECT count(*) FROM candles WHERE symbol=? AND ts>=? AND ts<?", (symbol, start_us, end_us)
        ).fetchone()[0])

    def candle_reference_rows(
        self, symbol: str, start_us: int, end_us: int, last: int,
    ) -> tuple[float | None, float | None, int, list[tuple[int, float, float, float, float, int]]]:
        """Sum up a symbol's real candles (tick_count not 0; -1: imported without counts) in [start, end): (max high, min low, count, last rows).

        The last rows are the `last` latest real candles as `candle_bar_rows` gives them, oldest first.
        """
        high, low, count = self._conn.execute(
            "SELECT max(high), min(low), count(*) FROM candles WHERE symbol=? AND ts>=? AND ts<? AND tick_count<>0",
            (symbol, start_us, end_us)).fetchone()
        rows = self._conn.execute(
            "SELECT ts, open, high, low, close, tick_count FROM candles"
            " WHERE symbol=? AND ts>=? AND ts<? AND tick_count<>0 ORDER BY ts DESC LIMIT ?",
            (symbol, start_us, end_us, last)).fetchall() if count else []
        rows.reverse()
        return high, low, count, rows

    def live_candle_counts(self, start_us: int, end_us: int) -> tuple[int, int]:
        """Return how many live candles lie in [start, end) and the ticks they dropped."""
        count, dropped = self._conn.execute(
            "SELECT count(*), coalesce(sum(dropped_ticks), 0) FROM candles WHERE ts >= ? AND ts < ? AND source = 'live'",
            (start_us, end_us),
        ).fetchone()
        return count, dropped

    def candle_symbols_between(self, start_us: int, end_us: int) -> set[str]:
        """Return the symbols with a candle in [start, end] (epoch microseconds)."""
        return {symbol for (symbol,) in self._conn.execute(
            "SELECT DISTINCT symbol FROM candles WHERE ts >= ? AND ts <= ?", (start_us, end_us))}

    # ------------------------------------------------------------------ runs
    def run_record(self, run_id: int) -> tuple[Any, ...] | None:
        """Return (started_at, ended_at, exit_code, data_mode, stats, args) of a run, or None."""
        row: tuple[Any, ...] | None = self._conn.execute(
            "SELECT iso_time(started_at), iso_time(ended_at), exit_code, data_mode, stats, args FROM runs WHERE id = ?",
            (run_id,)
        ).fetchone()
        return row

    def run_last_instant(self, run_id: int) -> str | None:
        """Return the newest instant a run recorded (a health row or an event, on its own clock), or None.

        The end of a run that has no end record (killed, a power cut): the last it was known to do.
        """
        row = self._conn.execute(
            "SELECT iso_time(max(ts)) FROM (SELECT max(ts) AS ts FROM health WHERE run_id = ?"
            " UNION ALL SELECT max(ts) FROM events WHERE run_id = ?)", (run_id, run_id)).fetchone()
        return None if row is None else row[0]

    def open_run_pid(self, run_id: int) -> int | None:
        """Return the pid of a run that has no end record yet, or None."""
        row = self._conn.execute("SELECT pid FROM runs WHERE id = ? AND ended_at IS NULL", (run_id,)).fetchone()
        return None if row is None else row[0]

    def health_payload_texts(self, run_id: int) -> list[str]:
        """Return the JSON payloads of a run's heartbeats, oldest first."""
        rows = self._conn.execute("SELECT payload FROM health WHERE run_id = ? ORDER BY ts, id", (run_id,))
        return [text for (text,) in rows if text]

    def run_args_text(self, run_id: int) -> str | None:
        """Return the JSON text of the arguments a run was started with, or None."""
        row = self._conn.execute("SELECT args FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def latest_run_id(self, command: str) -> int | None:
        """Return the id of the newest run of a command, or None."""
        row = self._conn.execute("SELECT max(id) FROM runs WHERE command = ?", (command,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def run_events(self, run_id: int) -> list[tuple[str, str, str, str | None]]:
        """Return (ts, type, payload, symbol) of a run's events in time order."""
        return self._conn.execute(
            "SELECT iso_time(ts), type, payload, symbol FROM events WHERE run_id = ? ORDER BY ts, id", (run_id,)
        ).fetchall()

    def run_orders(self, run_id: int) -> list[tuple[Any, ...]]:
        """Return (order_ref, setup_id, role, status, quantity, filled, sent_at) of a run's orders."""
        return self._conn.execute(
            "SELECT order_ref, setup_id, role, status, quantity, filled, iso_time(sent_at) FROM orders WHERE run_id = ?"
            " ORDER BY created_at", (run_id,)
        ).fetchall()

    def run_tick_count(self, run_id: int) -> int:
        """Return how many ticks a run stored."""
        return int(self._conn.execute("SELECT count(*) FROM ticks WHERE run_id IS ?", (run_id,)).fetchone()[0])

    # ------------------------------------------------------------------ orders, fills, trades
    def fills_of_orders(self, refs: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return (order_ref, quantity, price) of every fill of the given orders."""
        return self._rows_in("SELECT order_ref, quantity, price FROM fills WHERE order_ref IN ({})", refs)

    def trades_of_setups(self, setup_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return (setup_id, direction, quantity, entry_estimate, entry_price, exit_price, pnl_points,
        pnl_money, commission, exit_time) of the given setups' trades."""
        return self._rows_in(
            "SELECT setup_id, direction, quantity, entry_estimate, entry_price, exit_price,"
            " pnl_points, pnl_money, commission, iso_time(exit_time) FROM trades WHERE setup_id IN ({})", setup_ids)

    def order_count_since(self, since_iso: str) -> int:
        """Return how many orders were created or sent at or after an instant.

        Sent counts too: a bracket whose intent a killed session wrote is sent by the restart, whose order it is.
        """
        since = instant_us(since_iso)
        return int(self._conn.execute("SELECT count(*) FROM orders WHERE created_at >= ? OR sent_at >= ?",
                                      (since, since)).fetchone()[0])

    def fill_count_since(self, since_iso: str) -> int:
        """Return how many fills happened at or after an instant."""
        return int(self._conn.execute("SELECT count(*) FROM fills WHERE ts >= ?", (instant_us(since_iso),)).fetchone()[0])

    def trades_entered_since(self, since_iso: str) -> list[dict[str, Any]]:
        """Return the trades entered or exited at or after an instant, oldest first, as dicts."""
        since = instant_us(since_iso)
        return list(self.query(f"SELECT {self._columns('trades')} FROM trades"
                               " WHERE trades.entry_time >= ? OR trades.exit_time >= ? ORDER BY trades.entry_time",
                               [since, since]))

    def event_payloads_since(self, event_type: str, since_iso: str) -> list[str]:
        """Return the JSON payloads of the events of one type at or after an instant."""
        return [row[0] for row in self._conn.execute(
            "SELECT payload FROM events WHERE type=? AND ts >= ?", (event_type, instant_us(since_iso)))]

    def live_order_count(self) -> int:
        """Return how many orders are sent or working at the broker."""
        return int(self._conn.execute("SELECT count(*) FROM orders WHERE status IN ('SENT','WORKING')").fetchone()[0])

    def open_position_count(self) -> int:
        """Return how many trades hold an open position."""
        return int(self._conn.execute("SELECT count(*) FROM trades WHERE status='OPEN'").fetchone()[0])

    # ------------------------------------------------------------------ setups
    def last_setup_event_seq(self, symbol: str, trading_date_iso: str) -> int:
        """Return the highest setup-event sequence number of a symbol's trading day (0 when none)."""
        row = self._conn.execute(
            "SELECT max(seq) FROM setup_events WHERE symbol=? AND trading_date=?", (symbol, trading_date_iso),
        ).fetchone()
        return int(row[0] or 0)

    def setup_states_updated_since(self, since_iso: str) -> list[str]:
        """Return the state of every setup updated, or given an order, at or after an instant."""
        return [row[0] for row in self._conn.execute(
            "SELECT state FROM setups WHERE updated_at >= ? OR id IN (SELECT setup_id FROM orders WHERE created_at >= ?)",
            (instant_us(since_iso), instant_us(since_iso)))]

    def setup_states_on(self, trading_dates: Sequence[str]) -> list[str]:
        """Return the state of every setup of the given trading dates."""
        return [state for (state,) in self._rows_in("SELECT state FROM setups WHERE trading_date IN ({})",
                                                    trading_dates)]

    def setup_event_rows_on(self, trading_dates: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return (setup_id, type, bar_time, payload) of the setup events of the given dates, in log order."""
        return self._rows_in(
            f"SELECT setup_id, type, iso_time(bar_time), {EVENT_PAYLOAD_SQL} FROM setup_events"
            " WHERE trading_date IN ({})"
            " ORDER BY symbol, trading_date, seq", trading_dates)

    def day_configs_on(self, trading_dates: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return (symbol, trading date, config hash, config JSON, updated_at us) of the tracked days of the dates."""
        return self._rows_in(
            "SELECT symbol, trading_date, config_hash, config_json, updated_at FROM tracked_days"
            " WHERE trading_date IN ({}) ORDER BY symbol, trading_date", trading_dates)

    def setup_event_symbols_on(self, trading_dates: Sequence[str]) -> set[str]:
        """Return the symbols with setup events on the given trading dates."""
        return {symbol for (symbol,) in self._rows_in(
            "SELECT DISTINCT symbol FROM setup_events WHERE trading_date IN ({})", trading_dates)}
