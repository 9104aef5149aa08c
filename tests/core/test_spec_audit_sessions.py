"""Spec audit, STRATEGY.md §1-§2: which bars are reference bars and which are session bars, all year."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import EventType, SetupState
from tests.core.tracking import brief, replay, short_day

UTC = timezone.utc


@pytest.mark.parametrize(("day", "first_reference", "open_utc"), [
    (date(2026, 1, 6), (8, 0), (14, 30)),  # both standard time
    (date(2026, 7, 7), (7, 0), (13, 30)),  # both summer time
    (date(2026, 3, 10), (8, 0), (13, 30)),  # spring out-of-sync week
    (date(2026, 10, 27), (8, 0), (13, 30)),  # autumn out-of-sync week
])
def test_reference_window_is_08_00_london_inclusive_to_09_30_new_york_exclusive(day, first_reference, open_utc) -> None:
    builder = short_day(day)
    start = builder.first_minute
    assert builder.time(start) == datetime(day.year, day.month, day.day, *first_reference, tzinfo=UTC)
    assert builder.time(0) == datetime(day.year, day.month, day.day, *open_utc, tzinfo=UTC)
    builder.bar(start - 1, 19900, 20500, 19000, 19900)  # 07:59 London: outside, ignored
    builder.bar(start, 19900, 19953, 19849, 19900)  # first reference bar: sets both levels
    builder.bar(-1, 19942, 19955, 19940, 19940)  # last reference bar (09:29 New York): raises the high
    events, _tracker = replay(builder.candles())
    frozen = events[0]
    assert (frozen.type, frozen.bar_time) == (EventType.LSE_LEVELS_FROZEN, builder.time(0))
    assert (frozen.data["high"], frozen.data["low"], frozen.data["bars"]) == (19955.0, 19849.0, -start)
    assert brief(events[1:2], "price", "level") == [(builder.time(0).strftime("%H:%M"), "LIQ1_DETECTED", "S1", 19960.0, 19955.0)]


def test_last_session_bar_can_start_a_candidate_that_the_session_end_closes_and_later_bars_are_ignored() -> None:
    builder = short_day().drop(*range(0, 19))
    last = builder.session_minutes - 1  # 15:59 New York
    builder.hold(0, last, 19900.0).bar(last, 19900, 19960, 19899, 19955)
    candles = builder.candles()
    candles.append(Candle("NQ", builder.session.session_end, 19955, 19990, 19950, 19980, 10.0, 5))  # 16:00: after
    events, tracker = replay(candles)
    assert brief(events[1:], "reason") == [
        ("20:59", "LIQ1_DETECTED", "S1", None), ("21:00", "SETUP_INVALIDATED", "S1", "MARKET_CLOSED")]
    assert [view.state for view in tracker.candidates()] == [SetupState.INVALIDATED]


def test_trading_day_resets_at_the_next_reference_start_not_at_midnight_utc() -> None:
    first = short_day(date(2026, 1, 6)).candles()[:-1]  # left waiting for the entry
    second = short_day(date(2026, 1, 7)).candles()
    events, tracker = replay(first + second, calendar=TradingCalendar())
    closed = [event for event in events if event.type is EventType.SETUP_INVALIDATED]
    # Timers run on the clock (§4.7): the day's data stops while S1 waits, so the next day's first bar
    # finds it timed out at LIQ #2 + 20 (15:07), the minute a live clock fired it, before the session end.
    assert [(event.candidate_id, event.data["reason"], event.bar_time) for event in closed] == [
        ("NQ-20260106-S1", "ENTRY_TIMEOUT", datetime(2026, 1, 6, 15, 7, tzinfo=UTC))]
    assert [view.id for view in tracker.candidates()] == ["NQ-20260107-S1"]
    assert tracker.candidates()[0].state is SetupState.SETUP_COMPLETE
