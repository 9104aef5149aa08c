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
    """Return the NYSE calendar for [start, end] without pandas and without a child process.

    A long-running session only needs the dates: they come from a table computed once from the
    library (`adapters/nyse_table.py`), so nothing is spawned that could outlive slob and pandas
    (about 60 MB of RSS) is never imported. A range beyond the table asks the library in-process.
    """
    from slob_cli.adapters import nyse_table

    first, last = date.fromisoformat(nyse_table.FIRST), date.fromisoformat(nyse_table.LAST)
    if end < start:
        raise ConfigError(f"calendar range ends ({end}) before it starts ({start})")
    if start < first or end > last:
        return load_calendar(start, end)
    holidays = frozenset(day for day in map(date.fromisoformat, nyse_table.HOLIDAYS) if start <= day <= end)
    early_closes = {day: time.fromisoformat(close) for day, close in
                    ((date.fromisoformat(text), close) for text, close in nyse_table.EARLY_CLOSES.items())
                    if start <= day <= end}
    return TradingCalendar(holidays=holidays, early_closes=early_closes, first_date=start, last_date=end)


def write_table(path: str, start: date = date(2000, 1, 1), end: date = date(2035, 12, 31)) -> None:
    """Write adapters/nyse_table.py from the library (run when the exchange announces a change)."""
    calendar = load_calendar(start, end)
    holidays = sorted(calendar.holidays)
    closes = sorted(calendar.early_closes.items())
    lines = [f'"""NYSE holidays and early closes {start.year}-{end.year}, computed once from exchange_calendars (XNYS).',
             "", "A table, so that a long-running session learns its calendar without pandas and without a child",
             "process; tests/adapters/test_calendar_table.py checks it against the library. Regenerate with",
             "`python -m slob_cli.adapters.calendar` when the exchange announces a change.", '"""', "",
             "from __future__ import annotations", "", f'FIRST = "{start.isoformat()}"', f'LAST = "{end.isoformat()}"',
             "# Weekdays without a session.", "HOLIDAYS = ("]
    lines += ["    " + " ".join(f'"{day.isoformat()}",' for day in holidays[i:i + 6]) for i in range(0, len(holidays), 6)]
    lines += [")", "# Early closes: date -> New York closing time.", "EARLY_CLOSES = {"]
    lines += ["    " + " ".join(f'"{day.isoformat()}": "{close.strftime("%H:%M")}",' for day, close in closes[i:i + 4])
              for i in range(0, len(closes), 4)]
    lines.append("}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    import os

    write_table(os.path.join(os.path.dirname(__file__), "nyse_table.py"))
