"""Pure, seeded, candle-level trading days: a builder that plants structures at exact bars, and named days.

Minutes are counted from the NYSE open of the builder's day (minute 0 = 09:30 New York); negative
minutes lie in the reference window, which starts at 08:00 London. Every price is on the 0.25 grid.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from slob_cli.core.models import TICK_SIZE, Candle, round_to_tick
from slob_cli.core.sessions import TradingCalendar, TradingSession, session_for
from slob_cli.sim import worked_example

SCENARIOS = ("quiet", "short_setup", "long_setup", "volatile_gaps", "both_setups")
ONE_MINUTE = timedelta(minutes=1)
FOLLOW_THROUGH_BARS = 14


def _tick(price: float) -> float:
    return round_to_tick(price, TICK_SIZE)


class DayBuilder:
    """Build one trading day's M1 candles bar by bar; later writes to a minute replace earlier ones."""

    def __init__(self, trading_date: date, symbol: str = "NQ", calendar: TradingCalendar | None = None) -> None:
        session = session_for(trading_date, calendar if calendar is not None else TradingCalendar())
        if session is None:
            raise ValueError(f"{trading_date} is not a trading day")
        self.session: TradingSession = session
        self.symbol = symbol
        self._bars: dict[int, Candle] = {}

    @property
    def first_minute(self) -> int:
        """Return the minute of the reference window's first bar (negative)."""
        return -self.session.reference_minutes

    @property
    def session_minutes(self) -> int:
        """Return the number of minutes in the NYSE session (390, or 210 on an early close)."""
        return int((self.session.session_end - self.session.session_start).total_seconds() // 60)

    def time(self, minute: int) -> datetime:
        """Return the UTC label of a session minute."""
        return self.session.session_start + minute * ONE_MINUTE

    def bar(self, minute: int, opened: float, high: float, low: float, close: float, tick_count: int = 30) -> DayBuilder:
        """Plant one bar; raise ValueError when its OHLC is inconsistent."""
        if not low <= min(opened, close) <= max(opened, close) <= high:
            raise ValueError(f"bar at minute {minute}: OHLC {opened}/{high}/{low}/{close} is inconsistent")
        volume = float(tick_count * 2)
        self._bars[minute] = Candle(self.symbol, self.time(minute), _tick(opened), _tick(high), _tick(low),
                                    _tick(close), volume, tick_count)
        return self

    def bars(self, minute: int, rows: Iterable[tuple[float, float, float, float]]) -> DayBuilder:
        """Plant consecutive bars (open, high, low, close) from `minute` on."""
        for offset, (opened, high, low, close) in enumerate(rows):
            self.bar(minute + offset, opened, high, low, close)
        return self

    def close_before(self, minute: int) -> float | None:
        """Return the close of the latest planted bar before `minute`, if any."""
        earlier = [m for m in self._bars if m < minute]
        return self._bars[max(earlier)].close if earlier else None

    def walk(self, minute: int, closes: Iterable[float], opened: float | None = None) -> DayBuilder:
        """Plant bars that open at the previous close and end at each given close.

        Wicks are at least half the body on both sides, so no walk bar is ever a no-wick candle.
        """
        previous = opened if opened is not None else self.close_before(minute)
        for offset, close in enumerate(closes):
            start = close if previous is None else previous
            wick = max(TICK_SIZE, _tick(abs(close - start) / 2 + TICK_SIZE))
            self.bar(minute + offset, start, max(start, close) + wick, min(start, close) - wick, close)
            previous = close
        return self

    def hold(self, minute: int, count: int, price: float, wick: float = 1.0) -> DayBuilder:
        """Plant `count` doji bars at one price (a quiet stretch that breaks nothing)."""
        for offset in range(count):
            self.bar(minute + offset, price, price + wick, price - wick, price)
        return self

    def reference(self, high: float, low: float, seed: int = 0, bars: int | None = None) -> DayBuilder:
        """Fill the reference window with a seeded walk inside [low, high] that touches both exactly.

        `bars` keeps only the first that many minutes of the window (to test coverage).
        """
        total = self.session.reference_minutes
        count = total if bars is None else bars
        if count <= 0:
            return self
        rows = bounded_walk(random.Random(seed), count, (high + low) / 2, low, high, step=max(1.0, (high - low) / 12))
        for offset, row in enumerate(rows):
            self.bar(self.first_minute + offset, *row)
        top = self.first_minute + count // 3
        bottom = self.first_minute + (2 * count) // 3
        bar_top, bar_bottom = self._bars[top], self._bars[bottom]
        self.bar(top, bar_top.open, high, bar_top.low, bar_top.close)
        self.bar(bottom, bar_bottom.open, bar_bottom.high, low, bar_bottom.close)
        return self

    def noise(self, start: int, end: int, seed: int, low: float, high: float, step: float = 4.0) -> DayBuilder:
        """Fill minutes [start, end) with a seeded walk that stays within [low, high]."""
        if end <= start:
            return self
        begin = self.close_before(start)
        begin = (low + high) / 2 if begin is None else min(max(begin, low + step), high - step)
        for offset, row in enumerate(bounded_walk(random.Random(seed), end - start, begin, low, high, step)):
            self.bar(start + offset, *row)
        return self

    def trend(self, minute: int, close: float, count: int, seed: int) -> DayBuilder:
        """Plant `count` walk bars from the previous close to `close`, every step a seeded size in one direction.

        Steps lie between 0.75 and 1.25 times the average; like every walk bar, none is a no-wick candle.
        """
        start = self.close_before(minute)
        if start is None:
            raise ValueError(f"no bar before minute {minute} to start a trend from")
        rng = random.Random(seed)
        weights = [rng.uniform(0.75, 1.25) for _ in range(count)]
        total, reached = sum(weights), 0.0
        closes = []
        for weight in weights:
            reached += weight
            closes.append(_tick(start + (close - start) * reached / total))
        closes[-1] = _tick(close)
        return self.walk(minute, closes)

    def drop(self, *minutes: int) -> DayBuilder:
        """Remove bars (missing minutes)."""
        for minute in minutes:
            self._bars.pop(minute, None)
        return self

    def synthetic(self, minute: int) -> DayBuilder:
        """Plant a flat gap-filled bar (tick_count 0) at the previous close."""
        price = self.close_before(minute)
        if price is None:
            raise ValueError(f"no bar before minute {minute} to copy a synthetic close from")
        self._bars[minute] = Candle(self.symbol, self.time(minute), price, price, price, price, 0.0, 0)
        return self

    def mirrored(self, pivot: float) -> DayBuilder:
        """Return a builder with every price reflected around pivot (a SHORT day becomes a LONG day)."""
        other = DayBuilder.__new__(DayBuilder)
        other.session, other.symbol = self.session, self.symbol
        other._bars = {}
        for minute, bar in self._bars.items():
            other._bars[minute] = Candle(bar.symbol, bar.ts, 2 * pivot - bar.open, 2 * pivot - bar.low,
                                         2 * pivot - bar.high, 2 * pivot - bar.close, bar.volume, bar.tick_count)
        return other

    def candles(self) -> list[Candle]:
        """Return the day's candles in time order."""
        return [self._bars[minute] for minute in sorted(self._bars)]


def bounded_walk(rng: random.Random, count: int, start: float, low: float, high: float,
                 step: float) -> list[tuple[float, float, float, float]]:
    """Return `count` gapless (open, high, low, close) rows of a walk reflected inside [low, high]."""
    rows: list[tuple[float, float, float, float]] = []
    price = _tick(min(max(start, low), high))
    for _ in range(count):
        close = price + rng.gauss(0.0, step)
        if close > high:
            close = 2 * high - close
        if close < low:
            close = 2 * low - close
        close = _tick(min(max(close, low), high))
        top = _tick(min(high, max(price, close) + abs(rng.gauss(0.0, step / 2))))
        bottom = _tick(max(low, min(price, close) - abs(rng.gauss(0.0, step / 2))))
        rows.append((price, top, bottom, close))
        price = close
    return rows


def worked_example_day(trading_date: date = date(2026, 1, 6), seed: int = 0,
                       calendar: TradingCalendar | None = None, symbol: str = "NQ") -> DayBuilder:
    """Return a builder holding the §7 example: reference window plus session minutes 0..61."""
    builder = DayBuilder(trading_date, symbol, calendar)
    builder.reference(worked_example.REFERENCE_HIGH, worked_example.REFERENCE_LOW, seed=seed)
    builder.bars(0, worked_example.SESSION_BARS)
    return builder


def build_scenario(name: str, trading_date: date, seed: int = 0, symbol: str = "NQ",
                   calendar: TradingCalendar | None = None) -> list[Candle]:
    """Return a full day (08:00 London to the session end) of the named scenario; raise ValueError if unknown."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    if name == "quiet":
        builder = DayBuilder(trading_date, symbol, calendar)
        builder.reference(25060.0, 24940.0, seed=seed)
        builder.noise(0, builder.session_minutes, seed + 1, 24950.0, 25050.0, step=3.0)
        return builder.candles()
    if name == "volatile_gaps":
        return _volatile_gaps(trading_date, seed, symbol, calendar)
    if name == "both_setups":
        return _both_setups(trading_date, seed, symbol, calendar)
    builder = worked_example_day(trading_date, seed, calendar, symbol)
    planted = len(worked_example.SESSION_BARS)
    # After the trigger price falls through the target (25 501) to 25 488 before any noise starts.
    builder.trend(planted, 25488.0, FOLLOW_THROUGH_BARS, seed + 2)
    builder.noise(planted + FOLLOW_THROUGH_BARS, builder.session_minutes, seed + 1, 25480.0, 25700.0, step=5.0)
    if name == "long_setup":
        builder = builder.mirrored(25500.0)
    return builder.candles()


def _volatile_gaps(trading_date: date, seed: int, symbol: str, calendar: TradingCalendar | None) -> list[Candle]:
    """Return a wide-ranging day whose session jumps every half hour (gaps invalidate the candidates)."""
    rng = random.Random(seed)
    builder = DayBuilder(trading_date, symbol, calendar)
    builder.reference(25100.0, 24900.0, seed=seed)
    price = 25000.0
    for block_start in range(0, builder.session_minutes, 30):
        rows = bounded_walk(rng, min(30, builder.session_minutes - block_start), price, 24700.0, 25300.0, 12.0)
        jump = rng.choice((-1.0, 1.0)) * _tick(rng.uniform(20.0, 60.0))
        first = rows[0]
        shift = jump if block_start else 0.0
        shifted = [(o + shift, h + shift, low + shift, c + shift) for o, h, low, c in rows]
        if shift > 0:
            shifted[0] = (first[0] + shift, first[1] + shift, max(first[2] + shift, price + TICK_SIZE), first[3] + shift)
        for offset, row in enumerate(shifted):
            opened, high, low, close = row
            builder.bar(block_start + offset, opened, max(high, opened, close), min(low, opened, close), close)
        price = shifted[-1][3]
    return builder.candles()


def _both_setups(trading_date: date, seed: int, symbol: str, calendar: TradingCalendar | None) -> list[Candle]:
    """Return a day with the §7 SHORT in the morning and its mirror image as a LONG after lunch.

    The reference window spans [25 306, 25 466]; the LONG is the §7 bars reflected around the middle
    25 386, so it breaks the LSE low as the SHORT breaks the LSE high and keeps the same R:R. Each
    trigger is followed by a trend through its target into the range, where the noise stays 25 points
    inside both levels: no candidate starts there, and the last one the trend starts is anchored on a
    bar that opens within about 14 points of the level (trend steps stay under 9 points), beyond the
    noise, so its LIQ #2 never comes and nothing else completes.
    """
    reference_high, reference_low = worked_example.REFERENCE_HIGH, 25306.0
    pivot = (reference_high + reference_low) / 2
    noise_low, noise_high = reference_low + 25.0, reference_high - 25.0
    builder = DayBuilder(trading_date, symbol, calendar)
    builder.reference(reference_high, reference_low, seed=seed)
    planted = len(worked_example.SESSION_BARS)
    builder.bars(0, worked_example.SESSION_BARS)
    short_done = planted + 2 * FOLLOW_THROUGH_BARS
    builder.trend(planted, reference_high - 41.0, 2 * FOLLOW_THROUGH_BARS, seed + 2)
    # 12:30 New York on a full day; 11:30 on an early close, so the LONG's target still comes before 13:00.
    long_start = min(180, builder.session_minutes - planted - 2 * FOLLOW_THROUGH_BARS)
    approach = 10
    builder.noise(short_done, long_start - approach, seed + 1, noise_low, noise_high, step=4.0)
    long_open = 2 * pivot - worked_example.SESSION_BARS[0][0]
    builder.trend(long_start - approach, long_open, approach, seed + 3)
    builder.bars(long_start, [(2 * pivot - opened, 2 * pivot - low, 2 * pivot - high, 2 * pivot - close)
                              for opened, high, low, close in worked_example.SESSION_BARS])
    long_done = long_start + planted + 2 * FOLLOW_THROUGH_BARS
    builder.trend(long_start + planted, reference_low + 39.0, 2 * FOLLOW_THROUGH_BARS, seed + 4)
    builder.noise(long_done, builder.session_minutes, seed + 5, noise_low, noise_high, step=4.0)
    return builder.candles()
