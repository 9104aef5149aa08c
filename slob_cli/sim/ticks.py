"""Columnar tick arrays and the base every simulated market source builds on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

import numpy as np

from slob_cli.core.models import TICK_SIZE, Candle

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_US = 60_000_000
DAY_US = 86_400 * 1_000_000
CANDLE_SYMBOL = "NQ"


@dataclass(frozen=True, slots=True)
class MarketTick:
    """One trade with the quote standing when it printed."""

    ts: datetime
    price: float
    size: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int


class MarketSource(Protocol):
    """What the simulated gateway asks a market for."""

    def ticks_between(self, start: datetime, end: datetime) -> list[MarketTick]:
        """Return the trades with start <= ts < end, in time order."""
        ...

    def candles_between(self, start: datetime, end: datetime) -> list[Candle]:
        """Return the M1 TRADES bars of exactly ticks_between(start, end)."""
        ...

    def last_tick_before(self, ts: datetime) -> MarketTick | None:
        """Return the last trade strictly before ts (the quote and last price at ts)."""
        ...

    def shift_prices(self, points: float, from_ts: datetime) -> None:
        """Move every price from from_ts on by points (fault: a price jump)."""
        ...


def to_us(ts: datetime) -> int:
    """Return microseconds since the epoch for an aware datetime."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"time {ts.isoformat()} has no time zone")
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Return the aware UTC datetime for microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True, slots=True)
class TickArrays:
    """Ticks as parallel numpy columns (ts in microseconds UTC, prices on the tick grid)."""

    ts: np.ndarray
    price: np.ndarray
    size: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @classmethod
    def empty(cls) -> TickArrays:
        """Return arrays holding no ticks."""
        floats = np.empty(0, dtype=np.float64)
        ints = np.empty(0, dtype=np.int64)
        return cls(ints, floats, ints, floats, floats, ints, ints)

    def take(self, index: slice | np.ndarray) -> TickArrays:
        """Return the ticks selected by a slice or an index/mask array."""
        return TickArrays(*(column[index] for column in self._columns()))

    def between(self, start_us: int, end_us: int) -> TickArrays:
        """Return the ticks with start_us <= ts < end_us (ts must be sorted)."""
        low = int(np.searchsorted(self.ts, start_us, side="left"))
        high = int(np.searchsorted(self.ts, end_us, side="left"))
        return self.take(slice(low, high))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.ts, self.price, self.size, self.bid, self.ask, self.bid_size, self.ask_size)

    @staticmethod
    def concat(parts: list[TickArrays]) -> TickArrays:
        """Join tick arrays end to end."""
        parts = [part for part in parts if len(part)]
        if not parts:
            return TickArrays.empty()
        if len(parts) == 1:
            return parts[0]
        columns = zip(*(part._columns() for part in parts), strict=False)
        return TickArrays(*(np.concatenate(list(column)) for column in columns))

    def sorted_by_time(self) -> TickArrays:
        """Return the ticks in time order, keeping the order of equal timestamps."""
        return self.take(np.argsort(self.ts, kind="stable"))

    def to_ticks(self) -> list[MarketTick]:
        """Materialise MarketTick objects."""
        return [
            MarketTick(from_us(ts), price, size, bid, ask, bid_size, ask_size)
            for ts, price, size, bid, ask, bid_size, ask_size in zip(
                self.ts.tolist(),
                self.price.tolist(),
                self.size.tolist(),
                self.bid.tolist(),
                self.ask.tolist(),
                self.bid_size.tolist(),
                self.ask_size.tolist(), strict=False,
            )
        ]

    @classmethod
    def from_ticks(cls, ticks: list[MarketTick]) -> TickArrays:
        """Return arrays holding the given ticks."""
        if not ticks:
            return cls.empty()
        return cls(
            np.array([to_us(t.ts) for t in ticks], dtype=np.int64),
            np.array([t.price for t in ticks], dtype=np.float64),
            np.array([t.size for t in ticks], dtype=np.int64),
            np.array([t.bid for t in ticks], dtype=np.float64),
            np.array([t.ask for t in ticks], dtype=np.float64),
            np.array([t.bid_size for t in ticks], dtype=np.int64),
            np.array([t.ask_size for t in ticks], dtype=np.int64),
        )


def candles_from_arrays(ticks: TickArrays, symbol: str = CANDLE_SYMBOL) -> list[Candle]:
    """Fold time-ordered ticks into M1 OHLCV candles (first trade = open, last = close)."""
    if not len(ticks):
        return []
    minutes = ticks.ts // MINUTE_US
    starts = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
    ends = np.r_[starts[1:], len(ticks)]
    opens = ticks.price[starts]
    closes = ticks.price[ends - 1]
    highs = np.maximum.reduceat(ticks.price, starts)
    lows = np.minimum.reduceat(ticks.price, starts)
    volumes = np.add.reduceat(ticks.size, starts)
    counts = ends - starts
    return [
        Candle(symbol, from_us(minute * MINUTE_US), o, h, l, c, float(v), int(n))
        for minute, o, h, l, c, v, n in zip(
            minutes[starts].tolist(),
            opens.tolist(),
            highs.tolist(),
            lows.tolist(),
            closes.tolist(),
            volumes.tolist(),
            counts.tolist(), strict=False,
        )
    ]


def trade_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Draw NQ-like trade sizes: mostly 1-3 lots with a fat tail of block trades."""
    uniform = rng.random(count)
    tail = 4 + np.floor(rng.pareto(1.5, count) * 2.0)
    sizes = np.where(uniform < 0.60, 1, np.where(uniform < 0.80, 2, np.where(uniform < 0.88, 3, tail)))
    return np.minimum(sizes, 250).astype(np.int64)


def book_sizes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Draw top-of-book sizes (about 9 contracts on average)."""
    return (1 + rng.negative_binomial(2, 0.2, count)).astype(np.int64)


def quotes_by_tick_rule(prices: np.ndarray, first_at_ask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return bid and ask one tick apart, the trade printing at the ask on upticks, at the bid on downticks."""
    if prices.size == 0:
        return prices.copy(), prices.copy()
    change = np.sign(np.diff(prices, prepend=prices[0]))
    change[0] = 1 if first_at_ask else -1
    # Zero ticks keep the previous side: forward-fill the last non-zero sign.
    index = np.where(change != 0, np.arange(change.size), 0)
    np.maximum.accumulate(index, out=index)
    at_ask = change[index] > 0
    bid = np.where(at_ask, prices - TICK_SIZE, prices)
    return bid, bid + TICK_SIZE


def snap_to_grid(prices: np.ndarray) -> np.ndarray:
    """Round prices to the 0.25 grid."""
    return np.round(prices / TICK_SIZE) * TICK_SIZE


class ArrayMarket:
    """Shared behaviour of the array-backed markets: slicing, candles, last tick, price shifts."""

    def __init__(self) -> None:
        self._shifts: list[tuple[int, float]] = []

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """Return [first trade, end) of a bounded source, None for one that trades at any time."""
        return None

    # Subclasses provide the raw (unshifted) ticks.
    def _window(self, start_us: int, end_us: int) -> TickArrays:
        raise NotImplementedError

    def _last_before(self, ts_us: int) -> TickArrays:
        """Return the raw last tick before ts_us (zero or one row)."""
        raise NotImplementedError

    def arrays_between(self, start: datetime, end: datetime) -> TickArrays:
        """Return the ticks with start <= ts < end as arrays (cheap for large windows)."""
        start_us, end_us = to_us(start), to_us(end)
        if end_us <= start_us:
            return TickArrays.empty()
        return self._shifted(self._window(start_us, end_us))

    def ticks_between(self, start: datetime, end: datetime) -> list[MarketTick]:
        """Return the trades with start <= ts < end, in time order."""
        return self.arrays_between(start, end).to_ticks()

    def candles_between(self, start: datetime, end: datetime) -> list[Candle]:
        """Return the M1 TRADES bars of exactly ticks_between(start, end)."""
        return candles_from_arrays(self.arrays_between(start, end))

    def last_tick_before(self, ts: datetime) -> MarketTick | None:
        """Return the last trade strictly before ts."""
        last = self._shifted(self._last_before(to_us(ts)))
        return last.to_ticks()[0] if len(last) else None

    def shift_prices(self, points: float, from_ts: datetime) -> None:
        """Move every price from from_ts on by points, rounded to the tick grid."""
        self._shifts.append((to_us(from_ts), round(points / TICK_SIZE) * TICK_SIZE))

    def _shifted(self, ticks: TickArrays) -> TickArrays:
        if not self._shifts or not len(ticks):
            return ticks
        offset = np.zeros(len(ticks), dtype=np.float64)
        for from_us_, points in self._shifts:
            offset += np.where(ticks.ts >= from_us_, points, 0.0)
        return TickArrays(
            ticks.ts, ticks.price + offset, ticks.size, ticks.bid + offset, ticks.ask + offset,
            ticks.bid_size, ticks.ask_size,
        )  # fmt: skip
