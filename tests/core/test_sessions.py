"""Sessions in exchange-local time: DST weeks, holidays, early closes, weekends (real XNYS calendar)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.sessions import TradingCalendar, next_session, session_for, trading_date_of
from slob_cli.errors import ConfigError

UTC = timezone.utc


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return load_calendar(date(2026, 1, 1), date(2026, 12, 31))


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "reference_start", "session_start", "session_end"),
    [
        (date(2026, 1, 6), (8, 0), (14, 30), (21, 0)),  # both standard time
        (date(2026, 7, 7), (7, 0), (13, 30), (20, 0)),  # both summer time
        (date(2026, 3, 6), (8, 0), (14, 30), (21, 0)),  # Friday before the US change
        (date(2026, 3, 9), (8, 0), (13, 30), (20, 0)),  # first out-of-sync day (US moved, UK not)
        (date(2026, 3, 27), (8, 0), (13, 30), (20, 0)),  # last out-of-sync day
        (date(2026, 3, 30), (7, 0), (13, 30), (20, 0)),  # UK moved too
        (date(2026, 10, 23), (7, 0), (13, 30), (20, 0)),  # Friday before the UK change
        (date(2026, 10, 26), (8, 0), (13, 30), (20, 0)),  # first autumn out-of-sync day
        (date(2026, 10, 30), (8, 0), (13, 30), (20, 0)),  # last autumn out-of-sync day
        (date(2026, 11, 2), (8, 0), (14, 30), (21, 0)),  # both standard again
    ],
)
def test_session_windows_follow_each_exchange_clock(calendar, day, reference_start, session_start, session_end) -> None:
    session = session_for(day, calendar)
    assert session is not None
    assert session.reference_start == utc(day, *reference_start)
    assert session.session_start == utc(day, *session_start)
    assert session.session_end == utc(day, *session_end)


def test_reference_window_is_shorter_in_out_of_sync_weeks(calendar) -> None:
    assert session_for(date(2026, 1, 6), calendar).reference_minutes == 390
    assert session_for(date(2026, 3, 10), calendar).reference_minutes == 330
    assert session_for(date(2026, 10, 27), calendar).reference_minutes == 330


@pytest.mark.parametrize("day", [date(2026, 7, 3), date(2026, 11, 26), date(2026, 12, 25), date(2026, 4, 3)])
def test_nyse_holiday_has_no_session(calendar, day) -> None:
    assert day in calendar.holidays
    assert session_for(day, calendar) is None


@pytest.mark.parametrize("day", [date(2026, 1, 10), date(2026, 1, 11)])
def test_weekend_has_no_session_even_with_an_empty_calendar(day) -> None:
    assert session_for(day, TradingCalendar()) is None


@pytest.mark.parametrize("day", [date(2026, 11, 27), date(2026, 12, 24)])
def test_early_close_ends_session_at_13_new_york(calendar, day) -> None:
    assert calendar.early_closes[day] == time(13, 0)
    session = session_for(day, calendar)
    assert session.session_end == utc(day, 18, 0)
    assert session.early_close


def test_trading_date_is_the_new_york_date() -> None:
    assert trading_date_of(utc(date(2026, 1, 7), 2, 0)) == date(2026, 1, 6)  # 21:00 NY the day before
    assert trading_date_of(utc(date(2026, 1, 7), 8, 0)) == date(2026, 1, 7)
    with pytest.raises(ValueError, match="no time zone"):
        trading_date_of(datetime(2026, 1, 7, 8, 0))


def test_next_session_skips_weekend_and_holiday(calendar) -> None:
    after_friday_close = utc(date(2026, 7, 2), 20, 0)  # Thursday 16:00 NY; Friday 3 July is a holiday
    upcoming = next_session(after_friday_close, calendar)
    assert upcoming.trading_date == date(2026, 7, 6)


def test_calendar_range_is_recorded_and_reversed_range_rejected(calendar) -> None:
    assert calendar.covers(date(2026, 6, 1)) and not calendar.covers(date(2027, 1, 4))
    with pytest.raises(ConfigError, match="before it starts"):
        load_calendar(date(2026, 2, 1), date(2026, 1, 1))


def test_one_day_calendar_range_loads_and_keeps_only_that_day() -> None:
    early = load_calendar(date(2026, 11, 27), date(2026, 11, 27))
    assert early.early_closes == {date(2026, 11, 27): time(13, 0)} and not early.holidays
    holiday = load_calendar(date(2026, 11, 26), date(2026, 11, 26))
    assert holiday.holidays == frozenset({date(2026, 11, 26)}) and not holiday.early_closes
