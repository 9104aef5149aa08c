"""Backfill through ib_async: every listed expiry (expired ones included) and one trading day of 1-minute bars."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from slob_cli.adapters.ib.contracts import valid_futures
from slob_cli.adapters.ib.conversions import BorderGuard
from slob_cli.adapters.ib.history import DEFAULT_PACING_WAITS, HistoryPacer, fetch_minute_bars
from slob_cli.adapters.ib.rolls import FutureContract
from slob_cli.core.models import INSTRUMENTS, Candle
from slob_cli.errors import BrokerError

log = logging.getLogger(__name__)


async def list_expiries(ib: Any, symbol: str, guard: BorderGuard | None = None) -> dict[FutureContract, Any]:
    """Return every quarterly expiry IB lists for the root, expired ones included, with its ib_async Contract."""
    from ib_async import Future, RequestError

    instrument = INSTRUMENTS[symbol]
    guard = guard or BorderGuard(log)
    query = Future(symbol=symbol, exchange=instrument.exchange, currency=instrument.currency, includeExpired=True)
    try:
        details = await ib.reqContractDetailsAsync(query)
    except RequestError as exc:
        raise BrokerError(f"IB lists no {symbol} futures: IB {exc.code}: {exc.message}") from None
    found: dict[FutureContract, Any] = {}
    for future, contract in valid_futures(details, symbol, guard):
        if contract.secType != "FUT":
            continue
        contract.includeExpired = True  # an expired contract's bars need it on every request
        found[future] = contract
    if not found:
        raise BrokerError(f"IB lists no {symbol} futures on {instrument.exchange}")
    return found


async def gateway_time(ib: Any) -> datetime:
    """Return the gateway's current time (reqCurrentTime)."""
    return await ib.reqCurrentTimeAsync()


async def fetch_session(ib: Any, contract: Any, symbol: str, start: datetime, end: datetime,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                        pacing_waits: tuple[float, ...] = DEFAULT_PACING_WAITS,
                        pacer: HistoryPacer | None = None) -> list[Candle]:
    """Return the 1-minute TRADES bars of [start, end) (one Globex session: a single request, paced by pacer)."""
    return await fetch_minute_bars(ib, contract, symbol, start, end, chunk=max(end - start, timedelta(minutes=1)),
                                   sleep=sleep, pacing_waits=pacing_waits, pacer=pacer)
