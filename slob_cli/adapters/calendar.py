"""NYSE holidays and early closes from exchange_calendars (XNYS), turned into a pure TradingCalendar."""

from __future__ import annotations

from datetime import date, time, timedelta
from functools import lru_cache

from slob_cli.core.sessions import NEW_YORK, SESSION_CLOSE, TradingCalendar
from slob_cli.errors import ConfigError


@lru_cache(maxsize=16)
def load_calendar(start: date, end: date) -> TradingCalendar:
    """Return the NYSE calendar for [start, end] (cached); raise ConfigError outside the library's range."""
    if end < start:
        raise ConfigError(f"calendar range ends ({end}) before it starts ({start})")
    import exchange_calendars
    import pandas as pd

    try:
        # The library wants start < end; a one-day range asks for one more day and keeps only its own.
        library_end = max(end, start + timedelta(days=1))
        calendar = exchange_calendars.get_calendar("XNYS", start=pd.Timestamp(start), end=pd.Timestamp(library_end))
    except Exception as exc:  # the library raises several of its own types for bad ranges
        raise ConfigError(f"no NYSE calendar for {start}..{end}: {str(exc).splitlines()[0]}") from None
    sessions: set[date] = set()
    early_closes: dict[date, time] = {}
    for label, close in zip(calendar.sessions, calendar.schedule["close"], strict=True):
        day = label.date()
        if day > end:
            continue
        sessions.add(day)
        local_close = close.tz_convert(NEW_YORK).time()
        if local_close != SESSION_CLOSE:
            early_closes[day] = local_close
    holidays = set()
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in sessions:
            holidays.add(day)
        day += timedelta(days=1)
    return TradingCalendar(
        holidays=frozenset(holidays), early_closes=early_closes, first_date=start, last_date=end
    )


def load_calendar_isolated(start: date, end: date) -> TradingCalendar:
    """Return load_calendar(start, end) computed in a short-lived child process.

    exchange_calendars needs pandas (about 60 MB of RSS); a long-running engine only needs the
    resulting dates, so it asks a child process for them and never imports pandas itself.
    """
    import sys

    if "pandas" in sys.modules:
        return load_calendar(start, end)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(load_calendar, start, end).result(timeout=120)
