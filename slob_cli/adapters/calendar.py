"""NYSE holidays and early closes from exchange_calendars (XNYS), turned into a pure TradingCalendar."""

from __future__ import annotations

from datetime import date, time, timedelta
from functools import lru_cache

from slob_cli.core.sessions import NEW_YORK, SESSION_CLOSE, TradingCalendar
from slob_cli.errors import ConfigError


@lru_cache(maxsize=16)
def load_calendar(start: date, end: date) -> TradingCalendar:
    """Return the NYSE calendar for [start, end] (cached); raise ConfigError outside the library's range.

    Dates within the stored table (`nyse_closures`, checked against the library by a test) need
    neither exchange_calendars nor pandas: that import alone costs about 0.8 s and 100 MB of RSS.
    """
    if end < start:
        raise ConfigError(f"calendar range ends ({end}) before it starts ({start})")
    from slob_cli.adapters import nyse_closures

    if nyse_closures.FIRST <= start and end <= nyse_closures.LAST:
        holidays = frozenset(day for day in stored_closed_weekdays() if start <= day <= end)
        early_closes = {day: close for day, close in stored_early_closes().items() if start <= day <= end}
        return TradingCalendar(holidays=holidays, early_closes=early_closes, first_date=start, last_date=end)
    return library_calendar(start, end)


@lru_cache(maxsize=1)
def stored_closed_weekdays() -> frozenset[date]:
    """Return every weekday of the stored table on which the NYSE does not trade."""
    from slob_cli.adapters import nyse_closures

    return frozenset(date.fromisoformat(text) for text in nyse_closures.CLOSED.split())


@lru_cache(maxsize=1)
def stored_early_closes() -> dict[date, time]:
    """Return the New York closing time of every early close in the stored table."""
    from datetime import datetime

    from slob_cli.adapters import nyse_closures

    moments = (datetime.fromisoformat(text) for text in nyse_closures.EARLY.split())
    return {moment.date(): moment.time() for moment in moments}


def library_calendar(start: date, end: date) -> TradingCalendar:
    """Return the NYSE calendar for [start, end] as exchange_calendars (XNYS) computes it."""
    if end < start:
        raise ConfigError(f"calendar range ends ({end}) before it starts ({start})")
    import exchange_calendars
    import pandas as pd

    try:
        # The library wants start < end; a one-day range asks for one more day and keeps only its own.
        library_end = max(end, start + timedelta(days=1))
        calendar = exchange_calendars.get_calendar("XNYS", start=pd.Timestamp(start), end=pd.Timestamp(library_end))
    except Exception as exc:  # noqa: BLE001 - the library raises several of its own types for bad ranges
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

    from slob_cli.adapters import nyse_closures

    if "pandas" in sys.modules or (nyse_closures.FIRST <= start and end <= nyse_closures.LAST):
        return load_calendar(start, end)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(load_calendar, start, end).result(timeout=120)


def closures_table_source(first: date, last: date) -> str:
    """Return the source of `nyse_closures.py` for [first, last], computed by exchange_calendars."""
    import exchange_calendars

    calendar = library_calendar(first, last)
    closed = sorted(calendar.holidays)
    early = sorted(calendar.early_closes.items())
    closed_lines = "\n".join(" ".join(day.isoformat() for day in closed[i:i + 8]) for i in range(0, len(closed), 8))
    early_lines = "\n".join(" ".join(f"{day.isoformat()}T{close:%H:%M}" for day, close in early[i:i + 6])
                             for i in range(0, len(early), 6))
    return f'''"""NYSE weekday closures and early closes (New York time), {first.year}-{last.year}, from exchange_calendars.

Generated by `python -m slob_cli.adapters.calendar` with exchange_calendars {exchange_calendars.__version__} (XNYS);
tests/adapters/test_calendar.py checks it against the installed library. Plain data, so that
tracking days needs neither the library nor pandas.
"""

from __future__ import annotations

from datetime import date

FIRST = date({first.year}, {first.month}, {first.day})
LAST = date({last.year}, {last.month}, {last.day})

CLOSED = """
{closed_lines}
"""

EARLY = """
{early_lines}
"""
'''


if __name__ == "__main__":
    from pathlib import Path

    target = Path(__file__).with_name("nyse_closures.py")
    target.write_text(closures_table_source(date(2000, 1, 1), date(2035, 12, 31)))
    print(f"wrote {target}")
