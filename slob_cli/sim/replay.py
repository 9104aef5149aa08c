"""Replay of recorded trades from a slob store or a CSV/Parquet tick file."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.integrity import damage_error
from slob_cli.core.models import TICK_SIZE
from slob_cli.errors import InputError
from slob_cli.sim.ticks import ArrayMarket, TickArrays, from_us, snap_to_grid

# A recorded tape has no book: show a steady, plausible top-of-book size.
_BOOK_SIZE = 10


def _tape(ts: np.ndarray, price: np.ndarray, size: np.ndarray) -> TickArrays:
    """Return recorded trades with bid and ask synthesised one tick either side of each trade."""
    price = snap_to_grid(price.astype(np.float64))
    book = np.full(ts.shape[0], _BOOK_SIZE, dtype=np.int64)
    sizes = np.maximum(np.rint(size.astype(np.float64)), 1).astype(np.int64)
    return TickArrays(ts.astype(np.int64), price, sizes, price - TICK_SIZE, price + TICK_SIZE, book, book.copy())


class ReplayError(InputError, ValueError):
    """A replay source cannot be read; the message names the file and the problem."""


class ReplayMarket(ArrayMarket):
    """Recorded trades played back as they were (prices snapped to the tick grid, sizes >= 1)."""

    def __init__(self, ticks: TickArrays | None = None, store: Store | None = None, symbol: str = "NQ") -> None:
        super().__init__()
        self._ticks = ticks
        self._store = store
        self.symbol = symbol

    @classmethod
    def from_store(cls, db_path: str | Path, symbol: str = "NQ") -> ReplayMarket:
        """Replay the `ticks` table of a slob store (queried per window, so large stores are fine)."""
        store = Store.open(db_path, readonly=True)
        try:
            count = store.tick_count(symbol)
        except sqlite3.DatabaseError as exc:  # a damaged page: name this file, not the --db store
            store.close()
            damaged = damage_error(exc, db_path)
            if damaged is None:
                raise
            raise damaged from None
        if count == 0:
            present = store.symbols_in("ticks")
            store.close()
            raise ReplayError(f"store {str(db_path)!r} has no {symbol} ticks (symbols present: {present or 'none'})")
        return cls(store=store, symbol=symbol)

    @classmethod
    def from_file(cls, path: str | Path, symbol: str | None = "NQ") -> ReplayMarket:
        """Replay a CSV or Parquet file with columns timestamp, price, size[, symbol]."""
        import pandas as pd

        file = Path(path)
        if not file.is_file():
            raise ReplayError(f"tick file {str(file)!r} does not exist")
        try:
            frame = pd.read_parquet(file) if file.suffix.lower() in {".parquet", ".pq"} else pd.read_csv(file)
        except Exception as exc:  # noqa: BLE001 - pandas raises many types for unreadable files
            raise ReplayError(f"cannot read tick file {str(file)!r}: {exc}") from None
        missing = {"timestamp", "price", "size"} - set(frame.columns)
        if missing:
            raise ReplayError(f"tick file {str(file)!r} lacks column(s) {sorted(missing)}")
        if symbol is not None and "symbol" in frame.columns:
            frame = frame[frame["symbol"] == symbol]
        if frame.empty:
            raise ReplayError(f"tick file {str(file)!r} has no {symbol or ''} ticks".replace("  ", " "))
        try:
            stamps = pd.to_datetime(frame["timestamp"], utc=True, format="mixed")
        except (ValueError, TypeError) as exc:
            raise ReplayError(f"tick file {str(file)!r}: unreadable timestamp ({exc})") from None
        prices = pd.to_numeric(frame["price"], errors="coerce").to_numpy(dtype=np.float64)
        sizes = pd.to_numeric(frame["size"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(prices) | (prices <= 0) | ~np.isfinite(sizes) | (sizes < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 2  # 1-based, after the header line
            raise ReplayError(f"tick file {str(file)!r} line {row}: price or size is not a valid number")
        ts = stamps.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").astype(np.int64)
        order = np.argsort(ts, kind="stable")
        return cls(ticks=_tape(ts[order], prices[order], sizes[order]), symbol=symbol or "NQ")

    @staticmethod
    def _tape_of(rows: list[tuple[int, float, float]]) -> TickArrays:
        if not rows:
            return TickArrays.empty()
        table = np.array(rows, dtype=np.float64)
        return _tape(table[:, 0].astype(np.int64), table[:, 1], table[:, 2])

    def _window(self, start_us: int, end_us: int) -> TickArrays:
        if self._ticks is not None:
            return self._ticks.between(start_us, end_us)
        assert self._store is not None
        return self._tape_of(self._store.tick_rows_between(self.symbol, start_us, end_us))

    def _last_before(self, ts_us: int) -> TickArrays:
        if self._ticks is not None:
            return self._ticks.between(-(2**62), ts_us).take(slice(-1, None))
        assert self._store is not None
        return self._tape_of(self._store.last_tick_row_before(self.symbol, ts_us))

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """Return the first recorded trade time and the instant just after the last one."""
        if self._ticks is not None:
            bounds = (int(self._ticks.ts[0]), int(self._ticks.ts[-1])) if len(self._ticks) else None
        else:
            assert self._store is not None
            bounds = self._store.tick_span(self.symbol)
        return None if bounds is None else (from_us(bounds[0]), from_us(bounds[1] + 1))

    def close(self) -> None:
        """Release the store connection, if any."""
        if self._store is not None:
            self._store.close()
