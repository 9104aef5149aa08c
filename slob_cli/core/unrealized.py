"""How far the broker's unrealized P&L may differ from ours (ours comes from core/pnl.mark_open)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
