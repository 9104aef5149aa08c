"""Day-level tracker behaviour: exchange clocks, holidays, early closes, coverage, day roll, bad input."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import EventType, InvalidationReason, SetupState, SetupTracker, StrategyConfig
from slob_cli.sim.scenarios import DayBuilder
from tests.core.tracking import brief, of, replay, short_day

# A candidate left waiting for hours would time out first (timers run on the clock, §4.7); these
# tests are about the session end, so the entry timeout is set beyond it.
NO_ENTRY_TIMEOUT_BEFORE_THE_CLOSE = StrategyConfig(entry_timeout_bars=600)

UTC = timezone.utc


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return load_calendar(date(2026, 1, 1), date(2026, 12, 31))


def test_out_of_sync_dst_week_opens_at_13_30_utc_with_a_shorter_reference_window(calendar) -> None:
    builder = short_day(date(2026, 3, 10), calendar)
    events, tracker = replay(builder.candles(), calendar=calendar)
    frozen = events[0]
    assert (frozen.type, frozen.bar_time) == (EventType.LSE_LEVELS_FROZEN, datetime(2026, 3, 10, 13, 30, tzinfo=UTC))
    assert (frozen.data["bars"], frozen.data["expected_bars"], frozen.data["coverage"]) == (330, 330, 1.0)
    assert brief(of(events, "S1"))[0] == ("13:30", "LIQ1_DETECTED", "S1")
    view = tracker.candidates()[0]
    assert (view.id, view.state, view.trigger_time) == (
        "NQ-20260310-S1", SetupState.SETUP_COMPLETE, datetime(2026, 3, 10, 13, 48, tzinfo=UTC))


def test_bar_at_13_30_utc_is_reference_data_in_january_but_session_in_march(calendar) -> None:
    # In January 13:30 UTC is 08:30 New York: it is inside the reference window and raises the LSE high.
    january = short_day(date(2026, 1, 6), calendar).bar(-60, 19940, 19990, 19939, 19945)
    events, _ = replay(january.candles(), calendar=calendar)
    assert events[0].data["high"] == 19990.0
    assert brief(of(events, "S1"))[0] == ("14:31", "LIQ1_DETECTED", "S1")  # first bar above 19 990


def test_nyse_holiday_produces_no_events_and_no_candidates(calendar) -> None:
    candles = short_day(date(2026, 11, 26), TradingCalendar()).candles()  # Thanksgiving, built as if open
    tracker = SetupTracker("NQ", StrategyConfig(), calendar)
    events = [event for candle in candles for event in tracker.on_candle(candle)]
    events += tracker.on_time(datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
    assert events == [] and tracker.candidates() == [] and tracker.reference_levels() is None


def test_early_close_fires_market_closed_at_13_new_york_from_the_clock(calendar) -> None:
    builder = short_day(date(2026, 11, 27), calendar)
    candles = builder.candles()[:-1]  # waiting for the entry when the data stops
    _events, tracker = replay(candles, calendar=calendar, config=NO_ENTRY_TIMEOUT_BEFORE_THE_CLOSE)
    assert tracker.on_time(datetime(2026, 11, 27, 17, 59, 59, tzinfo=UTC)) == []
    closed = tracker.on_time(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))
    assert brief(closed, "reason", "session_end") == [
        ("18:00", "SETUP_INVALIDATED", "S1", "MARKET_CLOSED", "2026-11-27T18:00:00Z")]
    late = Candle("NQ", datetime(2026, 11, 27, 18, 5, tzinfo=UTC), 19990, 20100, 19900, 20000, 10, 5)
    assert tracker.on_candle(late) == []  # after the early close nothing trades


def test_trigger_on_the_last_bar_of_an_early_close_is_dropped_and_session_closes(calendar) -> None:
    day = date(2026, 12, 24)
    template = short_day(day, calendar)
    builder = DayBuilder(day, "NQ", calendar).reference(19950.0, 19850.0, seed=3)
    last = builder.session_minutes - 1  # 12:59 New York = 17:59 UTC
    offset = last - 18  # the template's trigger (m18) lands on the last bar
    builder.hold(0, offset, 19940.0)  # inside the reference range: no LIQ #1 before the template starts
    for candle in template.candles():
        minute = int((candle.ts - builder.session.session_start).total_seconds() // 60)
        if minute >= 0:
            builder.bar(minute + offset, candle.open, candle.high, candle.low, candle.close)
    events, tracker = replay(builder.candles(), calendar=calendar)
    assert brief(of(events, "S1")[-2:], "reason") == [
        ("17:58", "LIQ2_DETECTED", "S1", None), ("18:00", "SETUP_INVALIDATED", "S1", "MARKET_CLOSED")]
    assert EventType.SETUP_COMPLETE not in [event.type for event in events]
    assert tracker.candidates()[0].trigger_time is None


def test_thin_reference_window_warns_and_empty_one_blocks_the_day() -> None:
    thin = short_day()
    for minute in range(thin.first_minute + 300, -2):
        thin.drop(minute)
    events, _ = replay(thin.candles())
    assert brief(events[:2], "bars", "coverage") == [
        ("14:30", "LSE_LEVELS_FROZEN", None, 302, round(302 / 390, 6)),
        ("14:30", "REFERENCE_COVERAGE_LOW", None, 302, round(302 / 390, 6)),
    ]
    empty = short_day()
    empty.drop(*range(empty.first_minute, 0))
    events, tracker = replay(empty.candles())
    assert brief(events, "expected_bars") == [("14:30", "NO_REFERENCE_DATA", None, 390)]
    assert tracker.candidates() == [] and tracker.reference_levels() is None


def test_levels_freeze_from_the_clock_at_the_open() -> None:
    candles = [candle for candle in short_day().candles() if candle.ts < datetime(2026, 1, 6, 14, 0, tzinfo=UTC)]
    events, tracker = replay(candles)
    assert events == []
    frozen = tracker.on_time(datetime(2026, 1, 6, 14, 30, tzinfo=UTC))
    assert brief(frozen, "bars", "coverage") == [("14:30", "LSE_LEVELS_FROZEN", None, 360, round(360 / 390, 6))]
    assert tracker.on_time(datetime(2026, 1, 6, 14, 30, tzinfo=UTC)) == []


def test_new_trading_day_closes_leftovers_of_the_previous_day() -> None:
    first_day = short_day(date(2026, 1, 6)).candles()[:-1]  # S1 left waiting for its entry
    second_day = short_day(date(2026, 1, 7)).candles()
    events, tracker = replay(first_day + second_day, config=NO_ENTRY_TIMEOUT_BEFORE_THE_CLOSE)
    closed = [event for event in events if event.data.get("reason") == "MARKET_CLOSED"]
    assert [(event.candidate_id, event.trading_date, event.bar_time) for event in closed] == [
        ("NQ-20260106-S1", date(2026, 1, 6), datetime(2026, 1, 6, 21, 0, tzinfo=UTC))]
    assert [view.id for view in tracker.candidates()] == ["NQ-20260107-S1"]
    assert tracker.candidates()[0].state is SetupState.SETUP_COMPLETE


def test_overnight_candles_outside_the_windows_are_ignored() -> None:
    overnight = [Candle("NQ", datetime(2026, 1, 6, 3, minute, tzinfo=UTC), 30000, 30010, 10000, 30005, 5, 5)
                 for minute in range(10)]
    events, tracker = replay(overnight + short_day().candles())
    assert events[0].data["high"] == 19950.0 and tracker.candidates()[0].state is SetupState.SETUP_COMPLETE


def test_synthetic_bars_are_not_bars_for_gap_rule_or_confirmation() -> None:
    builder = short_day()
    builder.hold(9, 1, 19980.0)  # m9: 19 979-19 981
    builder.synthetic(10)  # flat at 19 980
    builder.bar(11, 19981, 19983, 19980.5, 19982)  # gap against the synthetic bar, not against m9
    _events, tracker = replay(builder.candles())
    assert tracker.candidates()[0].state is SetupState.SETUP_COMPLETE
    candidate = tracker._day.candidates[0]
    assert candidate.anchor_minute + 16 == candidate.liq2_minute


def test_bad_input_is_rejected() -> None:
    tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
    candle = short_day().candles()[0]
    tracker.on_candle(candle)
    with pytest.raises(ValueError, match="is not after the previous candle"):
        tracker.on_candle(candle)
    with pytest.raises(ValueError, match="candle of 'MNQ'"):
        tracker.on_candle(replace(candle, symbol="MNQ", ts=candle.ts + timedelta(minutes=1)))
    with pytest.raises(ValueError, match="no time zone"):
        tracker.on_time(datetime(2026, 1, 6, 21, 0))


def test_candidate_ids_are_deterministic_per_side_and_day() -> None:
    first = replay(short_day().candles())[1].candidates()
    again = replay(short_day().candles())[1].candidates()
    assert [view.to_dict() for view in first] == [view.to_dict() for view in again]
    assert first[0].invalidation_reason is None and first[0].id == "NQ-20260106-S1"
    assert InvalidationReason.MARKET_CLOSED.value == "MARKET_CLOSED"


def test_clock_alone_rolls_into_a_day_without_candles() -> None:
    _events, tracker = replay(short_day(date(2026, 1, 6)).candles()[:-1])
    rolled = tracker.on_time(datetime(2026, 1, 7, 15, 0, tzinfo=UTC))
    assert [(event.type.value, event.trading_date) for event in rolled] == [
        ("SETUP_INVALIDATED", date(2026, 1, 6)), ("NO_REFERENCE_DATA", date(2026, 1, 7))]
    assert tracker.candidates() == [] and tracker.current_session().trading_date == date(2026, 1, 7)
