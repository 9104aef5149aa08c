"""What reconciliation proposes, and the merged view of one order it reasons about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from slob_cli.core.broker_view import LIVE, BrokerExecution, BrokerOrder, OrderStatus, StoredOrder
from slob_cli.core.orders import OrderIntent, ParsedRef
from slob_cli.core.pnl import price_text


@dataclass(frozen=True, slots=True)
class MarkOrder:
    """Update a stored order's status, filled quantity and broker id."""

    order_ref: str
    status: OrderStatus
    filled: int
    broker_order_id: int | None
    avg_fill_price: float | None
    note: str = ""
    perm_id: int = 0


@dataclass(frozen=True, slots=True)
class RecordExecution:
    """Store a fill the store has not seen yet."""

    execution: BrokerExecution


@dataclass(frozen=True, slots=True)
class SendBracket:
    """Send a stored bracket none of whose orders reached the broker (same orderRefs)."""

    setup_id: str
    orders: tuple[OrderIntent, ...]


@dataclass(frozen=True, slots=True)
class PlaceOrders:
    """Store these new intents, then send them (a protective stop/target pair or a flatten)."""

    setup_id: str
    orders: tuple[OrderIntent, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel a working order."""

    order_ref: str
    order_id: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class ResizeOrder:
    """Change a working order's total quantity (filled part included)."""

    order_ref: str
    order_id: int | None
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class ClosedOutside:
    """Part of a setup's position was closed outside slob (a flatten in TWS): store it as a filled flatten.

    `executions` are the foreign closing fills the broker reported (the exit price); they may cover
    less than `quantity` when the broker no longer reports them.
    """

    setup_id: str
    symbol: str
    quantity: int
    executions: tuple[BrokerExecution, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class Report:
    """Something an operator should know; no order changes."""

    kind: str
    detail: str
    order_ref: str | None = None
    symbol: str | None = None


Action = MarkOrder | RecordExecution | SendBracket | PlaceOrders | CancelOrder | ResizeOrder | ClosedOutside | Report
ActionType = TypeVar("ActionType", MarkOrder, RecordExecution, SendBracket, PlaceOrders, CancelOrder, ResizeOrder,
                     ClosedOutside, Report)


def order_line(order: OrderIntent) -> str:
    """One order as a trader reads it: orderRef, side, quantity, type and price."""
    price = order.stop_price if order.order_type.startswith("STP") else order.limit_price
    return " ".join([order.order_ref, order.action, str(order.quantity), order.order_type]
                    + ([price_text(price)] if price is not None else []))


def describe(action: Action) -> str:
    """One log line for an action that changes orders at the broker (or reports), without a dataclass dump."""
    if isinstance(action, SendBracket | PlaceOrders):
        orders = ", ".join(order_line(o) for o in action.orders)
        why = action.reason if isinstance(action, PlaceOrders) else "stored bracket never reached the broker"
        return f"{'placing' if isinstance(action, PlaceOrders) else 'sending'} {orders} ({why})"
    if isinstance(action, CancelOrder):
        return f"cancelling {action.order_ref} ({action.reason})"
    if isinstance(action, ResizeOrder):
        return f"resizing {action.order_ref} to {action.quantity} ({action.reason})"
    if isinstance(action, ClosedOutside):
        return action.detail
    if isinstance(action, Report):
        return f"{action.kind}: {action.detail}"
    return f"{type(action).__name__} {getattr(action, 'order_ref', '')}".strip()


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """The actions, in the order to apply them, and the setups that hold a risk slot once they are applied.

    `holding` is what the risk state's open_positions must count, read from the broker itself: a
    setup holds a slot while the broker holds a position of it, works its entry, or is about to
    get its bracket (re)sent.
    """

    actions: tuple[Action, ...]
    holding: frozenset[str] = frozenset()

    def of_type(self, kind: type[ActionType]) -> list[ActionType]:
        """Return the actions of one type, in order."""
        return [action for action in self.actions if isinstance(action, kind)]

    @property
    def changes_orders(self) -> bool:
        """Return True when the plan sends, cancels or resizes anything at the broker."""
        return any(isinstance(a, (SendBracket, PlaceOrders, CancelOrder, ResizeOrder)) for a in self.actions)


@dataclass(slots=True)
class OrderView:
    """One of our orders as seen through the store and the broker together."""

    ref: str
    parsed: ParsedRef
    stored: StoredOrder | None
    broker: BrokerOrder | None
    status: OrderStatus
    filled: int
    quantity: int
    avg_price: float | None

    @property
    def intent(self) -> OrderIntent | None:
        """Return the stored intent, if the store has this order."""
        return self.stored.intent if self.stored else None

    @property
    def live_remaining(self) -> int:
        """Return the quantity still working at the broker (0 unless the broker holds it live)."""
        if self.broker is None or self.status not in LIVE:
            return 0
        return max(0, self.quantity - self.filled)

    @property
    def order_id(self) -> int | None:
        """Return the broker's order id, from the broker or the store."""
        if self.broker is not None and self.broker.order_id:
            return self.broker.order_id
        # A completed order reported to a later client session carries order id 0: keep the stored id.
        return self.stored.broker_order_id if self.stored else None

    @property
    def symbol(self) -> str | None:
        """Return the order's root symbol."""
        return self.broker.symbol if self.broker else (self.intent.symbol if self.intent else None)

    @property
    def action(self) -> str | None:
        """Return BUY or SELL."""
        return self.broker.action if self.broker else (self.intent.action if self.intent else None)

    @property
    def stop_price(self) -> float | None:
        """Return the stop price, from the intent or the broker."""
        return self.intent.stop_price if self.intent else (self.broker.stop_price if self.broker else None)

    @property
    def limit_price(self) -> float | None:
        """Return the limit price, from the intent or the broker."""
        return self.intent.limit_price if self.intent else (self.broker.limit_price if self.broker else None)
