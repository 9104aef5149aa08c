"""Reconcile stored order intents with the broker's view, on start and after every reconnect.

Rules, in order of importance:
1. Never a second bracket for a setup: a bracket is (re)sent only when no order, completed order
   or execution of that setup reached the broker, its entry is still fresh and the symbol is flat.
2. Never a position without a stop: every contract the broker holds ends covered by a working stop
   (ours, or a foreign one we leave alone), or a flatten order is placed.
3. Never more exit quantity than position: leftover exits of a closed setup are cancelled and a
   partially filled bracket's children are resized to the filled quantity.
The result is a plan of actions; the executor writes new intents to the store before sending.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from slob_cli.core.broker_view import (
    TERMINAL,
    UNSENT,
    BrokerExecution,
    BrokerOrder,
    BrokerView,
    OrderStatus,
    StoredOrder,
    status_from_ib,
)
from slob_cli.core.models import Direction
from slob_cli.core.orders import EXIT_ROLES, OrderRole, parse_order_ref
from slob_cli.core.reconcile_actions import (
    Action,
    CancelOrder,
    ClosedOutside,
    MarkOrder,
    OrderView,
    ReconcilePlan,
    RecordExecution,
    Report,
    SendBracket,
)
from slob_cli.core.reconcile_protect import protect_residual, protect_setup, split_flattens


def reconcile(
    stored: Iterable[StoredOrder],
    broker: BrokerView,
    now: datetime,
    known_exec_ids: frozenset[str] = frozenset(),
    last_prices: Mapping[str, float] | None = None,
    entry_ttl: timedelta = timedelta(minutes=1),
    flatten_unexplained: bool = True,
) -> ReconcilePlan:
    """Return the actions that make the store and the broker agree and leave every position protected."""
    actions: list[Action] = []
    stored_by_ref = {order.order_ref: order for order in stored}
    broker_by_ref, foreign = _index_broker(broker, stored_by_ref)
    executions = _unique_executions(broker.executions)
    actions += [Report("FOREIGN_ORDER", f"order {o.order_id} ({o.order_ref or 'no ref'}) {o.action} {o.quantity} "
                       f"{o.symbol} {o.order_type} is not ours; left alone", o.order_ref, o.symbol) for o in foreign]
    actions += [RecordExecution(e) for e in executions if parse_order_ref(e.order_ref) and e.exec_id not in known_exec_ids]

    views = _build_views(stored_by_ref, broker_by_ref, executions)
    for view in views.values():
        if view.stored is None:
            actions.append(Report("UNKNOWN_OWN_ORDER", f"the broker has {view.ref} which the store does not", view.ref))
        elif _mark_needed(view):
            actions.append(MarkOrder(view.ref, view.status, view.filled, view.order_id, view.avg_price,
                                     perm_id=view.broker.perm_id if view.broker else 0))

    by_setup: dict[str, list[OrderView]] = defaultdict(list)
    for view in views.values():
        by_setup[view.parsed.setup_id].append(view)
    cancelled: set[str] = set()
    for setup_id, setup_views in sorted(by_setup.items()):
        actions += _settle_setup(setup_id, setup_views, broker, now, entry_ttl, cancelled)
    outside = [e for e in executions if parse_order_ref(e.order_ref) is None and e.exec_id not in known_exec_ids]
    holding: set[str] = set()
    actions += _protect(by_setup, views, broker, foreign, cancelled, last_prices or {}, flatten_unexplained, outside,
                        holding)
    holding |= {a.setup_id for a in actions if isinstance(a, SendBracket)}
    return ReconcilePlan(tuple(actions), frozenset(holding))


def _index_broker(broker: BrokerView, stored: Mapping[str, StoredOrder]) -> tuple[dict[str, BrokerOrder], list[BrokerOrder]]:
    ref_by_id = {s.broker_order_id: ref for ref, s in stored.items() if s.broker_order_id is not None}
    by_ref: dict[str, BrokerOrder] = {}
    foreign: list[BrokerOrder] = []
    # Completed first so that an open record of the same ref wins.
    for order, is_open in [(o, False) for o in broker.completed_orders] + [(o, True) for o in broker.open_orders]:
        ref = order.order_ref or ref_by_id.get(order.order_id)
        if ref is None or parse_order_ref(ref) is None:
            if is_open:
                foreign.append(order)
            continue
        by_ref[ref] = order
    return by_ref, foreign


def _unique_executions(executions: Iterable[BrokerExecution]) -> list[BrokerExecution]:
    seen: dict[str, BrokerExecution] = {}
    for execution in executions:
        seen.setdefault(execution.exec_id, execution)
    return list(seen.values())


def _build_views(
    stored: Mapping[str, StoredOrder], broker: Mapping[str, BrokerOrder], executions: list[BrokerExecution]
) -> dict[str, OrderView]:
    fills: dict[str, list[BrokerExecution]] = defaultdict(list)
    for execution in executions:
        if execution.order_ref is not None and parse_order_ref(execution.order_ref):
            fills[execution.order_ref].append(execution)
    views: dict[str, OrderView] = {}
    for ref in sorted(set(stored) | set(broker) | set(fills)):
        parsed = parse_order_ref(ref)
        if parsed is None:
            continue
        own, seen, ref_fills = stored.get(ref), broker.get(ref), fills.get(ref, [])
        exec_filled = sum(e.shares for e in ref_fills)
        quantity = seen.quantity if seen else (own.intent.quantity if own else exec_filled)
        filled = max(exec_filled, seen.filled if seen else 0, own.filled if own else 0)
        if seen is not None:
            status = status_from_ib(seen.status)
        elif own is not None and own.status in UNSENT and not ref_fills:
            status, filled = own.status, 0  # nothing of it reached the broker
        else:
            # Known to have been sent but absent from the open orders: it is not working any more.
            status = OrderStatus.CANCELLED
        if quantity and filled >= quantity:
            status = OrderStatus.FILLED
        avg = (sum(e.shares * e.price for e in ref_fills) / exec_filled) if exec_filled else (
            seen.avg_fill_price if seen else None)
        views[ref] = OrderView(ref, parsed, own, seen, status, filled, quantity, avg)
    return views


def _mark_needed(view: OrderView) -> bool:
    stored = view.stored
    assert stored is not None
    if stored.status in TERMINAL and view.broker is None and view.filled == stored.filled:
        return False  # finished long ago; the broker has forgotten it
    return (view.status, view.filled, view.order_id) != (stored.status, stored.filled, stored.broker_order_id)


def _setup_direction(views: list[OrderView]) -> Direction | None:
    for view in sorted(views, key=lambda v: v.parsed.role is not OrderRole.ENTRY):
        action = view.action
        if action is None or view.parsed.role is OrderRole.FLATTEN:
            continue
        opens_short = (action == "SELL") == (view.parsed.role is OrderRole.ENTRY)
        return Direction.SHORT if opens_short else Direction.LONG
    return None


def _entry(views: list[OrderView]) -> OrderView | None:
    return next((v for v in views if v.parsed.role is OrderRole.ENTRY), None)


def _settle_setup(
    setup_id: str, views: list[OrderView], broker: BrokerView, now: datetime, entry_ttl: timedelta, cancelled: set[str]
) -> list[Action]:
    """Resend a bracket nothing of which reached the broker, expire stale intents, cancel bad entries."""
    unsent = [v for v in views if v.stored is not None and v.broker is None and v.status in UNSENT]
    reached = [v for v in views if v not in unsent]
    entry = _entry(views)
    fresh = bool(entry and entry.stored and entry.stored.created_at and now - entry.stored.created_at < entry_ttl)
    actions: list[Action] = []
    if not reached:
        roles = {v.parsed.role for v in unsent if v.parsed.attempt == 1}
        complete = {OrderRole.ENTRY, OrderRole.STOP, OrderRole.TARGET} <= roles
        symbol = entry.intent.symbol if entry and entry.intent else None
        if complete and fresh and symbol is not None and broker.position(symbol) == 0:
            order = {OrderRole.ENTRY: 0, OrderRole.STOP: 1, OrderRole.TARGET: 2}
            first = sorted((v for v in unsent if v.parsed.attempt == 1 and v.parsed.role in order),
                           key=lambda v: order[v.parsed.role])
            return [SendBracket(setup_id, tuple(v.intent for v in first if v.intent))]
        if not unsent:
            return []
        why = ("it is not a complete bracket" if not complete else
               "its entry is older than one candle" if not fresh else f"{symbol} already holds a position")
        return [MarkOrder(v.ref, OrderStatus.EXPIRED, 0, None, None, f"not sent: {why}") for v in unsent]
    for view in unsent:
        actions.append(MarkOrder(view.ref, OrderStatus.EXPIRED, 0, None, None,
                                 "not sent: other orders of this setup already reached the broker"))
    if entry is not None and entry.live_remaining > 0:
        missing_child = any(v.parsed.role is not OrderRole.ENTRY and v.parsed.attempt == 1 for v in unsent)
        known_age = entry.stored is not None and entry.stored.created_at is not None
        reason = ("its stop or target never reached the broker" if missing_child else
                  None if fresh else "it is older than one candle" if known_age else "its age is unknown")
        if reason:
            actions.append(CancelOrder(entry.ref, entry.order_id, f"cancel unfilled entry: {reason}"))
            cancelled.add(entry.ref)
    return actions


def _exposure(views: list[OrderView]) -> int:
    entered = sum(v.filled for v in views if v.parsed.role is OrderRole.ENTRY)
    exited = sum(v.filled for v in views if v.parsed.role in EXIT_ROLES)
    return max(0, entered - exited)


def _claim(executions: list[BrokerExecution], symbol: str, side: str, quantity: int) -> list[BrokerExecution]:
    """Take foreign fills of a symbol and side, oldest first, up to quantity (they explain an outside close)."""
    taken: list[BrokerExecution] = []
    for execution in list(executions):
        if quantity <= 0:
            break
        if execution.symbol == symbol and execution.side == side and execution.shares <= quantity:
            taken.append(execution)
            executions.remove(execution)
            quantity -= execution.shares
    return taken


def _protect(
    by_setup: Mapping[str, list[OrderView]],
    views: Mapping[str, OrderView],
    broker: BrokerView,
    foreign: list[BrokerOrder],
    cancelled: set[str],
    last_prices: Mapping[str, float],
    flatten_unexplained: bool,
    outside: list[BrokerExecution] | None = None,
    holding: set[str] | None = None,
) -> list[Action]:
    """Attribute each symbol's broker position to setups and make every contract of it protected.

    Setups that hold part of the position, or whose entry still works at the broker, go into `holding`.
    """
    unclaimed = sorted(outside or [], key=lambda e: e.time)
    actions: list[Action] = []
    setups_by_symbol: dict[str, list[str]] = defaultdict(list)
    for setup_id, setup_views in by_setup.items():
        symbol = next((v.symbol for v in setup_views if v.symbol), None)
        if symbol is not None:
            setups_by_symbol[symbol].append(setup_id)
    symbols = sorted(set(setups_by_symbol) | {p.symbol for p in broker.positions})
    for symbol in symbols:
        position = broker.position(symbol)
        remaining = abs(position)
        explained = 0
        # A flatten beyond the position (or the wrong way) would open a new one.
        kept, excess = split_flattens(views.values(), symbol, position)
        actions += [CancelOrder(v.ref, v.order_id, "cancel flatten: more than the position to close") for v in excess]
        kept_refs = {v.ref for v in kept}
        pool = sum(v.live_remaining for v in kept)
        for setup_id in sorted(setups_by_symbol.get(symbol, [])):
            setup_views = by_setup[setup_id]
            direction = _setup_direction(setup_views)
            sign = -1 if direction is Direction.SHORT else 1
            expected = _exposure(setup_views)
            held = min(expected, remaining) if direction is not None and position * sign > 0 else 0
            remaining -= held
            explained += sign * held
            if held < expected:
                detail = f"{setup_id} filled {expected} but the broker holds {held} of it in {symbol}"
                actions.append(Report("POSITION_MISMATCH", detail, symbol=symbol))
                if direction is not None:
                    closing = "BOT" if direction is Direction.SHORT else "SLD"
                    taken = _claim(unclaimed, symbol, closing, expected - held)
                    actions.append(ClosedOutside(setup_id, symbol, expected - held, tuple(taken),
                                                 f"{detail}: closed outside slob"))
            entry = _entry(setup_views)
            entry_live = entry is not None and entry.live_remaining > 0 and entry.ref not in cancelled
            if holding is not None and (held or (entry is not None and entry.live_remaining > 0)):
                holding.add(setup_id)  # a cancelled entry frees its slot when the broker confirms the cancel
            flattening = min(held, sum(v.live_remaining for v in setup_views if v.ref in kept_refs))
            pool -= flattening
            actions += protect_setup(setup_id, setup_views, direction, symbol, held, flattening, entry_live,
                                     last_prices)
        residual = position - explained
        if residual:
            actions += protect_residual(symbol, residual, views, foreign, pool, flatten_unexplained)
    return actions
