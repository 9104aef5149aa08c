"""How the simulated broker fills: release of held brackets, matching rules, fills, OCA and cancels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slob_cli.sim.ledger import Ledger, trading_day
from slob_cli.sim.orders import (
    CANCEL_MESSAGE,
    DONE_STATUSES,
    WORKING_STATUSES,
    AccountUpdate,
    BrokerEvent,
    Fill,
    OrderRejected,
    OrderUpdate,
    PositionUpdate,
    SimExecution,
    SimOrder,
    snapshot,
)
from slob_cli.sim.ticks import MarketTick

_DEFAULT_COMMISSION = 2.25


class MatchingMixin:
    """The order life cycle behind SimBroker's public methods (callers hold the broker's lock)."""

    accounts: list[str]
    commission_per_contract: dict[str, float]
    ledger: Ledger
    _orders: dict[tuple[int, int], SimOrder]
    _working: dict[tuple[int, int], SimOrder]
    _held: set[tuple[int, int]]
    _expiry: dict[tuple[int, int], datetime]
    _completed: list[tuple[int, int]]
    _executions: list[SimExecution]
    _quotes: dict[int, MarketTick]
    _partial_quantity: float | None
    _hold_rest: bool
    _withheld: bool
    _starved: set[tuple[int, int]]
    _filled_oca_groups: set[tuple[str, str]]

    def account_values(self, account: str, now: datetime | None = None) -> dict[str, str]:
        raise NotImplementedError

    # ------------------------------------------------------------------ status
    def _set_status(self, order: SimOrder, status: str, now: datetime) -> None:
        order.status = status
        if status in WORKING_STATUSES:
            self._working[order.key] = order
        elif status in DONE_STATUSES:
            self._working.pop(order.key, None)
            self._held.discard(order.key)
            self._expiry.pop(order.key, None)
            order.completed_at = now
            self._completed.append(order.key)

    def _unfinished(self, exclude: SimOrder, wanted: Callable[[SimOrder], bool]) -> list[SimOrder]:
        """Return the orders other than exclude that can still fill and satisfy wanted."""
        return [other for other in self._orders.values() if other is not exclude and not other.done and wanted(other)]

    @staticmethod
    def _is_child(child: SimOrder, parent: SimOrder) -> bool:
        return child.client_id == parent.client_id and child.parent_id == parent.order_id

    @staticmethod
    def _same_bracket(one: SimOrder, other: SimOrder) -> bool:
        return one.client_id == other.client_id and one.parent_id == other.parent_id

    def _parent_filled(self, order: SimOrder) -> bool:
        parent = self._orders.get((order.client_id, order.parent_id))
        return parent is not None and parent.status == "Filled"

    def _release(self, trigger: SimOrder, now: datetime) -> list[BrokerEvent]:
        """Transmit an order with its held bracket: the parent and every held child of that parent."""
        root_id = trigger.parent_id or trigger.order_id
        group = [
            self._orders[key]
            for key in self._held
            if key[0] == trigger.client_id and key[1] != trigger.order_id
            and (key[1] == root_id or self._orders[key].parent_id == root_id)
        ]  # fmt: skip
        group.append(trigger)
        group.sort(key=lambda o: (o.parent_id != 0, o.order_id))
        events: list[BrokerEvent] = []
        for order in group:
            self._held.discard(order.key)
            waiting = bool(order.parent_id) and not self._parent_filled(order)
            self._set_status(order, "PreSubmitted" if waiting else "Submitted", now)
            events.append(OrderUpdate(snapshot(order)))
        for order in group:
            if order.status == "Submitted":
                events += self._match_entry(order, now)
        return events

    # ------------------------------------------------------------------ matching
    def _match_entry(self, order: SimOrder, now: datetime) -> list[BrokerEvent]:
        """Match an order that just became active against the standing quote (marketable orders fill)."""
        quote = self._quotes.get(order.con_id)
        if quote is None:
            return []  # no market yet: a MKT order waits for the first tick
        buying = order.action == "BUY"
        touch = quote.ask if buying else quote.bid
        if order.order_type == "MKT":
            return self._fill(order, touch, now)
        if order.order_type in ("STP", "STP LMT") and not order.triggered:
            stop = order.stop_price or 0.0
            if not (quote.price >= stop if buying else quote.price <= stop):
                return []
            order.triggered = True
            if order.order_type == "STP":
                return self._fill(order, touch, now)
        if order.order_type == "STP" and order.triggered:
            return self._fill(order, touch, now)
        limit = order.limit_price or 0.0
        if touch <= limit if buying else touch >= limit:
            return self._fill(order, touch, now)
        return []

    def _match_tick(self, order: SimOrder, tick: MarketTick, now: datetime) -> list[BrokerEvent]:
        """Match a resting order against one trade."""
        buying = order.action == "BUY"
        if order.order_type == "MKT":
            return self._fill(order, tick.ask if buying else tick.bid, now)
        if order.order_type in ("STP", "STP LMT") and not order.triggered:
            stop = order.stop_price or 0.0
            if not (tick.price >= stop if buying else tick.price <= stop):
                return []
            order.triggered = True
            limit = order.limit_price or 0.0
            if order.order_type == "STP" or (tick.price <= limit if buying else tick.price >= limit):
                return self._fill(order, tick.price, now)  # the stop fills at the trade that touched it
            return []
        if order.order_type == "STP":
            return self._fill(order, tick.price, now)
        limit = order.limit_price or 0.0
        if tick.price <= limit if buying else tick.price >= limit:
            return self._fill(order, limit, now)  # a resting limit fills at its price
        return []

    # ------------------------------------------------------------------ fills
    def _fill(self, order: SimOrder, price: float, now: datetime) -> list[BrokerEvent]:
        """Fill the order (or the faulted partial quantity) at price and apply the consequences."""
        if self._withheld:
            return []
        quantity = order.remaining
        if self._partial_quantity is not None:
            quantity, self._partial_quantity = min(quantity, self._partial_quantity), None
            if self._hold_rest:
                self._starved.add(order.key)
                self._hold_rest = False
        rate = self.commission_per_contract.get(order.symbol, _DEFAULT_COMMISSION)
        commission = round(rate * quantity, 2)
        position, realized = self.ledger.apply_fill(
            order.account, order.con_id, order.symbol, order.multiplier, order.signed_side * quantity, price,
            commission, day=trading_day(now),
        )  # fmt: skip
        previous = order.filled
        order.filled = previous + quantity
        order.avg_fill_price = (order.avg_fill_price * previous + price * quantity) / order.filled
        order.last_fill_price = price
        if order.remaining <= 0:
            self._set_status(order, "Filled", now)
        execution = SimExecution(
            # Like IB's, unique beyond one gateway's life: a restarted gateway (a new day) numbers perm ids
            # from the same start, so the fill's virtual second keeps its exec id from repeating an old one.
            exec_id=f"{order.perm_id:08x}.{int(now.timestamp()):08x}.{len(self._executions) + 1:02x}.01",
            order_id=order.order_id, client_id=order.client_id, perm_id=order.perm_id, account=order.account,
            con_id=order.con_id, symbol=order.symbol, local_symbol=order.local_symbol,
            side="BOT" if order.action == "BUY" else "SLD", shares=quantity, price=price, time=now,
            cum_qty=order.filled, avg_price=order.avg_fill_price, order_ref=order.order_ref,
            commission=commission, realized_pnl=None if realized is None else round(realized, 2),
        )  # fmt: skip
        self._executions.append(execution)
        events: list[BrokerEvent] = [
            Fill(snapshot(order), execution),
            PositionUpdate(order.account, order.con_id, position.quantity, position.average_cost),
            AccountUpdate(order.account, self.account_values(order.account, now)),
        ]
        events += self._after_fill(order, quantity, now)
        return events

    def _after_fill(self, order: SimOrder, quantity: float, now: datetime) -> list[BrokerEvent]:
        """Cancel or reduce OCA members and bracket siblings; activate children of a filled parent."""
        # Each other order gets one action per fill: an OCA member of an explicit group follows its ocaType,
        # and a bracket sibling that is not also such a member follows the bracket rule.
        events: list[BrokerEvent] = []
        handled: set[tuple[int, int]] = set()
        if order.oca_group and not order.oca_auto:  # a broker-named bracket group follows the bracket rule below
            if order.oca_type in (0, 1):
                self._filled_oca_groups.add((order.account, order.oca_group))
            members = self._unfinished(
                order, lambda other: other.oca_group == order.oca_group and other.account == order.account
            )
            for other in members:
                handled.add(other.key)
                # ocaType 0 (unset) behaves as IB's default, 1: cancel the others; 2 and 3 reduce them.
                events += self._cancel(other, now) if order.oca_type in (0, 1) else self._reduce(other, quantity, now)
        if order.parent_id:
            # IB treats the children of one bracket as one-cancels-the-other, reducing by each fill.
            siblings = self._unfinished(order, lambda other: self._same_bracket(other, order) and other.key not in handled)
            for other in siblings:
                events += self._reduce(other, quantity, now)
        if order.status == "Filled":
            children = self._unfinished(
                order, lambda child: self._is_child(child, order) and child.status == "PreSubmitted"
            )
            for child in children:
                self._set_status(child, "Submitted", now)
                events.append(OrderUpdate(snapshot(child)))
            for child in children:
                if child.status == "Submitted":
                    events += self._match_entry(child, now)
        return events

    def _reduce(self, order: SimOrder, quantity: float, now: datetime) -> list[BrokerEvent]:
        """Shrink an order by quantity; cancel it when nothing is left to fill."""
        if order.done:
            return []
        order.quantity = max(order.quantity - quantity, order.filled)
        if order.remaining <= 0:
            return self._cancel(order, now)
        return [OrderUpdate(snapshot(order))]

    # ------------------------------------------------------------------ cancels
    def _cancel(self, order: SimOrder, now: datetime, notify: bool = False) -> list[BrokerEvent]:
        """Cancel an order and its children; notify adds IB's error 202 before each status."""
        events: list[BrokerEvent] = []
        if order.done:
            return events
        if notify:
            events.append(OrderRejected(order.order_id, order.client_id, 202, CANCEL_MESSAGE))
        self._set_status(order, "Cancelled", now)
        events.append(OrderUpdate(snapshot(order)))
        for child in self._unfinished(order, lambda child: self._is_child(child, order)):
            events += self._cancel(child, now, notify)
        return events

    def _expire(self, now: datetime) -> list[BrokerEvent]:
        """Cancel DAY orders whose 16:00 New York close has passed."""
        due = [key for key, when in self._expiry.items() if when <= now]
        events: list[BrokerEvent] = []
        for key in sorted(due, key=lambda k: (self._orders[k].parent_id != 0, k)):
            events += self._cancel(self._orders[key], now)
        return events
