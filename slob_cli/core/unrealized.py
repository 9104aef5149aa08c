"""Unrealized P&L of open trades, and how far the broker's figure may differ from ours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenTrade:
    """An open position as the store knows it."""

    direction: str  # LONG or SHORT
    quantity: float
    entry_price: float


def open_unrealized(trades: Iterable[OpenTrade], last_price: float | None, multiplier: float) -> float | None:
    """Return the money the open trades make at last_price (0.0 without trades, None without a price)."""
    trades = list(trades)
    if not trades:
        return 0.0
    if last_price is None:
        return None
    total = 0.0
    for trade in trades:
        sign = 1.0 if trade.direction.upper() == "LONG" else -1.0
        total += sign * (last_price - trade.entry_price) * trade.quantity * multiplier
    return round(total, 2)


@dataclass(frozen=True)
class PnlDifference:
    """The largest gap between our unrealized P&L and the broker's over a run."""

    samples: int  # moments both figures were known
    worst: float  # largest |ours - broker| (USD)
    ours: float | None
    broker: float | None

    def within(self, tolerance: float) -> bool:
        """Return True when no sample differs by more than tolerance (USD)."""
        return self.worst <= tolerance


def largest_difference(pairs: Sequence[tuple[float, float]]) -> PnlDifference:
    """Return the largest difference among (ours, broker) pairs."""
    if not pairs:
        return PnlDifference(0, 0.0, None, None)
    ours, broker = max(pairs, key=lambda pair: abs(pair[0] - pair[1]))
    return PnlDifference(len(pairs), round(abs(ours - broker), 2), ours, broker)
