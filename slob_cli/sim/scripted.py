"""Planted markets: exact M1 candles reproduced tick by tick, and paths through price waypoints."""

from __future__ import annotations

import bisect
import itertools
import math
from datetime import datetime, timedelta

import numpy as np

from slob_cli.core.models import TICK_SIZE, Candle
from slob_cli.sim.ticks import (
    MINUTE_US,
    ArrayMarket,
    MarketSource,
    TickArrays,
    book_sizes,
    from_us,
    quotes_by_tick_rule,
    snap_to_grid,
    to_us,
    trade_sizes,
)

# Trades per minute used when a candle has volume but no tick count.
_DEFAULT_TRADES_PER_BAR = 30
# How far back the fallback is searched for the quote standing before a moment.
_FALLBACK_LOOKBACK_US = 6 * 3600 * 1_000_000


def _on_grid(value: float) -> bool:
    return abs(value / TICK_SIZE - round(value / TICK_SIZE)) < 1e-9


def _check_candle(candle: Candle) -> None:
    """Raise ValueError naming the first inconsistency of a candle that must be reproduced."""
    label = f"candle {candle.ts.isoformat()}"
    if candle.ts.tzinfo is None or candle.ts.second or candle.ts.microsecond:
        raise ValueError(f"{label}: ts must be an aware minute start")
    prices = (candle.open, candle.high, candle.low, candle.close)
    if not all(math.isfinite(p) and p > 0 and _on_grid(p) for p in prices):
        raise ValueError(f"{label}: prices {prices} must be positive and on the {TICK_SIZE} grid")
    if candle.high < max(candle.open, candle.close) or candle.low > min(candle.open, candle.close):
        raise ValueError(f"{label}: high/low {candle.high}/{candle.low} do not contain open and close")
    if candle.volume != int(candle.volume) or candle.volume < 0:
        raise ValueError(f"{label}: volume {candle.volume} must be a whole number of contracts")


def _minimum_trades(candle: Candle) -> int:
    """Return the fewest trades that can print open, high, low and close."""
    inner = {candle.high, candle.low} - {candle.open, candle.close}
    return 1 + (candle.close != candle.open or bool(inner)) + len(inner)


def _candle_path(candle: Candle, count: int, rng: np.random.Generator) -> np.ndarray:
    """Return count prices: first = open, last = close, touching high and low, inside the range."""
    if count == 1:
        return np.array([candle.open])
    anchors: dict[int, float] = {0: candle.open, count - 1: candle.close}
    inner = [p for p in (candle.high, candle.low) if p not in (candle.open, candle.close)]
    if inner:
        slots = sorted(rng.choice(np.arange(1, count - 1), size=len(inner), replace=False).tolist())
        # A falling bar more often prints its high first; a rising bar its low first.
        if len(inner) == 2 and (candle.close >= candle.open) == (rng.random() < 0.7):
            inner.reverse()
        anchors.update(zip(slots, inner, strict=False))
    positions = sorted(anchors)
    path = np.empty(count)
    for left, right in itertools.pairwise(positions):
        steps = right - left
        line = np.linspace(anchors[left], anchors[right], steps + 1)
        noise = np.cumsum(rng.integers(-1, 2, steps + 1)) * TICK_SIZE
        noise -= np.linspace(noise[0], noise[-1], steps + 1)  # bridge: zero at both anchors
        path[left : right + 1] = line + noise
    path = np.clip(snap_to_grid(path), candle.low, candle.high)
    for index, price in anchors.items():
        path[index] = price
    return path


def candle_ticks(candle: Candle, seed: int) -> TickArrays:
    """Return trades that aggregate back into exactly this M1 candle."""
    _check_candle(candle)
    volume = int(candle.volume)
    if candle.tick_count > 0:
        count = candle.tick_count
    elif volume > 0:
        count = max(_minimum_trades(candle), min(volume, _DEFAULT_TRADES_PER_BAR))
    else:
        return TickArrays.empty()  # a synthetic bar: nothing traded
    label = f"candle {candle.ts.isoformat()}"
    if count < _minimum_trades(candle):
        raise ValueError(f"{label}: {count} trades cannot print open, high, low and close")
    if volume < count:
        raise ValueError(f"{label}: volume {volume} is less than its {count} trades of at least 1 contract")
    minute_us = to_us(candle.ts)
    rng = np.random.default_rng([seed % (2**63), minute_us // MINUTE_US, 2])
    prices = _candle_path(candle, count, rng)
    weights = trade_sizes(rng, count).astype(np.float64)
    sizes = 1 + rng.multinomial(volume - count, weights / weights.sum())
    ts = minute_us + np.sort(rng.integers(0, MINUTE_US, count))
    bid, ask = quotes_by_tick_rule(prices)
    return TickArrays(ts, prices, sizes.astype(np.int64), bid, ask, book_sizes(rng, count), book_sizes(rng, count))


class ScriptedMarket(ArrayMarket):
    """Serve given M1 candles tick by tick; outside them, the fallback market (or nothing)."""

    def __init__(self, candles: list[Candle], seed: int = 0, fallback: MarketSource | None = None) -> None:
        super().__init__()
        self.seed = seed
        self.fallback = fallback
        ordered = sorted(candles, key=lambda candle: candle.ts)
        minutes = [to_us(candle.ts) // MINUTE_US for candle in ordered]
        if len(set(minutes)) != len(minutes):
            raise ValueError("scripted candles contain the same minute twice")
        self._scripted_minutes = np.array(minutes, dtype=np.int64)
        self._ticks = TickArrays.concat([candle_ticks(candle, seed) for candle in ordered])
        self.candles = ordered

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """Return the start of the first scripted minute and the end of the last (None with a fallback)."""
        if not self.candles or self.fallback is not None:
            return None
        return self.candles[0].ts, self.candles[-1].end

    def _fallback_window(self, start_us: int, end_us: int) -> TickArrays:
        if self.fallback is None:
            return TickArrays.empty()
        if isinstance(self.fallback, ArrayMarket):
            ticks = self.fallback.arrays_between(from_us(start_us), from_us(end_us))
        else:
            ticks = TickArrays.from_ticks(self.fallback.ticks_between(from_us(start_us), from_us(end_us)))
        scripted = np.isin(ticks.ts // MINUTE_US, self._scripted_minutes)
        return ticks.take(~scripted)

    def _window(self, start_us: int, end_us: int) -> TickArrays:
        own = self._ticks.between(start_us, end_us)
        if self.fallback is None:
            return own
        return TickArrays.concat([own, self._fallback_window(start_us, end_us)]).sorted_by_time()

    def _last_before(self, ts_us: int) -> TickArrays:
        own = self._ticks.between(-(2**62), ts_us).take(slice(-1, None))
        other = self._fallback_window(ts_us - _FALLBACK_LOOKBACK_US, ts_us).take(slice(-1, None))
        if len(other) and (not len(own) or other.ts[0] > own.ts[0]):
            return other
        return own


class StitchedMarket(ArrayMarket):
    """A fallback market whose prices are moved so it runs through scripted days without a jump.

    Before each scripted block the offset brings the fallback's last trade to the block's first
    open; after it, its next trade to the block's last close; between two blocks the offset moves
    linearly from one to the other (before the first and after the last it stays constant). Each
    stretch keeps the fallback's own path (overnight moves, Globex evening, CME halt): only its level
    changes, by whole ticks.
    """

    def __init__(self, inner: ArrayMarket, candles: list[Candle]) -> None:
        super().__init__()
        self.inner = inner
        knots_us: list[int] = []
        offsets: list[float] = []
        for block in _blocks(sorted(candles, key=lambda candle: candle.ts)):
            start, end = block[0].ts, block[-1].end
            before = inner.last_tick_before(start)
            after = inner.arrays_between(end, end + timedelta(days=4)).take(slice(0, 1)).to_ticks()
            knots_us += [to_us(start), to_us(end)]
            offsets += [0.0 if before is None else block[0].open - before.price,
                        0.0 if not after else block[-1].close - after[0].price]
        self._knots = np.array(knots_us, dtype=np.float64)
        self._offsets = np.array(offsets, dtype=np.float64)

    def offset_at(self, ts_us: np.ndarray) -> np.ndarray:
        """Return the price offset (whole ticks) at each time."""
        if not len(self._knots):
            return np.zeros(len(ts_us))
        return snap_to_grid(np.interp(ts_us.astype(np.float64), self._knots, self._offsets))

    def _moved(self, ticks: TickArrays) -> TickArrays:
        if not len(ticks):
            return ticks
        offset = self.offset_at(ticks.ts)
        return TickArrays(ticks.ts, ticks.price + offset, ticks.size, ticks.bid + offset, ticks.ask + offset,
                          ticks.bid_size, ticks.ask_size)

    def _window(self, start_us: int, end_us: int) -> TickArrays:
        return self._moved(self.inner.arrays_between(from_us(start_us), from_us(end_us)))

    def _last_before(self, ts_us: int) -> TickArrays:
        last = self.inner.last_tick_before(from_us(ts_us))
        return self._moved(TickArrays.from_ticks([last])) if last is not None else TickArrays.empty()


def _blocks(ordered: list[Candle]) -> list[list[Candle]]:
    """Split time-ordered candles into runs of consecutive minutes."""
    blocks: list[list[Candle]] = []
    for candle in ordered:
        if blocks and candle.ts == blocks[-1][-1].end:
            blocks[-1].append(candle)
        else:
            blocks.append([candle])
    return blocks


def stitch_fallback(candles: list[Candle], fallback: ArrayMarket) -> StitchedMarket:
    """Return the fallback moved to run through the scripted candles without jumps (see StitchedMarket)."""
    return StitchedMarket(fallback, candles)


class WaypointMarket(ArrayMarket):
    """A noisy price path that passes through each (time, price) waypoint; no trades outside them."""

    def __init__(
        self,
        points: list[tuple[datetime, float]],
        seed: int = 0,
        trades_per_minute: float = 120.0,
        noise_points_per_minute: float = 2.0,
    ) -> None:
        super().__init__()
        if len(points) < 2:
            raise ValueError("a waypoint market needs at least two (time, price) points")
        ordered = sorted(points, key=lambda point: point[0])
        self._times = [to_us(when) for when, _ in ordered]
        if len(set(self._times)) != len(self._times):
            raise ValueError("two waypoints share the same time")
        self._prices = [round(price / TICK_SIZE) * TICK_SIZE for _, price in ordered]
        if min(self._prices) <= 0:
            raise ValueError("waypoint prices must be positive")
        self.seed = seed
        self.trades_per_minute = trades_per_minute
        self.noise_points_per_minute = noise_points_per_minute
        self._segments: dict[int, TickArrays] = {}

    @property
    def span(self) -> tuple[datetime, datetime] | None:
        """Return the first waypoint and the instant just after the last one."""
        return from_us(self._times[0]), from_us(self._times[-1] + 1)

    def _segment(self, index: int) -> TickArrays:
        """Return the trades from waypoint index (inclusive) to the next one (exclusive)."""
        cached = self._segments.get(index)
        if cached is not None:
            return cached
        start_us, end_us = self._times[index], self._times[index + 1]
        start_price, end_price = self._prices[index], self._prices[index + 1]
        rng = np.random.default_rng([self.seed % (2**63), index, start_us, 3])
        minutes = (end_us - start_us) / MINUTE_US
        count = 1 + int(rng.poisson(self.trades_per_minute * minutes))
        offsets = np.r_[0, np.sort(rng.integers(1, end_us - start_us, count - 1))] if count > 1 else np.r_[0]
        ts = start_us + offsets
        fraction = np.r_[offsets / (end_us - start_us), 1.0]
        steps = rng.standard_normal(count) * self.noise_points_per_minute * np.sqrt(np.diff(fraction) * minutes)
        walk = np.r_[0.0, np.cumsum(steps)]
        bridge = walk - fraction * walk[-1]
        prices = snap_to_grid(start_price + (end_price - start_price) * fraction + bridge)[:-1]
        prices = np.maximum(prices, TICK_SIZE)
        prices[0] = start_price
        if index == len(self._times) - 2:
            # The last waypoint prints too, so the path ends exactly there.
            ts, prices = np.r_[ts, end_us], np.r_[prices, end_price]
        bid, ask = quotes_by_tick_rule(prices)
        size = prices.size
        segment = TickArrays(ts, prices, trade_sizes(rng, size), bid, ask, book_sizes(rng, size), book_sizes(rng, size))
        self._segments[index] = segment
        return segment

    def _segment_range(self, start_us: int, end_us: int) -> range:
        first = max(0, bisect.bisect_right(self._times, start_us) - 1)
        last = min(len(self._times) - 2, bisect.bisect_left(self._times, end_us))
        return range(first, last + 1)

    def _window(self, start_us: int, end_us: int) -> TickArrays:
        parts = [self._segment(index).between(start_us, end_us) for index in self._segment_range(start_us, end_us)]
        return TickArrays.concat(parts)

    def _last_before(self, ts_us: int) -> TickArrays:
        if ts_us <= self._times[0]:
            return TickArrays.empty()
        index = min(len(self._times) - 2, bisect.bisect_left(self._times, ts_us) - 1)
        return self._segment(index).between(-(2**62), ts_us).take(slice(-1, None))
