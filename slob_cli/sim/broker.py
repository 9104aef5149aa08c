"""The simulated broker: order book keeping, matching against market ticks, fills and accounts.

No sockets and no clock reads: every call gets the current time and returns the events the
server turns into TWS messages. The object lives outside the server, so a simulated gateway
restart keeps orders, positions and executions, as IB's servers do.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from slob_cli.core.models import INSTRUMENTS, TICK_SIZE
from slob_cli.sim.ledger import Ledger, trading_day
from slob_cli.sim.matching import MatchingMixin
from slob_cli.sim.orders import (
    DEFAULT_COMMISSIONS,
    DONE_STATUSES,
    LIVE_REFUSED,
    ORDER_TYPES,
    PRICE_CONSTRAINT_MESSAGE,
    SIZE_LIMIT,
    SIZE_LIMIT_MESSAGE,
    AccountUpdate,
    BrokerEvent,
    Fill,
    OrderRejected,
    OrderUpdate,
    PositionUpdate,
    SimExecution,
    SimOrder,
    day_close_after,
    on_grid,
    snapshot,
)
from slob_cli.sim.ticks import MarketTick

T = TypeVar("T")

__all__ = [
    "AccountUpdate",
    "BrokerEvent",
    "Fill",
    "OrderRejected",
    "OrderUpdate",
    "PositionUpdate",
    "SimBroker",
    "SimExecution",
    "SimOrder",
]


class SimBroker(MatchingMixin):
    """Orders, matching, executions, positions and account values for the simulated gateway."""

    def __init__(
        self,
        accounts: list[str],
        starting_cash: float = 100_000.0,
        commission_per_contract: dict[str, float] | None = None,
        allow_live_accounts: bool = False,
        margins: dict[str, tuple[float, float]] | None = None,
        size_limit: int = SIZE_LIMIT,
    ) -> None:
        if not accounts:
            raise ValueError("the simulated broker needs at least one account")
        self.accounts = list(accounts)
        self.allow_live_accounts = allow_live_accounts
        self.size_limit = size_limit
        self.commission_per_contract = dict(DEFAULT_COMMISSIONS if commission_per_contract is None
                                            else commission_per_contract)  # fmt: skip
        self.ledger = Ledger(self.accounts, starting_cash, margins)
        self._orders: dict[tuple[int, int], SimOrder] = {}
        self._working: dict[tuple[int, int], SimOrder] = {}
        self._held: set[tuple[int, int]] = set()
        self._expiry: dict[tuple[int, int], datetime] = {}
        self._completed: list[tuple[int, int]] = []
        self._executions: list[SimExecution] = []
        self._quotes: dict[int, MarketTick] = {}
        self._last_perm_id = 1_000_000
        self._reject_reason: str | None = None
        self._partial_quantity: float | None = None
        self._hold_rest = False
        self._starved: set[tuple[int, int]] = set()  # partly filled orders whose rest never fills
        self._withheld = False  # no order fills while set (the book has no liquidity for us)
        self._filled_oca_groups: set[tuple[str, str]] = set()
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ faults
    def reject_next_order(self, reason: str = "simulated rejection") -> None:
        """Reject the next placed order with error 201 and this reason."""
        with self._lock:
            self._reject_reason = reason

    def partial_fill_next(self, quantity: float, hold_rest: bool = False) -> None:
        """Fill only quantity at the next fill; the rest of that order keeps working.

        With hold_rest the rest works but never fills (the liquidity is gone) until it is cancelled.
        """
        if quantity <= 0:
            raise ValueError(f"partial fill quantity must be positive, got {quantity}")
        with self._lock:
            self._partial_quantity = quantity
            self._hold_rest = hold_rest

    def withhold_fills(self, on: bool = True) -> None:
        """While on, orders are accepted and work but nothing fills (off: they fill again from the next trade)."""
        with self._lock:
            self._withheld = on

    # ------------------------------------------------------------------ queries
    def next_perm_id(self) -> int:
        """Return a new unique, non-zero permanent id."""
        with self._lock:
            self._last_perm_id += 1
            return self._last_perm_id

    def open_orders(self, client_id: int | None = None) -> list[SimOrder]:
        """Return working orders (held, untransmitted ones excluded), oldest first."""
        with self._lock:
            return [
                snapshot(order)
                for order in self._working.values()
                if client_id is None or order.client_id == client_id
            ]

    def completed_orders(self) -> list[SimOrder]:
        """Return finished orders (filled, cancelled, inactive) in the order they finished."""
        with self._lock:
            return [snapshot(self._orders[key]) for key in self._completed]

    def executions(
        self,
        client_id: int | None = None,
        account: str | None = None,
        since: datetime | None = None,
        symbol: str | None = None,
        side: str | None = None,
    ) -> list[SimExecution]:
        """Return executions matching every given filter (side accepts BUY/SELL or BOT/SLD)."""
        wanted_side = {"BUY": "BOT", "SELL": "SLD"}.get(side.upper(), side.upper()) if side else None
        with self._lock:
            return [
                execution
                for execution in self._executions
                if (client_id is None or execution.client_id == client_id)
                and (not account or execution.account == account)
                and (since is None or execution.time >= since)
                and (not symbol or execution.symbol == symbol)
                and (wanted_side is None or execution.side == wanted_side)
            ]

    def realized_on(self, account: str, con_id: int, now: datetime) -> float:
        """Return one contract's realized P&L of the trading day of `now` (IB's updatePortfolio realizedPNL)."""
        day = trading_day(now)
        with self._lock:
            return self.ledger.realized_on(account, day, con_id)

    def positions(self, account: str | None = None) -> list[tuple[str, int, float, float]]:
        """Return (account, con_id, position, avg_cost) for every traded contract, flat ones included."""
        with self._lock:
            return [(p.account, p.con_id, p.quantity, p.average_cost) for p in self.ledger.positions(account)]

    def account_values(self, account: str, now: datetime | None = None) -> dict[str, str]:
        """Return the account's values as IB sends them: strings, currency USD; RealizedPnL of the day of `now`."""
        day = None if now is None else trading_day(now)
        with self._lock:
            if account not in self.ledger.cash:
                raise KeyError(f"unknown account {account!r}")
            return {name: f"{value:.2f}" for name, value in self.ledger.values(account, day).items()}

    def active_con_ids(self) -> set[int]:
        """Return the conIds to feed to on_tick: those with working orders or an open position."""
        with self._lock:
            working = {order.con_id for order in self._working.values()}
            held = {position.con_id for position in self.ledger.positions() if position.quantity}
            return working | held

    def expire(self, now: datetime) -> list[BrokerEvent]:
        """Cancel DAY orders whose close has passed (every other call does this too; use it when idle)."""
        with self._lock:
            return self._expire(now)

    def next_expiry(self) -> datetime | None:
        """Return the earliest close at which a working DAY order expires (None without one)."""
        with self._lock:
            return min(self._expiry.values(), default=None)

    def with_ledger(self, action: Callable[[Ledger], T]) -> T:
        """Return action(ledger), run under the broker's lock (the ledger changes on the gateway's thread)."""
        with self._lock:
            return action(self.ledger)

    def mark(self, con_id: int, price: float) -> None:
        """Mark positions in con_id to price without matching orders."""
        with self._lock:
            self.ledger.mark(con_id, price)

    # ------------------------------------------------------------------ validation
    def _validate(self, order: SimOrder) -> tuple[int, str] | None:
        """Return (code, message) when IB would refuse the order, else None."""
        if self._reject_reason is not None:
            reason, self._reject_reason = self._reject_reason, None
            return 201, f"Order rejected - reason:{reason}"
        if not order.account.startswith("DU") and not self.allow_live_accounts:
            return 321, "Error validating request: " + LIVE_REFUSED.format(account=order.account)
        if order.account not in self.accounts:
            return 321, f"Error validating request: unknown account {order.account!r}"
        if order.action not in ("BUY", "SELL"):
            return 321, f"Error validating request: action {order.action!r} must be BUY or SELL"
        if not (math.isfinite(order.quantity) and order.quantity > 0) or order.quantity != int(order.quantity):
            return 321, f"Error validating request: order quantity {order.quantity} must be a positive whole number"
        if order.quantity > self.size_limit:
            return 383, SIZE_LIMIT_MESSAGE.format(order_id=order.order_id, limit=self.size_limit)
        if order.order_type not in ORDER_TYPES:
            return 321, f"Error validating request: order type {order.order_type!r} is not supported"
        if order.tif not in ("DAY", "GTC"):
            return 321, f"Error validating request: time in force {order.tif!r} is not supported (DAY, GTC)"
        needs_limit = order.order_type in ("LMT", "STP LMT")
        needs_stop = order.order_type in ("STP", "STP LMT")
        if (needs_limit and order.limit_price is None) or (needs_stop and order.stop_price is None):
            return 321, f"Error validating request: a {order.order_type} order needs its price"
        tick = INSTRUMENTS[order.symbol].tick_size if order.symbol in INSTRUMENTS else TICK_SIZE
        prices = [p for p, used in ((order.limit_price, needs_limit), (order.stop_price, needs_stop)) if used]
        if any(p is not None and not (math.isfinite(p) and p > 0) for p in prices):
            return 163, PRICE_CONSTRAINT_MESSAGE  # NQ and MNQ never trade at or below zero
        if any(p is None or not on_grid(p, tick) for p in prices):
            return 110, "The price does not conform to the minimum price variation for this contract."
        if order.oca_group and order.oca_type in (0, 1) and (order.account, order.oca_group) in self._filled_oca_groups:
            return 201, f"Order rejected - reason:OCA group {order.oca_group!r} has already been filled"
        if order.parent_id:
            parent = self._orders.get((order.client_id, order.parent_id))
            if parent is None:
                return 321, f"Error validating request: parent order {order.parent_id} is unknown"
            if parent.status in DONE_STATUSES - {"Filled"}:
                return 321, f"Error validating request: parent order {order.parent_id} is {parent.status}"
        return None

    # ------------------------------------------------------------------ orders
    def place_order(self, order: SimOrder, now: datetime, quote: MarketTick | None) -> list[BrokerEvent]:
        """Accept, hold, modify or reject an order; match it at once against quote when it can fill."""
        with self._lock:
            events = self._expire(now)
            if quote is not None:
                self._quotes[order.con_id] = quote
            order = replace(order, account=order.account or self.accounts[0])
            existing = self._orders.get(order.key)
            if existing is not None:
                return events + self._modify(existing, order, now)
            problem = self._validate(order)
            if problem is not None:
                return [*events, OrderRejected(order.order_id, order.client_id, *problem)]
            if order.parent_id and not order.oca_group:
                # IB puts a bracket's children in one OCA group of its own naming and reports it.
                parent = self._orders[(order.client_id, order.parent_id)]
                order.oca_group, order.oca_auto = str(parent.perm_id), True
            order.perm_id = order.perm_id or self.next_perm_id()
            order.status, order.filled, order.avg_fill_price, order.last_fill_price = "PendingSubmit", 0.0, 0.0, 0.0
            order.placed_at, order.completed_at, order.triggered = now, None, False
            self._orders[order.key] = order
            if order.tif == "DAY":
                self._expiry[order.key] = day_close_after(now)
            if not order.transmit:
                self._held.add(order.key)  # IB never sees it until a transmitting order releases it
                return events
            return events + self._release(order, now)

    def cancel_order(self, client_id: int, order_id: int, now: datetime) -> list[BrokerEvent]:
        """Cancel one order (and its children); unknown -> 10147, already done -> 10148."""
        with self._lock:
            events = self._expire(now)
            order = self._orders.get((client_id, order_id))
            if order is None:
                message = f"OrderId {order_id} that needs to be cancelled is not found."
                return [*events, OrderRejected(order_id, client_id, 10147, message)]
            if order.done:
                message = f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {order.status}."
                return [*events, OrderRejected(order_id, client_id, 10148, message)]
            return events + self._cancel(order, now, notify=True)

    def global_cancel(self, now: datetime) -> list[BrokerEvent]:
        """Cancel every order of every client that is not done (parents take their children along)."""
        with self._lock:
            events = self._expire(now)
            for order in sorted(self._orders.values(), key=lambda o: (o.parent_id != 0, o.key)):
                if not order.done:
                    events += self._cancel(order, now, notify=True)
            return events

    def on_tick(self, con_id: int, tick: MarketTick, now: datetime) -> list[BrokerEvent]:
        """Match the working orders of con_id against one market trade; mark positions to it."""
        with self._lock:
            events = self._expire(now)
            self._quotes[con_id] = tick
            self.ledger.mark(con_id, tick.price)
            candidates = [o for o in self._working.values()
                          if o.con_id == con_id and o.status == "Submitted" and o.key not in self._starved]
            for order in sorted(candidates, key=lambda o: o.perm_id):
                if order.status == "Submitted":
                    events += self._match_tick(order, tick, now)
            return events

    def _modify(self, existing: SimOrder, changed: SimOrder, now: datetime) -> list[BrokerEvent]:
        """Apply a placeOrder for an id that already exists (IB's order modification)."""
        if existing.done:
            code, text = (104, "Can't modify a filled order.") if existing.status == "Filled" else (
                103, f"Duplicate order id {existing.order_id}: the order is {existing.status}.")  # fmt: skip
            return [OrderRejected(existing.order_id, existing.client_id, code, text)]
        problem = self._validate(changed)
        if problem is None and changed.quantity < existing.filled:
            problem = (321, f"Error validating request: quantity {changed.quantity} is below the filled {existing.filled}")
        if problem is not None:
            return [OrderRejected(existing.order_id, existing.client_id, *problem)]
        if existing.oca_auto and changed.oca_group in ("", existing.oca_group):
            changed = replace(changed, oca_group=existing.oca_group)  # the broker-named bracket group stays
        else:
            existing.oca_auto = False
        for name in ("quantity", "order_type", "limit_price", "stop_price", "tif", "oca_group", "oca_type",
                     "order_ref", "outside_rth", "transmit"):  # fmt: skip
            setattr(existing, name, getattr(changed, name))
        if existing.tif == "DAY":
            self._expiry.setdefault(existing.key, day_close_after(existing.placed_at or now))
        else:
            self._expiry.pop(existing.key, None)
        if existing.key in self._held:
            return self._release(existing, now) if existing.transmit else []
        events: list[BrokerEvent] = [OrderUpdate(snapshot(existing))]
        if existing.status == "Submitted":
            events += self._match_entry(existing, now)
        return events
