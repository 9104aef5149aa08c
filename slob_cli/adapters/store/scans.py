"""Bulk reads over ticks and candles: what aggregation, export, backtests and the recorder scan.

Mixed into `Store`; each method names what it returns. Times are epoch microseconds, as stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.rows import CANDLE_COLUMNS, CANDLE_ROWS

if TYPE_CHECKING:
    import pandas as pd

# A minute's rows by rowid range: `id BETWEEN first AND last` of the minute, within its symbol and time window.
_IN_ID_RANGE = " FROM ticks NOT INDEXED WHERE id BETWEEN ? AND ? AND symbol=? AND ts>=? AND ts<?"
_ID_RANGE_SUMS = (
    "SELECT count(*), min(price), max(price), sum(size), max(size <> CAST(size AS INTEGER) OR size < 0)" + _IN_ID_RANGE
)
_ID_RANGE_OPEN = "SELECT price" + _IN_ID_RANGE + " ORDER BY id LIMIT 1"
_ID_RANGE_CLOSE = "SELECT price" + _IN_ID_RANGE + " ORDER BY id DESC LIMIT 1"

IdRange = tuple[int, int, str, int, int]  # (first id, last id, symbol, from us, to us)


class Scans:
    """Tick and candle scans, mixed into `Store` (which provides `_conn` and `_range_sql`)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:
        @staticmethod
        def _range_sql(base: str, symbol: str | None, start: datetime | None,
                       end: datetime | None) -> tuple[str, list[Any]]: ...

    # ------------------------------------------------------------------ ticks
    def tick_count_between(self, symbol: str, start_us: int, end_us: int) -> int:
        """Return how many ticks of a symbol lie in [start, end)."""
        return int(self._conn.execute("SELECT count(*) FROM ticks WHERE symbol=? AND ts>=? AND ts<?",
                                      (symbol, start_us, end_us)).fetchone()[0])

    def tick_chunks_in_arrival_order(
        self, symbol: str, start: datetime | None, end: datetime | None, chunk: int,
    ) -> Iterator[list[tuple[int, float, float]]]:
        """Yield (ts, price, size) of a symbol's ticks in [start, end) in arrival (rowid) order, `chunk` rows at a time.

        A rowid-order scan gives arrival order without the temporary B-tree that the (symbol, ts)
        index plus ORDER BY id would need: on millions of rows it is faster.
        """
        sql, params = self._range_sql("SELECT ts, price, size FROM ticks NOT INDEXED", symbol, start, end)
        cursor = self._conn.execute(sql + " ORDER BY id", params)
        while rows := cursor.fetchmany(chunk):
            yield rows

    def run_span_rows(self) -> list[dict[str, Any]]:
        """Return every run's id, command, args, data_mode, started_at and ended_at (epoch us; None: no end written), by id."""
        cursor = self._conn.execute("SELECT id, command, args, data_mode, started_at, ended_at FROM runs ORDER BY id")
        keys = [column[0] for column in cursor.description]
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    def run_tick_span(self, symbol: str, run_id: int, low_us: int, high_us: int) -> tuple[int, int] | None:
        """Return (first ts, last ts) of the ticks of a symbol that a run stored with ts in [low, high), or None.

        Two probes of ticks(symbol, ts) from either end of the window, each stopping at the run's first
        tick it meets: the caller bounds the window by the run's own life (ticks carry no index by run).
        """
        probe = "SELECT ts FROM ticks WHERE symbol=? AND ts>=? AND ts<? AND run_id=? ORDER BY ts {} LIMIT 1"
        first = self._conn.execute(probe.format("ASC"), (symbol, low_us, high_us, run_id)).fetchone()
        if first is None:
            return None
        last = self._conn.execute(probe.format("DESC"), (symbol, low_us, high_us, run_id)).fetchone()
        return first[0], last[0]

    def first_tick_between(self, symbol: str, start_us: int, end_us: int) -> tuple[int, int] | None:
        """Return (ts, id) of a symbol's first tick by time in [start, end), or None (an index probe)."""
        row: tuple[int, int] | None = self._conn.execute(
            "SELECT ts, id FROM ticks WHERE symbol=? AND ts>=? AND ts<? ORDER BY ts, id LIMIT 1",
            (symbol, start_us, end_us)).fetchone()
        return row

    def id_range_summary(self, ticks: IdRange) -> tuple[int, Any, Any, Any, Any]:
        """Return (count, min price, max price, sum of sizes, any size not whole or negative) of an id range."""
        count, low, high, volume, unusual = self._conn.execute(_ID_RANGE_SUMS, ticks).fetchone()
        return count, low, high, volume, unusual

    def id_range_open(self, ticks: IdRange) -> float:
        """Return the price of an id range's first row."""
        return float(self._conn.execute(_ID_RANGE_OPEN, ticks).fetchone()[0])

    def id_range_close(self, ticks: IdRange) -> float:
        """Return the price of an id range's last row."""
        return float(self._conn.execute(_ID_RANGE_CLOSE, ticks).fetchone()[0])

    # ------------------------------------------------------------------ candles
    def candle_rows_between(self, symbol: str, start_us: int, end_us: int) -> list[tuple[Any, ...]]:
        """Return (symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks) in [start, end), in order."""
        return self._conn.execute(
            CANDLE_ROWS + " WHERE symbol=? AND ts >= ? AND ts < ? ORDER BY ts", (symbol, start_us, end_us)).fetchall()

    def candle_export_frame(
        self, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Return stored candles with their source and local symbol as a frame (ts in UTC us), by symbol and time."""
        import pandas as pd

        sql, params = self._range_sql(f"SELECT {CANDLE_COLUMNS}, source, local_symbol FROM candles", symbol, start, end)
        return pd.read_sql_query(sql + " ORDER BY symbol, ts", self._conn, params=params)
