"""A seeded generator of realistic NQ trading around the clock, one UTC day at a time.

Each UTC day is generated from (seed, date) alone, so the ticks never depend on the order in which
windows are asked for. A day opens at a deterministic level and its Brownian path is pinned to the
next day's opening level, so days join up without generating their predecessors. Activity follows
the New York clock: quiet Asia and London mornings, a busy 09:30 open, a lunch lull, a lively close
and no trades in the CME 17:00-18:00 halt. Weekends use the weekday shape so rehearsals get ticks.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from slob_cli.core.models import TICK_SIZE
from slob_cli.sim.ticks import (
    DAY_US,
    MINUTE_US,
    ArrayMarket,
    TickArrays,
    book_sizes,
    trade_sizes,
)

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
EPOCH_DAY = date(1970, 1, 1)

# Relative trading intensity by New York wall time (hour, minute, weight), linearly interpolated.
_INTENSITY_KNOTS: tuple[tuple[int, int, float], ...] = (
    (0, 0, 0.14), (2, 0, 0.18), (3, 0, 0.32), (4, 0, 0.30), (7, 0, 0.30), (8, 0, 0.55),
    (8, 29, 0.65), (8, 30, 1.60), (8, 40, 0.90), (9, 29, 0.95), (9, 30, 3.20), (10, 0, 2.40),
    (10, 30, 1.60), (11, 30, 1.10), (12, 0, 0.70), (13, 30, 0.70), (14, 0, 0.95), (15, 0, 1.20),
    (15, 45, 1.90), (15, 59, 2.60), (16, 0, 0.45), (16, 15, 0.25), (16, 59, 0.15), (17, 0, 0.0),
    (18, 0, 0.40), (18, 30, 0.25), (20, 0, 0.22), (21, 0, 0.16), (24, 0, 0.14),
)  # fmt: skip
_HALT_START, _HALT_END = 17 * 60, 18 * 60
# Slow random level components (days per lattice step, log amplitude): a wandering but bounded price.
_LEVEL_COMPONENTS: tuple[tuple[int, float], ...] = ((1, 0.008), (5, 0.015), (25, 0.035), (125, 0.07))
_INTRADAY_LOG_SD = 0.008  # about 200 points of intraday wander around the day's bridge
_DEFAULT_TICKS_PER_DAY = 450_000


def _seed_words(seed: int) -> int:
    return seed % (2**63)


def new_york_minutes(day: date) -> np.ndarray:
    """Return the New York minute-of-day (0..1439) of each UTC minute of day."""
    start = datetime.combine(day, time(0), UTC)
    offsets = {start.astimezone(NEW_YORK).utcoffset(), (start + timedelta(days=1)).astimezone(NEW_YORK).utcoffset()}
    if len(offsets) == 1:
        shift = int(next(iter(offsets)).total_seconds() // 60)  # type: ignore[union-attr]
        return (np.arange(1440) + shift) % 1440
    minutes = np.empty(1440, dtype=np.int64)
    for index in range(1440):
        local = (start + timedelta(minutes=index)).astimezone(NEW_YORK)
        minutes[index] = local.hour * 60 + local.minute
    return minutes


def intensity_shape(ny_minutes: np.ndarray) -> np.ndarray:
    """Return the relative trade intensity at each New York minute-of-day (0 inside the halt)."""
    knots_x = np.array([hour * 60 + minute for hour, minute, _ in _INTENSITY_KNOTS], dtype=np.float64)
    knots_y = np.array([weight for _, _, weight in _INTENSITY_KNOTS], dtype=np.float64)
    weights = np.interp(ny_minutes.astype(np.float64), knots_x, knots_y)
    halted = (ny_minutes >= _HALT_START) & (ny_minutes < _HALT_END)
    return np.where(halted, 0.0, weights)


class GeneratedMarket(ArrayMarket):
    """Realistic NQ trades, bid/ask and sizes for any moment, reproducible from a seed."""

    def __init__(
        self,
        seed: int,
        base_price: float = 25_000.0,
        ticks_per_day: int = _DEFAULT_TICKS_PER_DAY,
        cache_days: int = 4,
    ) -> None:
        super().__init__()
        if base_price <= 0:
            raise ValueError(f"base price must be positive, got {base_price}")
        if ticks_per_day < 1:
            raise ValueError(f"ticks_per_day must be at least 1, got {ticks_per_day}")
        self.seed = seed
        self.base_price = base_price
        self.ticks_per_day = ticks_per_day
        self._cache_days = max(1, cache_days)
        self._days: OrderedDict[date, TickArrays] = OrderedDict()

    # ------------------------------------------------------------------ levels
    def _lattice_value(self, component: int, index: int) -> float:
        rng = np.random.default_rng([_seed_words(self.seed), 0x5EED, component, index])
        return float(rng.standard_normal())

    def day_open(self, day: date) -> float:
        """Return the deterministic opening price of a UTC day (on the tick grid)."""
        ordinal = day.toordinal()
        log_level = 0.0
        for component, (span, amplitude) in enumerate(_LEVEL_COMPONENTS):
            index, remainder = divmod(ordinal, span)
            fraction = remainder / span
            left = self._lattice_value(component, index)
            right = self._lattice_value(component, index + 1) if fraction else left
            # Smoothstep keeps the slow components from showing corners.
            weight = fraction * fraction * (3 - 2 * fraction)
            log_level += amplitude * (left + (right - left) * weight)
        return round(self.base_price * math.exp(log_level) / TICK_SIZE) * TICK_SIZE

    # ------------------------------------------------------------------ days
    def day_ticks(self, day: date) -> TickArrays:
        """Return all trades of one UTC day (cached)."""
        cached = self._days.get(day)
        if cached is not None:
            self._days.move_to_end(day)
            return cached
        ticks = self._generate_day(day)
        self._days[day] = ticks
        while len(self._days) > self._cache_days:
            self._days.popitem(last=False)
        return ticks

    def _generate_day(self, day: date) -> TickArrays:
        rng = np.random.default_rng([_seed_words(self.seed), day.toordinal(), 1])
        open_price = self.day_open(day)
        close_price = self.day_open(day + timedelta(days=1))
        weights = intensity_shape(new_york_minutes(day))
        # Volume clusters: a slow lognormal activity factor per minute (AR(1) in logs).
        shocks = rng.standard_normal(1440) * 0.15
        activity = np.empty(1440)
        level = 0.0
        for index in range(1440):  # 1440 steps: cheap, and clearer than a filter call
            level = 0.9 * level + shocks[index]
            activity[index] = level
        expected = weights * np.exp(activity)
        expected *= self.ticks_per_day / expected.sum()
        counts = rng.poisson(expected)
        total = int(counts.sum())
        minute_of_tick = np.repeat(np.arange(1440, dtype=np.int64), counts)
        day_start_us = (day - EPOCH_DAY).days * DAY_US
        ts = np.sort(day_start_us + minute_of_tick * MINUTE_US + rng.integers(0, MINUTE_US, total))
        minute_of_tick = (ts - day_start_us) // MINUTE_US

        # Variance per minute follows activity, with a floor so the halt still moves (reopen gaps).
        variance_shape = weights * np.exp(activity) + 0.03
        day_variance = (_INTRADAY_LOG_SD * open_price) ** 2
        minute_variance = day_variance * variance_shape / variance_shape.sum()
        # Brownian increments between consecutive ticks (and on to the end of the day).
        edges = np.r_[day_start_us, ts, day_start_us + DAY_US]
        gaps_min = np.diff(edges) / MINUTE_US
        minute_of_gap = np.minimum(np.r_[minute_of_tick, 1439], 1439)
        increment_variance = minute_variance[minute_of_gap] * gaps_min
        # Student-t shocks (df 4, unit variance) give the fat-tailed moves real ticks show.
        shocks_t = rng.standard_t(4, total + 1) / math.sqrt(2.0)
        walk = np.cumsum(shocks_t * np.sqrt(increment_variance))
        cumulative_variance = np.cumsum(increment_variance)
        # Brownian bridge: pin the end of the day to the next day's open.
        target = close_price - open_price
        bridge = walk - cumulative_variance / cumulative_variance[-1] * (walk[-1] - target)
        mid = open_price + bridge[:-1]

        bid = np.floor(mid / TICK_SIZE) * TICK_SIZE
        ask = bid + TICK_SIZE
        # Buyers lift the ask more often when the price is rising: aggressor side follows the drift.
        rising = np.diff(bridge, prepend=0.0)[:-1] > 0
        buyer = rng.random(total) < np.where(rising, 0.7, 0.3)
        price = np.where(buyer, ask, bid)
        # Compact columns keep a cached day near 14 MB; float32 holds quarter points below 4 million exactly.
        return TickArrays(
            ts, price.astype(np.float32), trade_sizes(rng, total).astype(np.int32), bid.astype(np.float32),
            ask.astype(np.float32), book_sizes(rng, total).astype(np.int32), book_sizes(rng, total).astype(np.int32),
        )  # fmt: skip

    # ------------------------------------------------------------------ ArrayMarket
    def _window(self, start_us: int, end_us: int) -> TickArrays:
        first = EPOCH_DAY + timedelta(days=start_us // DAY_US)
        last = EPOCH_DAY + timedelta(days=(end_us - 1) // DAY_US)
        parts = []
        day = first
        while day <= last:
            parts.append(self.day_ticks(day).between(start_us, end_us))
            day += timedelta(days=1)
        return TickArrays.concat(parts)

    def _last_before(self, ts_us: int) -> TickArrays:
        day = EPOCH_DAY + timedelta(days=(ts_us - 1) // DAY_US)
        for _ in range(7):
            ticks = self.day_ticks(day).between(-(2**62), ts_us)
            if len(ticks):
                return ticks.take(slice(-1, None))
            day -= timedelta(days=1)
        return TickArrays.empty()
