"""Orders, executions and the events the simulated broker returns (IB vocabulary)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from slob_cli.core.pnl import COMMISSION_PER_SIDE

NEW_YORK = ZoneInfo("America/New_York")
DAY_CLOSE = time(16, 0)
DEFAULT_COMMISSIONS: dict[str, float] = dict(COMMISSION_PER_SIDE)  # one rate table: core/pnl.py
ORDER_TYPES = {"MKT", "LMT", "STP", "STP LMT"}
DONE_STATUSES = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}
WORKING_STATUSES = {"PreSubmitted", "Submitted"}
CANCEL_MESSAGE = "Order Canceled - reason:"
SIZE_LIMIT = 500  # contracts: IB's default precautionary Size Limit
SIZE_LIMIT_MESSAGE = ('The following order "ID:{order_id}" size exceeds the Size Limit of {limit}. '
                      "Restriction is specified in Precautionary Settings of Global Configuration/Presets.")
PRICE_CONSTRAINT_MESSAGE = ("The price specified would violate the percentage constraint specified in the "
                            "default order settings.")
LIVE_REFUSED = (
    "live accounts are refused by this simulated gateway: account {account} does not start with DU "
    "(start it with --live-account to allow one)"
)


@dataclass
class SimOrder:
    """One order as the simulated broker holds it (IB vocabulary)."""

    order_id: int
    client_id: int
    perm_id: int
    account: str
    con_id: int
    symbol: str
    local_symbol: str
    multiplier: float
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    stop_price: float | None
    tif: str = "DAY"
    oca_group: str = ""
    oca_type: int = 0
    oca_auto: bool = False  # a bracket child's group named by the broker: reported, the bracket rules apply
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    outside_rth: bool = False
    status: str = "PendingSubmit"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    placed_at: datetime | None = None
    completed_at: datetime | None = None
    triggered: bool = False  # a STP LMT whose stop has been touched works as a limit

    @property
    def remaining(self) -> float:
        """Return the quantity still to fill."""
        return max(self.quantity - self.filled, 0.0)

    @property
    def key(self) -> tuple[int, int]:
        """Return the (client_id, order_id) key IB and ib_async use."""
        return (self.client_id, self.order_id)

    @property
    def done(self) -> bool:
        """Return True once the order can no longer fill."""
        return self.status in DONE_STATUSES

    @property
    def signed_side(self) -> int:
        """Return +1 for BUY, -1 for SELL."""
        return 1 if self.action == "BUY" else -1


@dataclass(frozen=True)
class SimExecution:
    """One fill as reported by execDetails and commissionReport."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    account: str
    con_id: int
    symbol: str
    local_symbol: str
    side: str
    shares: float
    price: float
    time: datetime
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None


@dataclass(frozen=True)
class OrderUpdate:
    """An order changed state: openOrder + orderStatus."""

    order: SimOrder


@dataclass(frozen=True)
class Fill:
    """An order (partly) filled: execDetails, orderStatus, openOrder, commissionReport."""

    order: SimOrder
    execution: SimExecution


@dataclass(frozen=True)
class PositionUpdate:
    """A position changed: position / updatePortfolio."""

    account: str
    con_id: int
    position: float
    avg_cost: float


@dataclass(frozen=True)
class AccountUpdate:
    """Account values changed (all values are strings, currency USD)."""

    account: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderRejected:
    """An error about one order: error(reqId=orderId, code, message). Code 202 reports a cancel."""

    order_id: int
    client_id: int
    code: int
    message: str


BrokerEvent = OrderUpdate | Fill | PositionUpdate | AccountUpdate | OrderRejected


def day_close_after(moment: datetime) -> datetime:
    """Return the first 16:00 New York close strictly after moment (when DAY orders expire)."""
    local = moment.astimezone(NEW_YORK)
    close = datetime.combine(local.date(), DAY_CLOSE, NEW_YORK)
    if close <= local:
        close = datetime.combine(local.date() + timedelta(days=1), DAY_CLOSE, NEW_YORK)
    return close


def on_grid(price: float, tick: float) -> bool:
    """Return True when price is a whole number of ticks."""
    steps = price / tick
    return abs(steps - round(steps)) < 1e-9


def snapshot(order: SimOrder) -> SimOrder:
    """Return a copy, so an event keeps the state it reported."""
    return replace(order)
