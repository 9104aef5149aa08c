"""Trading sessions in each exchange's own clock: the reference window and the NYSE session.

The reference window runs from 08:00 Europe/London to 09:30 America/New_York; the session from
09:30 to 16:00 New York (or the early close). Computing both with zoneinfo keeps them right in the
weeks when Europe and the US change their clocks on different Sundays. The trading day is the New
York date of the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
REFERENCE_OPEN = time(8, 0)  # London
SESSION_OPEN = time(9, 30)  # New York
SESSION_CLOSE = time(16, 0)  # New York


@dataclass(frozen=True)
class TradingCalendar:
    """NYSE closures and early closes as plain data; weekends are never sessions.

    `first_date`/`last_date` say which dates the source calendar covered (None: unknown); a date
    outside them is treated as an ordinary weekday, so callers that care check `covers()`.
    """

    holidays: frozenset[date] = frozenset()
    early_closes: Mapping[date, time] = field(default_factory=dict)
    first_date: date | None = None
    last_date: date | None = None

    def is_session(self, trading_date: date) -> bool:
        """Return True when the exchange trades on this date."""
        return trading_date.weekday() < 5 and trading_date not in self.holidays

    def close_time(self, trading_date: date) -> time:
        """Return the New York closing time of this date (16:00 unless an early close)."""
        return self.early_closes.get(trading_date, SESSION_CLOSE)

    def covers(self, trading_date: date) -> bool:
        """Return True when the source calendar knew about this date."""
        if self.first_date is not None and trading_date < self.first_date:
            return False
        return self.last_date is None or trading_date <= self.last_date


@dataclass(frozen=True)
class TradingSession:
    """One trading day's windows, all aware UTC."""

    trading_date: date
    reference_start: datetime
    session_start: datetime
    session_end: datetime

    @property
    def reference_minutes(self) -> int:
        """Return the number of one-minute bars the reference window can hold."""
        return int((self.session_start - self.reference_start).total_seconds() // 60)

    @property
    def early_close(self) -> bool:
        """Return True when the session ends before 16:00 New York."""
        return self.session_end.astimezone(NEW_YORK).time() != SESSION_CLOSE


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def session_for(trading_date: date, calendar: TradingCalendar) -> TradingSession | None:
    """Return the session of a New York date, or None on a weekend or NYSE holiday."""
    if not calendar.is_session(trading_date):
        return None
    return TradingSession(
        trading_date=trading_date,
        reference_start=_at(trading_date, REFERENCE_OPEN, LONDON),
        session_start=_at(trading_date, SESSION_OPEN, NEW_YORK),
        session_end=_at(trading_date, calendar.close_time(trading_date), NEW_YORK),
    )


def trading_date_of(ts: datetime) -> date:
    """Return the New York date of an aware instant."""
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone")
    return ts.astimezone(NEW_YORK).date()


def next_session(after: datetime, calendar: TradingCalendar, horizon_days: int = 14) -> TradingSession | None:
    """Return the first session not yet ended at `after` (looking ahead at most `horizon_days`)."""
    day = trading_date_of(after)
    for offset in range(horizon_days + 1):
        session = session_for(day + timedelta(days=offset), calendar)
        if session is not None and session.session_end > after:
            return session
    return None
