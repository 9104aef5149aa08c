"""The one P&L rule of a futures trade: points, money, commission (live trades and backtests alike).

Points are signed in the trade's favour (a SHORT gains when the exit is below the entry); money is
points x multiplier x contracts; net is money minus the commission of every side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slob_cli.core.models import Direction

# Commission per contract per side (USD), IB's tiered rate with exchange fees, as the simulated broker charges.
COMMISSION_PER_SIDE: Mapping[str, float] = {"NQ": 2.25, "MNQ": 0.62}


@dataclass(frozen=True, slots=True)
class TradePnl:
    """The figures of one round trip (or of the part of it already closed)."""

    points: float
    gross: float
    commission: float
    net: float


def points_gained(direction: Direction, entry_price: float, exit_price: float) -> float:
    """Return the points a position gained from entry to exit (positive = profit)."""
    move = exit_price - entry_price
    return -move if Direction(direction) is Direction.SHORT else move


def trade_pnl(direction: Direction, entry_price: float, exit_price: float, quantity: float, multiplier: float,
              commission: float = 0.0) -> TradePnl:
    """Return points, gross money, commission and net money of closing `quantity` contracts."""
    points = points_gained(direction, entry_price, exit_price)
    gross = points * multiplier * quantity
    return TradePnl(points, gross, commission, gross - commission)


def commission_for(symbol: str, contracts: float, sides: int = 1,
                   rates: Mapping[str, float] = COMMISSION_PER_SIDE) -> float:
    """Return the commission of `contracts` traded on `sides` sides (2 for a round trip)."""
    return rates.get(symbol, 0.0) * contracts * sides
