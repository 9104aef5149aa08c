"""One symbol's trading day as a whole: what a sim re-run checks and removes before it plays the day again."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING


class TradingDays:
    """Whole-day reads and removal, mixed into `Store` (which provides `_conn` and `transaction`)."""

    _conn: sqlite3.Connection

    if TYPE_CHECKING:
        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def setup_ids_of_day(self, symbol: str, trading_date_iso: str) -> list[str]:
        """Return the ids of a symbol's setups of one trading date."""
        return [row[0] for row in self._conn.execute(
            "SELECT id FROM setups WHERE symbol=? AND trading_date=?", (symbol, trading_date_iso))]

    def has_candles_between(self, symbol: str, start_us: int, end_us: int) -> bool:
        """Return True when a symbol has a candle in [start, end)."""
        return self._conn.execute(
            "SELECT 1 FROM candles WHERE symbol=? AND ts >= ? AND ts < ? LIMIT 1", (symbol, start_us, end_us),
        ).fetchone() is not None

    def has_foreign_candles_between(self, start_us: int, end_us: int) -> bool:
        """Return True when a candle in [start, end) came from elsewhere than a session or the demo (an import)."""
        return self._conn.execute(
            "SELECT 1 FROM candles WHERE ts >= ? AND ts < ? AND source NOT IN ('live', 'ib_history', 'demo') LIMIT 1",
            (start_us, end_us)).fetchone() is not None

    def delete_trading_day(self, symbol: str, trading_date_iso: str, setup_ids: Sequence[str], start_us: int,
                           end_us: int) -> None:
        """Delete in one transaction a symbol's day: its setups' fills, orders and trades, the setups, their events,
        the tracked day, and the candles and ticks in [start, end)."""
        setups = list(setup_ids)
        marks = ",".join("?" * len(setups))
        with self.transaction() as conn:
            if setups:
                conn.execute(f"DELETE FROM fills WHERE order_ref IN (SELECT order_ref FROM orders"
                             f" WHERE setup_id IN ({marks}))", setups)
                conn.execute(f"DELETE FROM orders WHERE setup_id IN ({marks})", setups)
                conn.execute(f"DELETE FROM trades WHERE setup_id IN ({marks})", setups)
            conn.execute("DELETE FROM setups WHERE symbol=? AND trading_date=?", (symbol, trading_date_iso))
            conn.execute("DELETE FROM setup_events WHERE symbol=? AND trading_date=?", (symbol, trading_date_iso))
            conn.execute("DELETE FROM tracked_days WHERE symbol=? AND trading_date=?", (symbol, trading_date_iso))
            conn.execute("DELETE FROM candles WHERE symbol=? AND ts >= ? AND ts < ?", (symbol, start_us, end_us))
            conn.execute("DELETE FROM ticks WHERE symbol=? AND ts >= ? AND ts < ?", (symbol, start_us, end_us))

