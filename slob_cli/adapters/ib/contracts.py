"""Resolve the front-month NQ/MNQ future through the gateway's contract details and the roll rule."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from slob_cli.adapters.ib.conversions import BorderGuard, Rejected, future_contract
from slob_cli.adapters.ib.rolls import FutureContract, choose_front_month
from slob_cli.core.models import INSTRUMENTS
from slob_cli.errors import BrokerError, UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedContract:
    """The chosen expiry, plus the ib_async Contract needed to subscribe (kept inside adapters/ib)."""

    future: FutureContract
    trading_date: date
    ib_contract: Any


def valid_futures(details: list[Any], symbol: str, guard: BorderGuard) -> list[tuple[FutureContract, Any]]:
    """Return (FutureContract, ib_async Contract) of each valid contract detail; count and log the rest."""
    found = []
    for item in details:
        try:
            future = future_contract(item, symbol)
        except Rejected as exc:
            guard.reject("contract", str(exc))
            continue
        found.append((future, item.contract))
    return found


async def resolve_front_month(ib: Any, symbol: str, day: date, guard: BorderGuard | None = None) -> ResolvedContract:
    """Return the contract to trade on trading date `day`: listed expiries filtered by the roll rule.

    Falls back to IB's continuous future (CONTFUT) when the gateway lists no expiries.
    """
    from ib_async import ContFuture, Future, RequestError

    instrument = INSTRUMENTS.get(symbol)
    if instrument is None:
        raise UsageError(f"unknown symbol {symbol!r} (known: {', '.join(INSTRUMENTS)})")
    guard = guard or BorderGuard(log)
    query = Future(symbol=symbol, exchange=instrument.exchange, currency=instrument.currency)
    try:
        details = await ib.reqContractDetailsAsync(query)
    except RequestError as exc:
        details = []
        log.warning("contract details for %s futures failed (IB %d: %s); trying the continuous future",
                    symbol, exc.code, exc.message)
    by_con_id: dict[int, Any] = {}
    candidates: list[FutureContract] = []
    for future, contract in valid_futures(details, symbol, guard):
        if contract.secType == "FUT":
            candidates.append(future)
            by_con_id[future.con_id] = contract
    if not candidates:
        return await _continuous(ib, symbol, instrument, day, guard, ContFuture, Future, RequestError)
    try:
        chosen = choose_front_month(candidates, day)
    except ValueError as exc:
        raise BrokerError(f"{symbol}: {exc}") from None
    log.info("front month for %s on %s: %s (expiry %s, roll %s, conId %d)", symbol, day, chosen.local_symbol,
             chosen.expiry, chosen.roll_date, chosen.con_id)
    return ResolvedContract(chosen, day, by_con_id[chosen.con_id])


async def _continuous(ib: Any, symbol: str, instrument: Any, day: date, guard: BorderGuard, cont_future: Any,
                      future_type: Any, request_error: type[Exception]) -> ResolvedContract:
    try:
        details = await ib.reqContractDetailsAsync(cont_future(symbol, instrument.exchange, currency=instrument.currency))
    except request_error as exc:
        raise BrokerError(f"IB does not know the {symbol} future on {instrument.exchange}: {exc}") from None
    for future, contract in valid_futures(details, symbol, guard):
        ib_contract = future_type(conId=future.con_id, symbol=symbol, exchange=contract.exchange or instrument.exchange,
                                  lastTradeDateOrContractMonth=contract.lastTradeDateOrContractMonth,
                                  localSymbol=contract.localSymbol, currency=instrument.currency,
                                  multiplier=contract.multiplier, tradingClass=contract.tradingClass)
        log.info("front month for %s from IB's continuous future: %s (expiry %s)", symbol, future.local_symbol,
                 future.expiry)
        return ResolvedContract(future, day, ib_contract)
    raise BrokerError(f"IB returned no contract for the {symbol} future on {instrument.exchange}")
