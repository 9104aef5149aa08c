"""No tracker state crosses trading dates, and candles outside a date's window only move the clock.

`slob setups track` relies on both: it runs each day on a tracker of its own, feeds it only the
bars inside `SetupTracker.window`, and skips a finished day whose inputs are unchanged.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.models import Candle, PriceBar
from slob_cli.core.sessions import TradingCalendar, session_for, trading_date_of
from slob_cli.core.strategy import SetupEvent, SetupTracker, StrategyConfig
from slob_cli.runtime.tracking import day_window, trading_dates
from slob_cli.sim.scenarios import SCENARIOS, bounded_walk, build_scenario

UTC = timezone.utc
# Thanksgiving week: a holiday, an early close, a weekend, and a plain week after it.
FIRST, LAST = date(2025, 11, 20), date(2025, 12, 5)


def _calendar() -> TradingCalendar:
    return load_calendar(FIRST - timedelta(days=14), LAST + timedelta(days=14))


def _days_with_overnight_bars(calendar: TradingCalendar) -> list[Candle]:
    """Return every scenario in turn, each day with bars all around the clock (some synthetic)."""
    rng = random.Random(7)
    candles: list[Candle] = []
    for index, day in enumerate(trading_dates(FIRST, LAST)):
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        session = session_for(day, calendar)
        planted = [] if session is None else build_scenario(SCENARIOS[index % len(SCENARIOS)], day, seed=index,
                                                            calendar=calendar)
        taken = {candle.ts for candle in planted}
        walk = bounded_walk(rng, 24 * 60, 20000.0, 19800.0, 20200.0, 6.0)
        overnight = [Candle("NQ", midnight + timedelta(minutes=minute), *walk[minute], 20.0, minute % 7)
                     for minute in range(24 * 60) if midnight + timedelta(minutes=minute) not in taken]
        candles += sorted(planted + overnight, key=lambda candle: candle.ts)
    return candles


def _together(candles: list[Candle], calendar: TradingCalendar) -> dict[date, list[SetupEvent]]:
    """One tracker over every candle, its clock run to each New York midnight (the old `setups track`)."""
    tracker = SetupTracker("NQ", StrategyConfig(), calendar)
    events: list[SetupEvent] = []
    for day in trading_dates(FIRST, LAST):
        start, end = day_window(day)
        for candle in candles:
            if start <= candle.ts < end:
                events += tracker.on_candle(candle)
        events += tracker.on_time(end)
    by_day: dict[date, list[SetupEvent]] = {}
    for event in events:
        by_day.setdefault(event.trading_date, []).append(event)
    return by_day


def _separately(candles: list[Candle], calendar: TradingCalendar) -> tuple[dict[date, list[SetupEvent]], int]:
    """A fresh tracker per day fed only the light bars inside its window; return events and bars fed."""
    by_day: dict[date, list[SetupEvent]] = {}
    fed = 0
    for day in trading_dates(FIRST, LAST):
        tracker = SetupTracker("NQ", StrategyConfig(), calendar)
        window = tracker.window(day)
        events: list[SetupEvent] = []
        if window is not None:
            for candle in candles:
                if window[0] <= candle.ts < window[1]:
                    fed += 1
                    events += tracker.on_candle(PriceBar("NQ", candle.ts, candle.open, candle.high, candle.low,
                                                         candle.close, candle.tick_count))
        events += tracker.on_time(day_window(day)[1])
        assert {event.trading_date for event in events} <= {day}
        if events:
            by_day[day] = events
    return by_day, fed


def test_days_tracked_separately_on_their_windows_equal_days_tracked_together() -> None:
    calendar = _calendar()
    candles = _days_with_overnight_bars(calendar)
    together = _together(candles, calendar)
    separately, fed = _separately(candles, calendar)
    assert separately == together
    assert sum(map(len, together.values())) > 100  # the scenarios really produced setups
    assert {event.type.value for events in together.values() for event in events} >= {
        "SETUP_COMPLETE", "SETUP_INVALIDATED", "LSE_LEVELS_FROZEN"}
    assert fed < len(candles) * 0.7  # most overnight bars were left out


def test_one_uninterrupted_replay_gives_the_same_events_as_day_by_day() -> None:
    calendar = _calendar()
    candles = _days_with_overnight_bars(calendar)
    tracker = SetupTracker("NQ", StrategyConfig(), calendar)
    events = [event for candle in candles for event in tracker.on_candle(candle)]
    events += tracker.on_time(day_window(LAST)[1])
    together = _together(candles, calendar)
    assert [event for day in sorted(together) for event in together[day]] == events


def test_window_is_the_reference_start_to_the_session_end_and_none_without_a_session() -> None:
    calendar = _calendar()
    tracker = SetupTracker("NQ", StrategyConfig(), calendar)
    early = session_for(date(2025, 11, 28), calendar)
    assert early is not None
    assert tracker.window(date(2025, 11, 28)) == (early.reference_start, early.session_end)
    assert early.session_end == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)  # 13:00 New York
    assert tracker.window(date(2025, 11, 27)) is None  # Thanksgiving
    assert tracker.window(date(2025, 11, 29)) is None  # Saturday
    start, end = tracker.window(date(2025, 12, 1)) or (None, None)
    assert start is not None and end is not None
    assert trading_date_of(start) == trading_date_of(end - timedelta(microseconds=1)) == date(2025, 12, 1)
