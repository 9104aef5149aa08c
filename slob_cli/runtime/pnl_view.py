"""Unrealized P&L as the engine computes it, beside the broker's own figure (health rows, the paper report)."""

from __future__ import annotations

from typing import Any

from slob_cli.core.models import INSTRUMENTS
from slob_cli.core.unrealized import OpenTrade, open_unrealized


def unrealized_view(store: Any, symbol: str, last_price: float | None, broker: float | None) -> dict[str, Any]:
    """Return {'unrealized_pnl': ours, 'broker_unrealized_pnl': the broker's} in USD (None when unknown)."""
    rows = store.conn.execute(
        "SELECT direction, quantity, entry_price FROM trades WHERE status = 'OPEN' AND symbol = ? "
        "AND entry_price IS NOT NULL", (symbol,)).fetchall()
    multiplier = INSTRUMENTS[symbol].multiplier if symbol in INSTRUMENTS else 1.0
    ours = open_unrealized([OpenTrade(*row) for row in rows], last_price, multiplier)
    return {"unrealized_pnl": ours, "broker_unrealized_pnl": broker}
