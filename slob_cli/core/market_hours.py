"""When CME Globex trades NQ/MNQ: scheduled closes are expected, only missing data while open is a gap.

CME equity-index futures trade Sunday 18:00 to Friday 17:00 New York time with a daily halt from
17:00 to 18:00. On an NYSE holiday (the exchange calendar's list) the market closes early at 13:00
New York and reopens at the usual 18:00. All times here are New York wall-clock times, so the
rules hold across daylight-saving changes.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from slob_cli.core.sessions import NEW_YORK, TradingCalendar

UTC = timezone.utc
HALT_START = time(17, 0)
HALT_END = time(18, 0)
HOLIDAY_CLOSE = time(13, 0)
_MINUTE = timedelta(minutes=1)


def cme_open(moment: datetime, calendar: TradingCalendar | None = None) -> bool:
    """Return True when CME Globex trades NQ at this aware instant (minute resolution)."""
    local = moment.astimezone(NEW_YORK)
    clock, weekday = local.time(), local.weekday()  # Monday 0 .. Sunday 6
    if weekday == 5:
        return False  # Saturday
    if weekday == 6:
        return clock >= HALT_END  # Sunday evening open
    if HALT_START <= clock < HALT_END:
        return False  # the daily halt
    if weekday == 4 and clock >= HALT_START:
        return False  # Friday close until Sunday
    if calendar is not None and local.date() in calendar.holidays and HOLIDAY_CLOSE <= clock < HALT_START:
        return False  # holiday: early close at 13:00, reopen 18:00
    return True


def open_minutes(start: datetime, end: datetime, calendar: TradingCalendar | None = None) -> int:
    """Return how many whole minutes in [start, end) the market was open."""
    count, minute = 0, start
    while minute < end:
        count += cme_open(minute, calendar)
        minute += _MINUTE
    return count


def is_scheduled_close(start: datetime, end: datetime, calendar: TradingCalendar | None = None) -> bool:
    """Return True when a hole in the data [start, end) lies wholly in scheduled closes (not a gap)."""
    return end > start and open_minutes(start, end, calendar) == 0
