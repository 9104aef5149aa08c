"""Positions, cash, P&L and account values of the simulated broker's accounts (futures only).

Futures move no cash when opened: cash changes by realized trading gains and by commissions.
Realized P&L follows IB's convention of counting the round trip's commissions: the opening
commission is folded into a per-contract cost basis and the closing commission is deducted, so
`realizedPNL` of a closing fill is what the trade earned after costs. That cost basis is also what
IB reports as a position's avgCost (a GC fill at 1477.3 shows avgCost 147732.37: price x 100 plus
the commission), so unrealized P&L (market value - avgCost) counts the opening commission too.
Net liquidation does not count it twice: cash already paid it, so it adds the price move only.
IB's Account Window (updatePortfolio, account value RealizedPnL) resets realized P&L once a day, so
each position also keeps what it realized on the trading day of its last closing fill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from slob_cli.sim.contracts import CENTRAL


def trading_day(moment: datetime) -> date:
    """Return the trading day a moment belongs to (from 17:00 Chicago, the Globex reopen, it is the next one)."""
    local = moment.astimezone(CENTRAL)
    return (local + timedelta(days=1)).date() if local.hour >= 17 else local.date()

# Initial and maintenance margin per contract (USD), close to CME/IB levels for NQ in 2025-26.
DEFAULT_MARGINS: dict[str, tuple[float, float]] = {"NQ": (33_000.0, 30_000.0), "MNQ": (3_300.0, 3_000.0)}
_FALLBACK_MARGIN = (33_000.0, 30_000.0)
# A Reg T margin account shows four times its available funds as buying power.
_BUYING_POWER_FACTOR = 4.0


@dataclass
class Position:
    """One account's holding of one contract."""

    account: str
    con_id: int
    symbol: str
    multiplier: float
    quantity: float = 0.0
    average_price: float = 0.0  # per unit of price, without commissions
    cost_basis: float = 0.0  # per contract, price x multiplier with the opening commission folded in
    mark: float | None = None
    realized: float = 0.0  # every closing fill's realized P&L in this contract, summed
    realized_day: date | None = None  # the trading day of the last closing fill
    day_realized: float = 0.0  # the realized P&L of the closing fills of that day

    def realized_on(self, day: date) -> float:
        """Return the realized P&L booked in this contract on a trading day (IB's Account Window resets it daily)."""
        return self.day_realized if self.realized_day == day else 0.0

    @property
    def average_cost(self) -> float:
        """Return IB's avgCost for a future: average price x multiplier with the opening commission."""
        return self.cost_basis

    @property
    def unrealized(self) -> float:
        """Return IB's open P&L at the last mark, market value - avgCost (0 without a mark)."""
        if self.mark is None or not self.quantity:
            return 0.0
        return (self.mark * self.multiplier - self.cost_basis) * self.quantity

    @property
    def price_move(self) -> float:
        """Return the open position's gain from the price alone (what net liquidation adds to cash)."""
        if self.mark is None or not self.quantity:
            return 0.0
        return (self.mark - self.average_price) * self.quantity * self.multiplier


class Ledger:
    """Cash, positions and P&L per account."""

    def __init__(
        self, accounts: list[str], starting_cash: float, margins: dict[str, tuple[float, float]] | None = None
    ) -> None:
        self.margins = dict(DEFAULT_MARGINS if margins is None else margins)
        self.cash = {account: float(starting_cash) for account in accounts}
        self.realized = {account: 0.0 for account in accounts}
        self.commissions = {account: 0.0 for account in accounts}
        self._positions: dict[tuple[str, int], Position] = {}

    def position(self, account: str, con_id: int, symbol: str, multiplier: float) -> Position:
        """Return the position record, creating a flat one on first use."""
        key = (account, con_id)
        if key not in self._positions:
            self._positions[key] = Position(account, con_id, symbol, multiplier)
        return self._positions[key]

    def apply_fill(
        self, account: str, con_id: int, symbol: str, multiplier: float, signed_quantity: float, price: float,
        commission: float, *, day: date,
    ) -> tuple[Position, float | None]:  # fmt: skip
        """Book a fill of trading day `day`; return the position and the realized P&L (None when it only opens).

        A closing fill's realized P&L counts towards its day's (`realized_on`), the one figure of it.
        """
        position = self.position(account, con_id, symbol, multiplier)
        held = position.quantity
        size = abs(signed_quantity)
        side = math.copysign(1.0, signed_quantity)
        per_contract_commission = commission / size
        closing = min(size, abs(held)) if held and math.copysign(1.0, held) != side else 0.0
        realized: float | None = None
        self.cash[account] -= commission
        self.commissions[account] += commission
        if closing:
            held_side = math.copysign(1.0, held)
            gross = (price - position.average_price) * closing * multiplier * held_side
            realized = (price * multiplier - position.cost_basis) * closing * held_side
            realized -= per_contract_commission * closing
            self.cash[account] += gross
            self.realized[account] += realized
            position.realized += realized
            if position.realized_day != day:
                position.realized_day, position.day_realized = day, 0.0
            position.day_realized += realized
            position.quantity = held - held_side * closing
            if not position.quantity:
                position.average_price = position.cost_basis = 0.0
        opening = size - closing
        if opening:
            current = abs(position.quantity)
            total = current + opening
            basis = price * multiplier + side * per_contract_commission
            position.average_price = (position.average_price * current + price * opening) / total
            position.cost_basis = (position.cost_basis * current + basis * opening) / total
            position.quantity += side * opening
        position.mark = price
        return position, realized

    def mark(self, con_id: int, price: float) -> None:
        """Mark every position in con_id to price (unrealized P&L follows)."""
        for (_, position_con_id), position in self._positions.items():
            if position_con_id == con_id:
                position.mark = price

    def realized_on(self, account: str, day: date, con_id: int | None = None) -> float:
        """Return the realized P&L of trading day `day` of an account or of one of its contracts.

        The one source of the day's realized P&L: updatePortfolio's realizedPNL, the account value
        RealizedPnL and reqPnL / reqPnLSingle all read it.
        """
        if con_id is not None:
            position = self._positions.get((account, con_id))
            return 0.0 if position is None else position.realized_on(day)
        return sum(p.realized_on(day) for (owner, _), p in self._positions.items() if owner == account)

    def positions(self, account: str | None = None) -> list[Position]:
        """Return the position records (flat ones included once traded), by account and conId."""
        return [
            self._positions[key] for key in sorted(self._positions) if account is None or key[0] == account
        ]

    def values(self, account: str, day: date | None = None) -> dict[str, float]:
        """Return the account's numeric values in USD; RealizedPnL is that of trading day `day` (else all of it)."""
        positions = self.positions(account)
        held = [p for p in positions if p.quantity]
        realized = self.realized[account] if day is None else self.realized_on(account, day)
        unrealized = sum(p.unrealized for p in held)
        gross_value = sum(abs(p.quantity) * (p.mark if p.mark is not None else p.average_price) * p.multiplier
                          for p in held)  # fmt: skip
        initial = sum(abs(p.quantity) * self.margins.get(p.symbol, _FALLBACK_MARGIN)[0] for p in held)
        maintenance = sum(abs(p.quantity) * self.margins.get(p.symbol, _FALLBACK_MARGIN)[1] for p in held)
        cash = self.cash[account]
        net = cash + sum(p.price_move for p in held)
        available = net - initial
        return {
            "NetLiquidation": net,
            "TotalCashValue": cash,
            "EquityWithLoanValue": net,
            "InitMarginReq": initial,
            "MaintMarginReq": maintenance,
            "AvailableFunds": available,
            "ExcessLiquidity": net - maintenance,
            "BuyingPower": max(available, 0.0) * _BUYING_POWER_FACTOR,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": realized,
            "GrossPositionValue": gross_value,
        }
