"""Historical bars for reqHistoricalData: parsing its arguments, aggregating candles, IB's pacing rules."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from slob_cli.core.models import Candle
from slob_cli.sim.contracts import CENTRAL, RTH_CLOSE, RTH_OPEN, TIME_ZONE_ID, session_open_back

UTC = timezone.utc
PACING_MESSAGE = "Historical Market Data Service error message:Historical data request pacing violation"
IDENTICAL_WINDOW = 15.0  # seconds: an identical request inside this window breaks IB's rules
BURST_WINDOW, BURST_LIMIT = 2.0, 6  # six or more requests for one contract within two seconds
TEN_MINUTES, TEN_MINUTE_LIMIT = 600.0, 60

_UNITS = {"min": 60, "mins": 60, "hour": 3600, "hours": 3600, "day": 86400}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 7 * 86400, "M": 30 * 86400, "Y": 365 * 86400}

Bar = tuple[str, float, float, float, float, float, float, int]


class HistoryError(ValueError):
    """A historical request the gateway cannot serve (sent back as error 162)."""


def parse_bar_size(text: str) -> int:
    """Return the bar length in seconds for '1 min', '5 mins', '1 hour', '1 day' ..."""
    match = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", text)
    if not match or match.group(2) not in _UNITS:
        raise HistoryError(f"Historical Market Data Service error message:bar size {text!r} is not supported")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0 or (seconds < 86400 and 86400 % seconds) or seconds > 86400:
        raise HistoryError(f"Historical Market Data Service error message:bar size {text!r} is not supported")
    return seconds


def parse_duration(text: str) -> timedelta:
    """Return the span of 'N S|D|W|M|Y'."""
    match = re.fullmatch(r"\s*(\d+)\s*([SDWMY])\s*", text)
    if not match or int(match.group(1)) <= 0:
        raise HistoryError(f"Historical Market Data Service error message:duration {text!r} is invalid")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


def duration_start(text: str, end: datetime) -> datetime:
    """Return where a request of duration `text` ending at `end` starts.

    'N D' counts trading sessions, as IB does: the span opens where the Nth Globex session back
    from `end` opened (the session `end` lies in counts as the first). S, W, M and Y stay calendar spans.
    """
    span = parse_duration(text)
    if text.strip()[-1] != "D":
        return end - span
    return session_open_back(end, span.days)


def parse_end(text: str, now: datetime) -> datetime:
    """Return the aware end of a request: '' (now), 'YYYYMMDD HH:MM:SS tz', 'YYYYMMDD-HH:MM:SS' or 'YYYYMMDD'."""
    text = text.strip()
    if not text:
        return now
    try:
        if re.fullmatch(r"\d{8}", text):
            return datetime.strptime(text, "%Y%m%d").replace(tzinfo=CENTRAL).astimezone(UTC)
        if re.fullmatch(r"\d{8}-\d\d:\d\d:\d\d", text):
            return datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        day, clock, *zone = text.split()
        moment = datetime.strptime(day + clock, "%Y%m%d%H:%M:%S")
        return moment.replace(tzinfo=ZoneInfo(zone[0]) if zone else CENTRAL).astimezone(UTC)
    except (ValueError, KeyError, OSError) as exc:
        raise HistoryError(f"Historical Market Data Service error message:end date {text!r} is invalid") from exc


def format_bar_date(epoch: int, format_date: int, daily: bool) -> str:
    """Return a bar's date as IB writes it: 'YYYYMMDD' for days, else tz text (1) or epoch seconds (2)."""
    moment = datetime.fromtimestamp(epoch, UTC)
    if daily:
        return _session_date(moment).strftime("%Y%m%d")
    if format_date == 2:
        return str(epoch)
    return f"{moment.astimezone(CENTRAL):%Y%m%d %H:%M:%S} {TIME_ZONE_ID}"


def format_range_date(moment: datetime, format_date: int) -> str:
    """Return the start/end strings of message 17."""
    if format_date == 2:
        return str(int(moment.timestamp()))
    return f"{moment.astimezone(CENTRAL):%Y%m%d %H:%M:%S} {TIME_ZONE_ID}"


def _session_date(moment: datetime) -> datetime:
    """Return the Chicago trade date a moment belongs to (the evening session counts for the next day)."""
    local = moment.astimezone(CENTRAL)
    return local + timedelta(days=1) if local.hour >= 17 else local


def in_regular_hours(moment: datetime) -> bool:
    """Return True when a bar start lies inside 08:30-15:00 Chicago on a weekday."""
    local = moment.astimezone(CENTRAL)
    return local.weekday() < 5 and RTH_OPEN <= local.time() < RTH_CLOSE


def aggregate(candles: Sequence[Candle], bar_seconds: int, format_date: int, use_rth: bool) -> list[Bar]:
    """Aggregate M1 candles into bars of bar_seconds; 1-minute bars equal the candles."""
    groups: dict[object, list[Candle]] = {}
    for candle in candles:
        if candle.tick_count == 0 or (use_rth and not in_regular_hours(candle.ts)):
            continue
        if bar_seconds >= 86400:
            key: object = _session_date(candle.ts).date()
        else:
            key = int(candle.ts.timestamp()) // bar_seconds * bar_seconds
        groups.setdefault(key, []).append(candle)
    bars: list[Bar] = []
    for key, members in groups.items():
        start = int(members[0].ts.timestamp()) if bar_seconds >= 86400 else int(key)  # type: ignore[call-overload]
        high = max(candle.high for candle in members)
        low = min(candle.low for candle in members)
        close = members[-1].close
        bars.append((format_bar_date(start, format_date, bar_seconds >= 86400), members[0].open, high, low, close,
                     sum(candle.volume for candle in members), typical_price(high, low, close),
                     sum(candle.tick_count for candle in members)))
    return bars


def typical_price(high: float, low: float, close: float) -> float:
    """Return the bar's average price as the gateway reports it ((high + low + close) / 3)."""
    return round((high + low + close) / 3, 4)


class HistoricalPacing:
    """IB's historical pacing rules, measured in real seconds from a monotonic source."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._identical: dict[tuple[object, ...], float] = {}
        self._by_contract: dict[tuple[object, ...], deque[float]] = {}
        self._all: deque[float] = deque()

    def check(self, request_key: tuple[object, ...], contract_key: tuple[object, ...]) -> bool:
        """Record a request and return False when it breaks a pacing rule."""
        now = self._monotonic()
        last = self._identical.get(request_key)
        burst = self._by_contract.setdefault(contract_key, deque())
        while burst and now - burst[0] > BURST_WINDOW:
            burst.popleft()
        while self._all and now - self._all[0] > TEN_MINUTES:
            self._all.popleft()
        violation = (last is not None and now - last < IDENTICAL_WINDOW) or len(burst) + 1 >= BURST_LIMIT \
            or len(self._all) + 1 > TEN_MINUTE_LIMIT
        self._identical[request_key] = now
        burst.append(now)
        self._all.append(now)
        return not violation
