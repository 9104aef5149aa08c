"""Small pure functions turning IB values into slob models, validating at the border.

Nothing camelCase leaves this package: every IB object is read here and turned into a frozen
slob value, or rejected with a reason that the BorderGuard counts and logs once.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from slob_cli.adapters.ib.rolls import FutureContract, parse_expiry
from slob_cli.core.models import Candle, InvalidTick, Tick, validate_tick

UTC = timezone.utc
log = logging.getLogger(__name__)


class Rejected(ValueError):
    """A value from the gateway failed validation; the message names the problem."""


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    """One fill as slob sees it (from IB's execDetails + commissionReport)."""

    exec_id: str
    order_id: int
    perm_id: int
    order_ref: str
    symbol: str
    local_symbol: str
    side: str  # BOT | SLD
    quantity: float
    price: float
    ts: datetime
    commission: float | None
    realized_pnl: float | None


class BorderGuard:
    """Count rejected values by reason and log each reason once (then only count)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self._log = logger or log

    def reject(self, what: str, reason: str) -> None:
        """Record one rejected value."""
        key = f"{what}: {reason}"
        if not self.counts[key]:
            self._log.warning("rejected %s from the gateway (%s); further ones are only counted", what, reason)
        self.counts[key] += 1

    @property
    def total(self) -> int:
        """Return how many values were rejected."""
        return sum(self.counts.values())


_INF = math.inf


def trade_tick(symbol: str, epoch_seconds: float, price: float, size: float) -> Tick:
    """Return the Tick of one tick-by-tick trade (exchange time in epoch seconds, true trade size).

    This is the hot path (tens of thousands of calls a second), so it checks directly instead of
    going through validate_tick: chained comparisons are False for NaN, so NaN is rejected too.
    """
    if not 0 < epoch_seconds < _INF:
        raise InvalidTick(f"trade time {epoch_seconds!r} is not a positive epoch second")
    if not 0 < price < _INF:
        raise InvalidTick(f"price {price!r} is not a positive finite number")
    if not 0 < size < _INF:
        raise InvalidTick(f"size {size!r} is not a positive trade size")
    return Tick(symbol, datetime.fromtimestamp(epoch_seconds, UTC), float(price), float(size))


def last_price_tick(symbol: str, arrived: datetime, price: float, size: float) -> Tick:
    """Return the Tick of one reqMktData last-price update (per-trade size, arrival time)."""
    if not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
        raise InvalidTick(f"size {size!r} is not a positive trade size")
    return validate_tick(symbol, arrived, price, size)


def bar_candle(symbol: str, bar: Any) -> Candle:
    """Return the Candle of one IB 1-minute BarData (date aware UTC or epoch), or raise Rejected."""
    when = bar.date
    if isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when, UTC)
    if not isinstance(when, datetime):
        raise Rejected(f"bar date {when!r} is not a date and time")
    if when.tzinfo is None:
        raise Rejected(f"bar date {when.isoformat()} has no time zone")
    when = when.astimezone(UTC)
    if when.second or when.microsecond:
        raise Rejected(f"bar date {when.isoformat()} is not on a minute boundary")
    values = {name: getattr(bar, name) for name in ("open", "high", "low", "close")}
    for name, value in values.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise Rejected(f"bar {name} {value!r} is not a positive finite price")
    volume = bar.volume
    if not isinstance(volume, (int, float)) or not math.isfinite(volume) or volume < 0:
        raise Rejected(f"bar volume {volume!r} is negative or not finite")
    high, low = values["high"], values["low"]
    if high < max(values["open"], values["close"]) or low > min(values["open"], values["close"]) or low > high:
        raise Rejected(f"bar {when.isoformat()} has inconsistent high/low")
    count = int(bar.barCount) if isinstance(bar.barCount, (int, float)) and bar.barCount > 0 else 0
    return Candle(symbol, when, float(values["open"]), float(high), float(low), float(values["close"]),
                  float(volume), max(count, 1))


def future_contract(details: Any, symbol: str) -> FutureContract:
    """Return the FutureContract of an IB ContractDetails, or raise Rejected for another symbol."""
    contract = details.contract
    if contract is None:
        raise Rejected("contract details without a contract")
    if contract.symbol != symbol:
        raise Rejected(f"asked for {symbol}, gateway answered {contract.symbol!r}")
    if contract.secType not in ("FUT", "CONTFUT"):
        raise Rejected(f"{contract.localSymbol or symbol} is a {contract.secType}, not a future")
    if not contract.conId:
        raise Rejected(f"{contract.localSymbol or symbol} has no conId")
    try:
        expiry = parse_expiry(contract.lastTradeDateOrContractMonth or details.realExpirationDate)
    except ValueError as exc:
        raise Rejected(str(exc)) from None
    return FutureContract(
        symbol=symbol, local_symbol=contract.localSymbol, con_id=int(contract.conId), expiry=expiry,
        exchange=contract.exchange or "CME", trading_class=contract.tradingClass,
        multiplier=str(contract.multiplier or ""),
    )


def execution_report(fill: Any) -> ExecutionReport:
    """Return the ExecutionReport of an ib_async Fill."""
    execution, contract, report = fill.execution, fill.contract, fill.commissionReport
    commission = report.commission if report is not None and report.execId else None
    realized = report.realizedPNL if report is not None and report.execId else None
    if realized is not None and (not math.isfinite(realized) or abs(realized) > 1e300):
        realized = None
    when = execution.time
    if not isinstance(when, datetime):
        raise Rejected(f"execution {execution.execId} has no time")
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return ExecutionReport(
        exec_id=execution.execId, order_id=int(execution.orderId), perm_id=int(execution.permId),
        order_ref=execution.orderRef, symbol=contract.symbol, local_symbol=contract.localSymbol,
        side=execution.side, quantity=float(execution.shares), price=float(execution.price),
        ts=when.astimezone(UTC),
        commission=commission, realized_pnl=realized,
    )


def execution_filter_time(since: datetime) -> str:
    """Return the UTC `YYYYMMDD-HH:MM:SS` form IB's ExecutionFilter.time accepts."""
    return since.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
