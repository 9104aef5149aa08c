"""Front-month choice for CME equity-index futures: trading dates, third Fridays, roll dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CME_ZONE = ZoneInfo("America/Chicago")
# Globex opens at 17:00 Chicago; a session belongs to the date it ends on.
SESSION_OPEN = time(17, 0)
SESSION_CLOSE = time(16, 0)
ROLL_DAYS_BEFORE_EXPIRY = 8
QUARTER_MONTHS = (3, 6, 9, 12)
MONTH_CODES = "FGHJKMNQUVXZ"


@dataclass(frozen=True, slots=True)
class FutureContract:
    """One listed expiry of a futures root, as the gateway describes it."""

    symbol: str
    local_symbol: str
    con_id: int
    expiry: date
    exchange: str = "CME"
    trading_class: str = ""
    multiplier: str = ""

    @property
    def roll_date(self) -> date:
        """Return the date from which the next expiry is traded instead of this one."""
        return roll_date(self.expiry.year, self.expiry.month)


def third_friday(year: int, month: int) -> date:
    """Return the third Friday of a month (the equity-index futures expiry day)."""
    first = date(year, month, 1)
    first_friday = first + timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + timedelta(days=14)


def roll_date(year: int, month: int) -> date:
    """Return the CME roll date: the Thursday eight days before the third-Friday expiry."""
    return third_friday(year, month) - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)


def trading_date(instant: datetime) -> date:
    """Return the CME trading date of an instant (sessions open 17:00 Chicago the day before)."""
    if instant.tzinfo is None:
        raise ValueError("trading_date needs an aware datetime")
    local = instant.astimezone(CME_ZONE)
    day = local.date()
    if local.time() >= SESSION_OPEN:
        day += timedelta(days=1)
    # Friday-evening and weekend instants belong to Monday's session.
    if day.weekday() == 5:
        day += timedelta(days=2)
    elif day.weekday() == 6:
        day += timedelta(days=1)
    return day


def session_start(day: date) -> datetime:
    """Return the UTC instant the Globex session of a trading date opens (17:00 Chicago before)."""
    previous = day - timedelta(days=1)
    return datetime.combine(previous, SESSION_OPEN, tzinfo=CME_ZONE).astimezone(ZoneInfo("UTC"))


def in_globex_hours(instant: datetime) -> bool:
    """Return True while Globex normally trades (Sun 17:00 to Fri 16:00 Chicago, minus the 16-17 halt)."""
    local = instant.astimezone(CME_ZONE)
    weekday, clock = local.weekday(), local.time()
    if weekday == 5:
        return False
    if weekday == 6:
        return clock >= SESSION_OPEN
    if weekday == 4 and clock >= SESSION_CLOSE:
        return False
    return not (SESSION_CLOSE <= clock < SESSION_OPEN)


def choose_front_month(candidates: list[FutureContract], day: date) -> FutureContract:
    """Return the contract to trade on a trading date: the nearest expiry whose roll date is later.

    The choice depends on the trading date only, so it never changes inside a trading day.
    Raise ValueError when no candidate is still before its roll date.
    """
    live = sorted((c for c in candidates if c.roll_date > day), key=lambda c: c.expiry)
    if not live:
        raise ValueError(f"no listed expiry is still active on {day.isoformat()}")
    return live[0]


def parse_expiry(text: str) -> date:
    """Parse IB's lastTradeDateOrContractMonth (`YYYYMMDD`, optionally followed by a time)."""
    head = text.strip().split(" ")[0]
    if len(head) == 8 and head.isdigit():
        return date(int(head[:4]), int(head[4:6]), int(head[6:8]))
    if len(head) == 6 and head.isdigit():
        return third_friday(int(head[:4]), int(head[4:6]))
    raise ValueError(f"expiry {text!r} is not YYYYMMDD or YYYYMM")


def local_symbol_for(symbol: str, expiry: date) -> str:
    """Return the CME local symbol of an expiry, e.g. NQ + 2026-03-20 -> NQH6."""
    return f"{symbol}{MONTH_CODES[expiry.month - 1]}{expiry.year % 10}"
