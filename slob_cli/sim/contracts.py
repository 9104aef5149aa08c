"""NQ/MNQ futures on CME: quarterly expiries, stable conIds, trading hours, contract resolution."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from slob_cli.core.models import INSTRUMENTS
from slob_cli.sim.wire_types import ContractSpec

CENTRAL = ZoneInfo("America/Chicago")
TIME_ZONE_ID = "US/Central"
QUARTER_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}
LISTED_QUARTERS = 5
ROLL_DAYS_BEFORE_EXPIRY = 8  # CME equity roll: the second Thursday, eight days before the third Friday
LAST_TRADE_TIME = time(8, 30)  # 09:30 New York on the third Friday
SESSION_OPEN = time(17, 0)
SESSION_CLOSE = time(16, 0)
RTH_OPEN = time(8, 30)
RTH_CLOSE = time(15, 0)
LONG_NAMES = {"NQ": "E-mini Nasdaq-100", "MNQ": "Micro E-mini Nasdaq-100"}
CON_ID_BASES = {"NQ": 500_000_000, "MNQ": 700_000_000}
UNDERLYING_CON_ID = 416904  # the NDX index
ORDER_TYPES = ("ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,BENCHPX,COND,CONDORDER,DAY,DEACT,DEACTDIS,"
               "DEACTEOD,GAT,GTC,GTD,GTT,HID,ICE,IOC,LIT,LMT,LTH,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,PEGBENCH,SCALE,"
               "SCALERST,SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF")


class UnknownContract(LookupError):
    """No security definition matches the request (IB error 200)."""


@dataclass(frozen=True, slots=True)
class FutureContract:
    """One listed NQ or MNQ quarterly future."""

    symbol: str
    expiry: date  # last trade date: the third Friday of the contract month

    @property
    def multiplier(self) -> float:
        """Return the point value in USD."""
        return INSTRUMENTS[self.symbol].multiplier

    @property
    def con_id(self) -> int:
        """Return a conId that never changes for this root and month."""
        return CON_ID_BASES[self.symbol] + self.expiry.year * 100 + self.expiry.month

    @property
    def last_trade_date(self) -> str:
        """Return the last trade date as YYYYMMDD."""
        return self.expiry.strftime("%Y%m%d")

    @property
    def contract_month(self) -> str:
        """Return the contract month as YYYYMM."""
        return self.expiry.strftime("%Y%m")

    @property
    def local_symbol(self) -> str:
        """Return IB's local symbol, e.g. NQH6."""
        return f"{self.symbol}{QUARTER_CODES[self.expiry.month]}{self.expiry.year % 10}"

    @property
    def last_trade_moment(self) -> datetime:
        """Return the instant trading stops (aware, Chicago time)."""
        return datetime.combine(self.expiry, LAST_TRADE_TIME, CENTRAL)

    @property
    def roll_date(self) -> date:
        """Return the date from which the next contract is the front month."""
        return self.expiry - timedelta(days=ROLL_DAYS_BEFORE_EXPIRY)

    @property
    def long_name(self) -> str:
        """Return the product's long name."""
        return LONG_NAMES[self.symbol]


def third_friday(year: int, month: int) -> date:
    """Return the third Friday of a month."""
    first_weekday, _ = calendar.monthrange(year, month)
    first_friday = 1 + (calendar.FRIDAY - first_weekday) % 7
    return date(year, month, first_friday + 14)


def quarterly_contracts(symbol: str, start_year: int, end_year: int) -> list[FutureContract]:
    """Return every quarterly contract of a root with expiries in [start_year, end_year]."""
    return [FutureContract(symbol, third_friday(year, month))
            for year in range(start_year, end_year + 1) for month in QUARTER_CODES]


def listed_contracts(symbol: str, now: datetime, include_expired: bool = False) -> list[FutureContract]:
    """Return the contracts listed at `now` (the next five quarters), plus two years of expired ones if asked."""
    chicago_now = now.astimezone(CENTRAL)
    candidates = quarterly_contracts(symbol, chicago_now.year - 2, chicago_now.year + 2)
    live = [contract for contract in candidates if contract.last_trade_moment >= chicago_now][:LISTED_QUARTERS]
    if include_expired:
        return [contract for contract in candidates if contract.last_trade_moment < chicago_now] + live
    return live


def front_month(symbol: str, now: datetime) -> FutureContract:
    """Return the contract a continuous future points at on `now`'s Chicago date."""
    today = now.astimezone(CENTRAL).date()
    for contract in listed_contracts(symbol, now):
        if today < contract.roll_date:
            return contract
    raise AssertionError("five listed quarters always contain a front month")


def contract_by_con_id(con_id: int) -> FutureContract | None:
    """Return the contract with this conId, or None."""
    for symbol, base in CON_ID_BASES.items():
        code = con_id - base
        year, month = divmod(code, 100)
        if 2000 <= year <= 2100 and month in QUARTER_CODES:
            return FutureContract(symbol, third_friday(year, month))
    return None


def resolve(spec: ContractSpec, now: datetime, include_expired: bool = False) -> list[FutureContract]:
    """Return the contracts a request matches (all listed expiries when none is given), or raise UnknownContract."""
    if spec.con_id:
        contract = contract_by_con_id(spec.con_id)
        if contract is None:
            raise UnknownContract(f"conId {spec.con_id}")
        return [contract]
    symbol = (spec.symbol or spec.trading_class or _root_of_local_symbol(spec.local_symbol)).upper()
    if symbol not in CON_ID_BASES:
        raise UnknownContract(f"symbol {spec.symbol!r}")
    if spec.sec_type not in ("FUT", "CONTFUT", "FUT+CONTFUT"):
        raise UnknownContract(f"secType {spec.sec_type!r} for {symbol}")
    if spec.exchange not in ("", "CME", "GLOBEX", "SMART") or spec.currency not in ("", "USD"):
        raise UnknownContract(f"{symbol} on {spec.exchange or '?'} in {spec.currency or '?'}")
    if spec.sec_type == "CONTFUT":
        return [front_month(symbol, now)]
    matches = listed_contracts(symbol, now, include_expired or bool(spec.last_trade_date))
    if spec.last_trade_date:
        wanted = spec.last_trade_date.strip()
        matches = [contract for contract in matches
                   if wanted in (contract.last_trade_date, contract.contract_month)]
    if spec.local_symbol:
        matches = [contract for contract in matches if contract.local_symbol == spec.local_symbol.upper()]
    if spec.multiplier and matches and _number(spec.multiplier) != matches[0].multiplier:
        matches = []
    if not matches:
        raise UnknownContract(f"{symbol} {spec.last_trade_date or spec.local_symbol}")
    return matches


def _number(text: str) -> float | None:
    """Return text as a float, or None when it is no number (it then matches no contract)."""
    try:
        return float(text)
    except ValueError:
        return None


def _root_of_local_symbol(local_symbol: str) -> str:
    return local_symbol[:-2] if len(local_symbol) > 2 else ""


def trading_hours(now: datetime, days: int = 7) -> tuple[str, str]:
    """Return (tradingHours, liquidHours) strings in US/Central for `days` dates from now's Chicago date."""
    start = now.astimezone(CENTRAL).date()
    trading: list[str] = []
    liquid: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        label = day.strftime("%Y%m%d")
        session = _session(day)
        if session is None:
            # A date on which the next session opens (Sunday 17:00) is no CLOSED date in IB's strings.
            if _session(day + timedelta(days=1)) is None:
                trading.append(f"{label}:CLOSED")
            liquid.append(f"{label}:CLOSED")
            continue
        opened, closed = session
        trading.append(f"{opened:%Y%m%d:%H%M}-{closed:%Y%m%d:%H%M}")
        rth_close = min(datetime.combine(day, RTH_CLOSE), closed)
        liquid.append(f"{label}:{RTH_OPEN:%H%M}-{label}:{rth_close:%H%M}")
    return ";".join(trading), ";".join(liquid)


def session_open_back(end: datetime, sessions: int) -> datetime:
    """Return the open (aware) of the `sessions`-th Globex session counted back from `end`.

    The session `end` lies in, or the last one before it when `end` falls in a break, is the first.
    """
    day = end.astimezone(CENTRAL).date() + timedelta(days=1)
    found = 0
    for _ in range(sessions * 7 + 14):  # holidays and weekends: never more than a few dates per session
        session = _session(day)
        if session is not None and session[0].replace(tzinfo=CENTRAL) < end:
            found += 1
            if found == sessions:
                return session[0].replace(tzinfo=CENTRAL)
        day -= timedelta(days=1)
    return end - timedelta(days=sessions)


@lru_cache(maxsize=4096)
def _session(day: date) -> tuple[datetime, datetime] | None:
    """Return the naive Chicago (open, close) of the Globex session ending on `day`, or None when closed."""
    close = _session_closes().get(day)
    if close is None:
        return None
    # Globex reopens at 17:00 the evening before every session date (Sunday for Monday).
    return datetime.combine(day - timedelta(days=1), SESSION_OPEN), datetime.combine(day, close)


@lru_cache(maxsize=1)
def _session_closes() -> dict[date, time]:
    """Return each CME Globex equity session date with its Chicago close time (holidays absent).

    Read from the stored table (`cme_sessions`, checked against exchange_calendars by a test):
    importing the library and pandas would cost the simulated gateway about 100 MB of RSS.
    """
    from slob_cli.sim import cme_sessions

    closed = {date.fromisoformat(text) for text in cme_sessions.CLOSED.split()}
    early = {moment.date(): moment.time() for moment in map(datetime.fromisoformat, cme_sessions.EARLY.split())}
    closes: dict[date, time] = {}
    day = cme_sessions.FIRST
    while day <= cme_sessions.LAST:
        if day.weekday() < 5 and day not in closed:
            closes[day] = early.get(day, SESSION_CLOSE)
        day += timedelta(days=1)
    return closes


def library_session_closes() -> dict[date, time]:
    """Return `_session_closes()` as exchange_calendars (CMES, 2018-2030) computes it."""
    import exchange_calendars

    calendar_ = exchange_calendars.get_calendar("CMES", start="2018-01-01", end="2030-12-31")
    closes: dict[date, time] = {}
    for label, close in zip(calendar_.schedule.index, calendar_.schedule["close"], strict=True):
        chicago_close = close.tz_convert(CENTRAL).time()
        # The calendar models the full Globex day as closing at 17:00; the equity halt is 16:00.
        closes[label.date()] = SESSION_CLOSE if chicago_close >= SESSION_CLOSE else chicago_close
    return closes


def cme_sessions_source() -> str:
    """Return the source of `cme_sessions.py`: weekdays without a session and early closes, 2018-2030."""
    import exchange_calendars

    closes = library_session_closes()
    first, last = date(2018, 1, 1), date(2030, 12, 31)
    closed = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    closed = [day for day in closed if day.weekday() < 5 and day not in closes]
    early = [f"{day.isoformat()}T{close:%H:%M}" for day, close in sorted(closes.items()) if close != SESSION_CLOSE]
    rows = [" ".join(day.isoformat() for day in closed[i:i + 8]) for i in range(0, len(closed), 8)]
    early_rows = [" ".join(early[i:i + 6]) for i in range(0, len(early), 6)]
    return (f'"""CME Globex equity sessions 2018-2030 (Chicago time), from exchange_calendars {exchange_calendars.__version__} (CMES).\n\n'
            "Generated by `python -m slob_cli.sim.contracts`; tests/sim/test_cme_sessions.py checks it against the\n"
            'library. CLOSED: weekdays without a session; EARLY: sessions closing before 16:00.\n"""\n\n'
            "from __future__ import annotations\n\nfrom datetime import date\n\n"
            f"FIRST = date({first.year}, {first.month}, {first.day})\nLAST = date({last.year}, {last.month}, {last.day})\n\n"
            'CLOSED = """\n' + "\n".join(rows) + '\n"""\n\nEARLY = """\n' + "\n".join(early_rows) + '\n"""\n')


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("cme_sessions.py").write_text(cme_sessions_source())
