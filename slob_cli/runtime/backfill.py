"""`slob candles backfill`: 1-minute TRADES bars from the gateway into the store, one Globex session a request.

Each CME trading date is fetched from the contract the live roll rule (adapters/ib/rolls.py) trades
that day, so the stored series is stitched exactly as live would have recorded it, and every bar
remembers its contract (`candles.local_symbol`). Requests are paced inside IB's historical limits
by the one history pacer (adapters/ib/history.HistoryPacer: fewer than 6 per contract in 2 s, 60
in 10 minutes, no identical request within 15 s), whose log lives in the store, so a quick re-run
(or a session started meanwhile) is paced by the requests before it; an error 162 still backs off. A day's bars and its "done" mark are written in one transaction, so a crash or
Ctrl-C loses at most the day in flight and a rerun resumes after the last finished day; a stored
minute is never written twice nor replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.ib.rolls import FutureContract, choose_front_month, session_start
from slob_cli.adapters.store.backfill import BackfillLedger
from slob_cli.errors import BrokerError, UsageError

if TYPE_CHECKING:
    from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
    from slob_cli.adapters.ib.history import HistoryPacer
    from slob_cli.adapters.store import Store

log = logging.getLogger(__name__)
SESSION_LENGTH = timedelta(hours=23)  # Globex: 17:00 Chicago the evening before to 16:00 Chicago
HISTORY_YEARS = 2  # IB serves 1-minute bars of expired futures for two years after expiry


@dataclass(frozen=True)
class DayPlan:
    """One CME trading date to fetch: its contract and its Globex session [start, end) in UTC."""

    day: date
    contract: FutureContract
    start: datetime
    end: datetime


@dataclass
class BackfillReport:
    """What a backfill did."""

    symbol: str
    start: date
    end: date
    days_planned: int = 0
    days_skipped: int = 0
    days_fetched: int = 0
    bars_received: int = 0
    bars_stored: int = 0
    contracts: dict[str, int] = field(default_factory=dict)
    days_without_data: list[str] = field(default_factory=list)  # fetched, but the gateway had no bars

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data


def check_range(start: date, end: date, today: date) -> None:
    """Refuse a range IB cannot serve: end before start, a future date, older than IB keeps (exit 2)."""
    for flag, day in (("--from", start), ("--to", end)):
        if day > today:
            raise UsageError(f"{flag} {day} is in the future (the current CME trading date is {today})")
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    oldest = date(today.year - HISTORY_YEARS, today.month, min(today.day, 28))
    if start < oldest:
        raise UsageError(f"--from {start} is older than IB serves: 1-minute bars of expired futures are kept "
                         f"for {HISTORY_YEARS} years (from {oldest} on)")


def trading_days(start: date, end: date) -> list[date]:
    """Return the weekdays of [start, end] (CME trading dates; a holiday simply has no bars)."""
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def plan_days(days: list[date], expiries: list[FutureContract]) -> list[DayPlan]:
    """Return each day's contract by the live roll rule and its session window."""
    plans = []
    for day in days:
        try:
            contract = choose_front_month(expiries, day)
        except ValueError:
            raise BrokerError(f"the gateway lists no {expiries[0].symbol if expiries else ''} expiry "
                              f"active on {day}") from None
        opened = session_start(day)
        plans.append(DayPlan(day, contract, opened, opened + SESSION_LENGTH))
    return plans


async def backfill(config: GatewayConfig, store: Store, symbol: str, start: date, end: date,
                   progress: Callable[[int, int], None] = lambda done, total: None,
                   pacer: HistoryPacer | None = None) -> BackfillReport:
    """Fetch [start, end] (CME trading dates) into the store; resume after the days already done."""
    return await backfill_into(config, lambda: nullcontext(store), symbol, start, end, progress, pacer)


async def backfill_into(config: GatewayConfig, open_store: Callable[[], AbstractContextManager[Store]], symbol: str,
                        start: date, end: date, progress: Callable[[int, int], None] = lambda done, total: None,
                        pacer: HistoryPacer | None = None) -> BackfillReport:
    """Connect, then open the store and fetch [start, end]: an unreachable gateway leaves no new store behind."""
    from slob_cli.adapters.ib.connection import IBConnection

    connection = IBConnection(config)
    await connection.connect()
    try:
        with open_store() as store:
            return await _fetch(connection, store, symbol, start, end, progress, pacer)
    finally:
        await connection.close()


async def _fetch(connection: IBConnection, store: Store, symbol: str, start: date, end: date,
                 progress: Callable[[int, int], None], pacer: HistoryPacer | None) -> BackfillReport:
    from slob_cli.adapters.ib.backfill import fetch_session, gateway_time, list_expiries
    from slob_cli.adapters.ib.history import HistoryPacer

    pacer = pacer or HistoryPacer.kept_in(store, lambda: datetime.now(timezone.utc))
    report = BackfillReport(symbol, start, end)
    ledger = BackfillLedger(store, symbol)
    ib = connection.ib
    now = await gateway_time(ib)
    expiries = await list_expiries(ib, symbol)
    plans = [plan for plan in plan_days(trading_days(start, end), list(expiries)) if plan.start < now]
    done = ledger.done()
    todo = [plan for plan in plans if plan.day not in done]
    report.days_planned, report.days_skipped = len(plans), len(plans) - len(todo)
    progress(0, len(todo))
    for index, plan in enumerate(todo, start=1):
        upper = min(plan.end, now)
        candles = await fetch_session(ib, expiries[plan.contract], symbol, plan.start, upper, pacer=pacer)
        stored = ledger.commit_day(plan.day, candles, plan.contract.local_symbol, upper >= plan.end, now)
        report.days_fetched += 1
        report.bars_received += len(candles)
        report.bars_stored += stored
        local = plan.contract.local_symbol
        report.contracts[local] = report.contracts.get(local, 0) + len(candles)
        if candles:
            log.info("backfilled %s %s from %s: %d bars, %d new", symbol, plan.day, local, len(candles), stored)
        else:  # IB answers 162 "HMDS query returned no data": a holiday, or a span the gateway does not hold
            report.days_without_data.append(plan.day.isoformat())
            log.warning("%s %s (%s): the gateway has no 1-minute bars for this session", symbol, plan.day, local)
        progress(index, len(todo))
    return report
