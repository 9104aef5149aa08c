"""Reconciliation properties over random store/broker states: no second bracket, every position protected."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.core.broker_view import (
    LIVE,
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    BrokerView,
    OrderStatus,
    StoredOrder,
    status_from_ib,
)
from slob_cli.core.models import Direction
from slob_cli.core.orders import OrderRole, build_bracket, parse_order_ref
from slob_cli.core.reconcile import reconcile
from slob_cli.core.reconcile_actions import (
    CancelOrder,
    MarkOrder,
    PlaceOrders,
    ReconcilePlan,
    ResizeOrder,
    SendBracket,
)
from slob_cli.core.reconcile_protect import STOP_ORDER_TYPES

UTC = timezone.utc
NOW = datetime(2026, 1, 6, 15, 32, 20, tzinfo=UTC)
SETUPS = (("NQ-20260106-S1", Direction.SHORT, 25_572.0, 25_593.0, 25_501.0),
          ("NQ-20260106-L1", Direction.LONG, 25_500.0, 25_479.0, 25_571.0))
OPEN_STATUSES = ("PendingSubmit", "PreSubmitted", "Submitted", "PendingCancel")
DONE_STATUSES = ("Filled", "Cancelled", "Inactive")
STORED_STATUSES = (None, OrderStatus.INTENT, OrderStatus.SENT, OrderStatus.WORKING, OrderStatus.FILLED,
                   OrderStatus.CANCELLED)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[StoredOrder], BrokerView, dict[str, float]]:
    """Draw any mix of stored rows, open/completed orders, executions, foreign orders and positions."""
    stored: list[StoredOrder] = []
    open_orders: list[BrokerOrder] = []
    completed: list[BrokerOrder] = []
    executions: list[BrokerExecution] = []
    order_id = 10
    for setup_id, direction, entry, stop, target in SETUPS:
        if not draw(st.booleans()):
            continue
        quantity = draw(st.integers(1, 3))
        created = NOW - timedelta(seconds=draw(st.sampled_from([5, 30, 300])))
        for intent in build_bracket(setup_id, direction, "NQ", quantity, entry, stop, target).orders:
            order_id += 1
            status = draw(st.sampled_from(STORED_STATUSES))
            if status is not None:
                stored.append(StoredOrder(intent, status, draw(st.integers(0, quantity)),
                                          draw(st.sampled_from([None, order_id])), created))
            where = draw(st.sampled_from(["absent", "open", "completed"]))
            filled = draw(st.integers(0, quantity))
            if where != "absent":
                ib_status = draw(st.sampled_from(OPEN_STATUSES if where == "open" else DONE_STATUSES))
                filled = quantity if ib_status == "Filled" else filled
                record = BrokerOrder(intent.order_ref, order_id, "NQ", intent.action, intent.order_type, quantity,
                                     ib_status, filled, stop_price=intent.stop_price, limit_price=intent.limit_price)
                (open_orders if where == "open" else completed).append(record)
            for n in range(draw(st.integers(0, filled))):
                side = "SLD" if intent.action == "SELL" else "BOT"
                executions.append(BrokerExecution(f"{order_id}.{n}", intent.order_ref, order_id, "NQ", side, 1,
                                                  entry, NOW))
    for n in range(draw(st.integers(0, 2))):
        action = draw(st.sampled_from(["BUY", "SELL"]))
        kind = draw(st.sampled_from(["STP", "LMT"]))
        open_orders.append(BrokerOrder(draw(st.sampled_from(["manual", None, "SLOB_old_ENTRY"])), 900 + n, "NQ",
                                       action, kind, draw(st.integers(1, 2)), "Submitted"))
    positions = [BrokerPosition(symbol, qty, 0.0) for symbol in ("NQ", "MNQ")
                 if (qty := draw(st.integers(-4, 4))) != 0]
    prices = draw(st.sampled_from([{}, {"NQ": 25_450.0}, {"NQ": 25_540.0}, {"NQ": 25_650.0}]))
    return stored, BrokerView(tuple(open_orders), tuple(completed), tuple(executions), tuple(positions)), prices


@dataclass
class LiveOrder:
    symbol: str
    action: str
    order_type: str
    quantity: int
    filled: int

    @property
    def remaining(self) -> int:
        return max(0, self.quantity - self.filled)


def apply_plan(broker: BrokerView, plan: ReconcilePlan) -> dict[str, LiveOrder]:
    """Return the orders live at the broker once the plan's cancels, resizes and placements are done."""
    live: dict[str, LiveOrder] = {}
    for order in broker.open_orders:
        if status_from_ib(order.status) in LIVE:
            key = order.order_ref if parse_order_ref(order.order_ref) else f"foreign:{order.order_id}"
            live[key] = LiveOrder(order.symbol, order.action, order.order_type, order.quantity, order.filled)
    for action in plan.actions:
        if isinstance(action, CancelOrder):
            live.pop(action.order_ref, None)
        elif isinstance(action, ResizeOrder) and action.order_ref in live:
            live[action.order_ref].quantity = action.quantity
        elif isinstance(action, (PlaceOrders, SendBracket)):
            for intent in action.orders:
                live[intent.order_ref] = LiveOrder(intent.symbol, intent.action, intent.order_type, intent.quantity, 0)
    return live


def refs_known_to_broker(broker: BrokerView) -> set[str]:
    refs = [o.order_ref for o in broker.open_orders + broker.completed_orders] + [e.order_ref for e in broker.executions]
    return {parsed.setup_id for ref in refs if (parsed := parse_order_ref(ref))}


@settings(max_examples=600, deadline=None)
@given(world=worlds())
def test_no_second_bracket_and_every_position_protected(world) -> None:
    stored, broker, prices = world
    plan = reconcile(stored, broker, NOW, last_prices=prices)
    known = refs_known_to_broker(broker)
    for send in plan.of_type(SendBracket):
        assert send.setup_id not in known, f"second bracket for {send.setup_id}"
    for place in plan.of_type(PlaceOrders):
        assert all(intent.role is not OrderRole.ENTRY for intent in place.orders)
    for change in plan.of_type(CancelOrder) + plan.of_type(ResizeOrder):
        assert parse_order_ref(change.order_ref), "a foreign order was touched"
    live = apply_plan(broker, plan)
    for symbol in {p.symbol for p in broker.positions}:
        position = broker.position(symbol)
        closing = "BUY" if position < 0 else "SELL"
        cover = sum(o.remaining for ref, o in live.items() if o.symbol == symbol and o.action == closing and (
            o.order_type in STOP_ORDER_TYPES or ref.split(":")[-1].startswith("flatten")))
        assert cover >= abs(position), f"{symbol} {position:+d} covered by only {cover}"


@settings(max_examples=300, deadline=None)
@given(world=worlds())
def test_reconciling_twice_sends_nothing_new_the_second_time(world) -> None:
    """Once the first plan's bracket is at the broker, a second pass never sends that setup again."""
    stored, broker, prices = world
    first = reconcile(stored, broker, NOW, last_prices=prices)
    sent = [intent for send in first.of_type(SendBracket) for intent in send.orders]
    after = BrokerView(broker.open_orders + tuple(
        BrokerOrder(i.order_ref, 500 + n, i.symbol, i.action, i.order_type, i.quantity, "PreSubmitted")
        for n, i in enumerate(sent)), broker.completed_orders, broker.executions, broker.positions)
    second = reconcile(stored, after, NOW, last_prices=prices)
    assert not second.of_type(SendBracket)


def apply_to_world(stored: list[StoredOrder], broker: BrokerView, plan: ReconcilePlan) -> tuple[list[StoredOrder], BrokerView]:
    """Return the store and broker as they would be once the executor carried the plan out (nothing fills)."""
    rows = {s.order_ref: s for s in stored}
    open_orders = {(o.order_ref if parse_order_ref(o.order_ref) else f"foreign:{o.order_id}"): o
                   for o in broker.open_orders}
    completed = list(broker.completed_orders)
    next_id = 1000
    for action in plan.actions:
        if isinstance(action, MarkOrder):
            rows[action.order_ref] = replace(rows[action.order_ref], status=action.status, filled=action.filled,
                                             broker_order_id=action.broker_order_id)
        elif isinstance(action, CancelOrder) and action.order_ref in open_orders:
            completed.append(replace(open_orders.pop(action.order_ref), status="Cancelled"))
        elif isinstance(action, ResizeOrder) and action.order_ref in open_orders:
            open_orders[action.order_ref] = replace(open_orders[action.order_ref], quantity=action.quantity)
        elif isinstance(action, (PlaceOrders, SendBracket)):
            for intent in action.orders:
                next_id += 1
                rows[intent.order_ref] = StoredOrder(intent, OrderStatus.WORKING, 0, next_id,
                                                     rows[intent.order_ref].created_at if intent.order_ref in rows
                                                     else NOW)
                open_orders[intent.order_ref] = BrokerOrder(
                    intent.order_ref, next_id, intent.symbol, intent.action, intent.order_type, intent.quantity,
                    "PreSubmitted", stop_price=intent.stop_price, limit_price=intent.limit_price)
    view = BrokerView(tuple(open_orders.values()), tuple(completed), broker.executions, broker.positions)
    return list(rows.values()), view


@settings(max_examples=400, deadline=None)
@given(world=worlds())
def test_plan_converges_a_second_pass_changes_nothing(world) -> None:
    """After the first plan is carried out, reconciling again sends, places, cancels and resizes nothing."""
    stored, broker, prices = world
    first = reconcile(stored, broker, NOW, last_prices=prices)
    stored_after, broker_after = apply_to_world(stored, broker, first)
    exec_ids = frozenset(e.exec_id for e in broker.executions)
    second = reconcile(stored_after, broker_after, NOW, known_exec_ids=exec_ids, last_prices=prices)
    assert not second.changes_orders, second.actions
    # The only news is the outcome of the first pass's own cancels.
    cancelled = {c.order_ref for c in first.of_type(CancelOrder)}
    assert all(m.order_ref in cancelled and m.status is OrderStatus.CANCELLED for m in second.of_type(MarkOrder))
