"""Batch M1 aggregation (numpy), giving exactly what the streaming M1Aggregator gives.

The rules are those of core/aggregator.py, applied to whole arrays in arrival order:
a tick is late when its minute is earlier than the latest minute seen before it (for its
symbol); the accepted ticks are then non-decreasing in minute, so each candle is one contiguous
run. Volume is summed sequentially in arrival order (like `volume += size`), not pairwise as
numpy's `sum` would, so that the two paths agree to the last bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from slob_cli.adapters.store.db import from_us, to_us
from slob_cli.core.aggregator import GapDetected
from slob_cli.core.models import Candle, Tick

if TYPE_CHECKING:
    import pandas as pd

    from slob_cli.adapters.store import Store

MINUTE_US = 60_000_000
_TICK_DTYPE = np.dtype([("ts", "i8"), ("price", "f8"), ("size", "f8")])


@dataclass
class BatchResult:
    """Candles (per symbol, in time order), gaps, and counts of the ticks read and found late."""

    candles: list[Candle] = field(default_factory=list)
    gaps: list[GapDetected] = field(default_factory=list)
    ticks: int = 0
    late_ticks: int = 0

    def extend(self, other: BatchResult) -> None:
        """Append another symbol's result."""
        self.candles.extend(other.candles)
        self.gaps.extend(other.gaps)
        self.ticks += other.ticks
        self.late_ticks += other.late_ticks


def sequential_segment_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Return each segment's sum, added strictly left to right (bit-identical to a Python loop)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.float64)
    # Longest segments first, so step k touches only the prefix of segments longer than k.
    order = np.argsort(-counts, kind="stable")
    sorted_starts = starts[order]
    sorted_counts = counts[order]
    sums = values[sorted_starts].astype(np.float64, copy=True)
    descending = -sorted_counts
    for step in range(1, int(sorted_counts[0])):
        active = int(np.searchsorted(descending, -step, side="left"))
        sums[:active] += values[sorted_starts[:active] + step]
    result = np.empty_like(sums)
    result[order] = sums
    return result


def aggregate_arrays(
    symbol: str, ts_us: np.ndarray, price: np.ndarray, size: np.ndarray, fill_gaps_up_to: int = 0
) -> BatchResult:
    """Aggregate one symbol's ticks, given as arrays in arrival order (ts in UTC microseconds)."""
    total = len(ts_us)
    if total == 0:
        return BatchResult()
    minute = np.floor_divide(np.asarray(ts_us, dtype=np.int64), MINUTE_US)
    accepted = minute == np.maximum.accumulate(minute)
    minute = minute[accepted]
    price = np.asarray(price, dtype=np.float64)[accepted]
    size = np.asarray(size, dtype=np.float64)[accepted]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(minute)) + 1))
    counts = np.diff(np.append(starts, len(minute)))
    labels = minute[starts]
    opens = price[starts]
    closes = price[starts + counts - 1]
    highs = np.maximum.reduceat(price, starts)
    lows = np.minimum.reduceat(price, starts)
    volumes = sequential_segment_sums(size, starts, counts)
    result = BatchResult(ticks=total, late_ticks=int(total - len(minute)))
    _add_candles(result, symbol, labels.tolist(), opens.tolist(), highs.tolist(), lows.tolist(), closes.tolist(),
                 volumes.tolist(), counts.tolist(), fill_gaps_up_to)
    return result


def _add_candles(
    result: BatchResult, symbol: str, labels: list[int], opens: list[float], highs: list[float],
    lows: list[float], closes: list[float], volumes: list[float], counts: list[int], fill_gaps_up_to: int,
) -> None:
    """Append one candle per minute label (in time order) and the gaps between them."""
    previous = None
    for label, open_, high, low, close, volume, count in zip(labels, opens, highs, lows, closes, volumes, counts, strict=False):
        if previous is not None and label - previous > 1:
            _gap(result, symbol, previous, label, result.candles[-1].close, fill_gaps_up_to)
        result.candles.append(Candle(symbol, from_us(label * MINUTE_US), open_, high, low, close, volume, count))
        previous = label


def _gap(result: BatchResult, symbol: str, last: int, following: int, close: float, fill_gaps_up_to: int) -> None:
    missing = following - last - 1
    result.gaps.append(GapDetected(symbol, from_us((last + 1) * MINUTE_US), from_us(following * MINUTE_US), missing))
    if missing <= fill_gaps_up_to:
        for label in range(last + 1, following):
            result.candles.append(Candle(symbol, from_us(label * MINUTE_US), close, close, close, close, 0.0, 0))


def aggregate_ticks(ticks: Iterable[Tick], fill_gaps_up_to: int = 0) -> BatchResult:
    """Aggregate Tick objects (any symbols, arrival order); candles come grouped by symbol, sorted."""
    columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for tick in ticks:
        ts_list, price_list, size_list = columns.setdefault(tick.symbol, ([], [], []))
        ts_list.append(to_us(tick.ts))
        price_list.append(tick.price)
        size_list.append(tick.size)
    result = BatchResult()
    for symbol in sorted(columns):
        ts_list, price_list, size_list = columns[symbol]
        result.extend(aggregate_arrays(
            symbol, np.array(ts_list, dtype=np.int64), np.array(price_list), np.array(size_list), fill_gaps_up_to
        ))
    return result


def aggregate_frame(frame: pd.DataFrame, fill_gaps_up_to: int = 0) -> BatchResult:
    """Aggregate a frame with columns symbol, ts (UTC us), price, size, rows in arrival order."""
    result = BatchResult()
    for symbol in sorted(frame["symbol"].unique()):
        rows = frame[frame["symbol"] == symbol]
        result.extend(aggregate_arrays(
            str(symbol), rows["ts"].to_numpy(), rows["price"].to_numpy(), rows["size"].to_numpy(), fill_gaps_up_to
        ))
    return result


def aggregate_store(
    store: Store,
    symbols: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    fill_gaps_up_to: int = 0,
    progress: Callable[[int], None] | None = None,
    chunk: int = 500_000,
) -> BatchResult:
    """Aggregate the stored ticks (arrival order = insertion order) of the given symbols."""
    chosen = list(symbols) if symbols is not None else stored_symbols(store)
    result = BatchResult()
    for symbol in chosen:
        in_sqlite = _aggregate_in_sqlite(store, symbol, start, end, fill_gaps_up_to, progress)
        if in_sqlite is not None:
            result.extend(in_sqlite)
            continue
        parts: list[np.ndarray] = []
        for chunk_rows in store.tick_chunks_in_arrival_order(symbol, start, end, chunk):
            part = np.fromiter(chunk_rows, dtype=_TICK_DTYPE)
            parts.append(part)
            if progress is not None:
                progress(len(part))
        if not parts:
            continue
        rows = np.concatenate(parts)
        result.extend(aggregate_arrays(symbol, rows["ts"], rows["price"], rows["size"], fill_gaps_up_to))
    return result


_HIGHEST = 2**63 - 1


def _aggregate_in_sqlite(
    store: Store, symbol: str, start: datetime | None, end: datetime | None, fill_gaps_up_to: int,
    progress: Callable[[int], None] | None,
) -> BatchResult | None:
    """Aggregate inside SQLite when that is provably what the numpy path gives, else return None.

    Turning millions of rows into Python objects costs far more than SQLite's own scan, and a
    GROUP BY on the minute sorts every row. Instead the (symbol, ts) index gives each minute's
    first row id, and the id range from there to the next minute's first row is summed by rowid:
    one pass, no sort. Range i counts only its own minute's rows, so when the ranges together
    count every row of the window, no row lies outside its minute's range: minutes never go back
    in arrival (id) order, no tick is late, and each candle's open and close are its range's
    first and last rows. Sizes must be whole and non-negative, so that SQLite's sum (in any
    order, with any summation method) equals the sequential float sum. Else: the numpy path.
    """
    low = -(2**63) if start is None else to_us(start)
    high = _HIGHEST if end is None else to_us(end)
    firsts = _minute_firsts(store, symbol, low, high)
    if not firsts:
        return BatchResult()
    columns: tuple[list, ...] = ([], [], [], [], [], [], [])
    labels, opens, highs, lows, closes, volumes, counts = columns
    for index, (minute, first_id) in enumerate(firsts):
        last_id = _HIGHEST if index + 1 == len(firsts) else firsts[index + 1][1] - 1
        params = (first_id, last_id, symbol, max(low, minute * MINUTE_US), min(high, (minute + 1) * MINUTE_US))
        count, low_price, high_price, volume, unusual_size = store.id_range_summary(params)
        if not count or unusual_size or not float(volume) < 2.0**53:
            return None
        labels.append(minute)
        opens.append(store.id_range_open(params))
        highs.append(float(high_price))
        lows.append(float(low_price))
        closes.append(store.id_range_close(params))
        volumes.append(float(volume))
        counts.append(count)
    result = BatchResult(ticks=sum(counts))
    if result.ticks != store.tick_count_between(symbol, low, high):
        return None
    if progress is not None:
        progress(result.ticks)
    _add_candles(result, symbol, labels, opens, highs, lows, closes, volumes, counts, fill_gaps_up_to)
    return result


def _minute_firsts(store: Store, symbol: str, low: int, high: int) -> list[tuple[int, int]]:
    """Return (minute, id of its first row by time) for every minute with ticks in [low, high), from the index."""
    firsts: list[tuple[int, int]] = []
    last_minute = (high - 1) // MINUTE_US
    row = store.first_tick_between(symbol, low, high)
    while row is not None:
        minute = row[0] // MINUTE_US
        firsts.append((minute, row[1]))
        if minute >= last_minute:
            break
        row = store.first_tick_between(symbol, (minute + 1) * MINUTE_US, high)
    return firsts


def stored_symbols(store: Store) -> list[str]:
    """Return the distinct symbols of the ticks table, hopping along its index (no full scan)."""
    return store.symbols_in("ticks")
