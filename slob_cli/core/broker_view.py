"""Plain records of what we stored and what the broker reports, the inputs of reconciliation.

The IB adapter converts ib_async's Trade/Execution/Position objects into these; the store adapter
converts `orders` rows with `StoredOrder.from_row`. Nothing here knows ib_async.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from slob_cli.core.orders import OCA_TYPE_REDUCE_WITH_BLOCK, OrderIntent, OrderRole


class OrderStatus(str, Enum):
    """Lifecycle of one of our orders as stored in the `orders` table."""

    INTENT = "INTENT"  # written to the store, not handed to the broker
    SENT = "SENT"  # handed to the broker, not acknowledged yet
    WORKING = "WORKING"  # live at the broker (may be partially filled)
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    INACTIVE = "INACTIVE"  # rejected or parked by the broker
    EXPIRED = "EXPIRED"  # never sent: too old, or its bracket could not be completed


UNSENT = frozenset({OrderStatus.INTENT, OrderStatus.SENT})
LIVE = frozenset({OrderStatus.SENT, OrderStatus.WORKING})
ACTIVE = UNSENT | LIVE  # not finished: written, sent or working
TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.INACTIVE, OrderStatus.EXPIRED})

# An order being cancelled is not relied on as protection, so PendingCancel counts as cancelled.
_IB_STATUS = {
    "PendingSubmit": OrderStatus.SENT,
    "ApiPending": OrderStatus.SENT,
    "PreSubmitted": OrderStatus.WORKING,
    "Submitted": OrderStatus.WORKING,
    "Filled": OrderStatus.FILLED,
    "PendingCancel": OrderStatus.CANCELLED,
    "Cancelled": OrderStatus.CANCELLED,
    "ApiCancelled": OrderStatus.CANCELLED,
    "Inactive": OrderStatus.INACTIVE,
}


def status_from_ib(status: str) -> OrderStatus:
    """Map an IB order status string to ours; an unknown string counts as still working."""
    return _IB_STATUS.get(status, OrderStatus.WORKING)


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """One row of the `orders` table: the intent plus what we last knew of it."""

    intent: OrderIntent
    status: OrderStatus
    filled: int = 0
    broker_order_id: int | None = None
    created_at: datetime | None = None

    @property
    def order_ref(self) -> str:
        """Return the orderRef."""
        return self.intent.order_ref

    @classmethod
    def from_row(cls, row: Mapping[str, Any], created_at: datetime | None = None) -> StoredOrder:
        """Build from an `orders` row (column names of schema v1); created_at parsed by the caller."""
        intent = OrderIntent(
            order_ref=row["order_ref"],
            setup_id=row["setup_id"],
            role=OrderRole(row["role"]),
            symbol=row["symbol"],
            action=row["action"],
            order_type=row["order_type"],
            quantity=int(row["quantity"]),
            limit_price=row.get("limit_price"),
            stop_price=row.get("stop_price"),
            tif=row.get("tif") or "DAY",
            oca_group=row.get("oca_group"),
            oca_type=OCA_TYPE_REDUCE_WITH_BLOCK if row.get("oca_group") else None,
            parent_ref=row.get("parent_ref"),
        )
        return cls(intent, OrderStatus(row["status"]), int(row.get("filled") or 0),
                   row.get("broker_order_id"), created_at)


    def to_row(self) -> dict[str, Any]:
        """Return the `orders` columns this record fills (times and run id are the caller's)."""
        intent = self.intent
        return {
            "order_ref": intent.order_ref, "setup_id": intent.setup_id, "role": intent.role.value,
            "symbol": intent.symbol, "action": intent.action, "order_type": intent.order_type,
            "quantity": intent.quantity, "limit_price": intent.limit_price, "stop_price": intent.stop_price,
            "tif": intent.tif, "oca_group": intent.oca_group, "parent_ref": intent.parent_ref,
            "broker_order_id": self.broker_order_id, "status": self.status.value, "filled": self.filled,
        }


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An open or completed order as the broker reports it."""

    order_ref: str | None
    order_id: int
    symbol: str
    action: str
    order_type: str
    quantity: int
    status: str
    filled: int = 0
    avg_fill_price: float | None = None
    stop_price: float | None = None
    limit_price: float | None = None
    perm_id: int = 0  # IB's permanent id (0: not known); order ids restart with the client, perm ids do not

    @property
    def remaining(self) -> int:
        """Return the quantity still to fill."""
        return max(0, self.quantity - self.filled)


@dataclass(frozen=True, slots=True)
class BrokerExecution:
    """One execution (fill) as the broker reports it; side is BOT or SLD.

    commission is set when the broker's commission report came with the execution (reqExecutions
    sends both), None when it is still to come.
    """

    exec_id: str
    order_ref: str | None
    order_id: int
    symbol: str
    side: str
    shares: int
    price: float
    time: datetime
    perm_id: int = 0
    commission: float | None = None
    realized_pnl: float | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A position in one root symbol; quantity is signed (negative = short)."""

    symbol: str
    quantity: int
    avg_cost: float = 0.0
    local_symbol: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerView:
    """Everything the broker told us after (re)connecting."""

    open_orders: tuple[BrokerOrder, ...] = ()
    completed_orders: tuple[BrokerOrder, ...] = ()
    executions: tuple[BrokerExecution, ...] = ()
    positions: tuple[BrokerPosition, ...] = field(default=())

    def position(self, symbol: str) -> int:
        """Return the signed net position in a symbol (0 when flat)."""
        return sum(p.quantity for p in self.positions if p.symbol == symbol)
