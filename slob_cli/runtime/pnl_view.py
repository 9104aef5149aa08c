"""Unrealized P&L as the engine computes it, beside the broker's own figure (health rows, the paper report)."""

from __future__ import annotations

from typing import Any

from slob_cli.core.models import INSTRUMENTS, Direction
from slob_cli.core.pnl import mark_open
from slob_cli.runtime.views import open_positions


def unrealized_view(store: Any, symbol: str, last_price: float | None, broker: float | None) -> dict[str, Any]:
    """Return {'unrealized_pnl': ours, 'broker_unrealized_pnl': the broker's} in USD (None when unknown).

    Ours marks slob's open trades of the symbol at the last trade price with core/pnl.mark_open
    (entry commission counted, as IB's average cost does).
    """
    held = [position for position in open_positions(store) if position["symbol"] == symbol]
    if not held:
        return {"unrealized_pnl": 0.0, "broker_unrealized_pnl": broker}
    if last_price is None:
        return {"unrealized_pnl": None, "broker_unrealized_pnl": broker}
    multiplier = INSTRUMENTS[symbol].multiplier if symbol in INSTRUMENTS else 1.0
    ours = sum(mark_open(Direction(position["direction"]), multiplier, position["quantity"], position["entry_price"],
                         position["entry_commission"] or 0.0, last_price).unrealized for position in held)
    return {"unrealized_pnl": round(ours, 2), "broker_unrealized_pnl": broker}
