"""Order executor: one bracket per approved setup, intents stored before sending, fills into trades.

Runs on the engine's loop; every method is quick (SQLite writes of a few rows). The broker port
is duck-typed (`place`, `cancel`, `resize`, `snapshot`, `equity`, listeners) so the same executor
drives IB Gateway, the simulated gateway, or a test double.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from slob_cli.adapters.ib.codes import ORDER_ERROR_CODES, IBCode
from slob_cli.adapters.store import Store, from_iso, to_iso
from slob_cli.adapters.store.orders import OrderRepository, fill_line, trade_columns
from slob_cli.core.broker_view import (
    ACTIVE,
    LIVE,
    BrokerExecution,
    BrokerOrder,
    BrokerView,
    OrderStatus,
    status_from_ib,
)
from slob_cli.core.models import INSTRUMENTS, Direction
from slob_cli.core.orders import EXIT_ROLES, OrderIntent, OrderRole, build_bracket, flatten_intent, parse_order_ref
from slob_cli.core.pnl import TradeResult, TradeStatus, money_text, points_text, price_text, trade_result
from slob_cli.core.reconcile import reconcile
from slob_cli.core.reconcile_actions import (
    CancelOrder,
    ClosedOutside,
    MarkOrder,
    PlaceOrders,
    ReconcilePlan,
    RecordExecution,
    ResizeOrder,
    SendBracket,
    describe,
)
from slob_cli.core.risk import (
    Approved,
    RiskManager,
    RiskState,
    Skipped,
    TradeRequest,
    rebuild_open_positions,
    record_close,
    record_entry_cancelled,
    update_equity,
)
from slob_cli.runtime import failpoints
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import Clock
from slob_cli.runtime.events import EventType
from slob_cli.runtime.flatten_plans import FlattenPlan, load_plans, save_plans

log = logging.getLogger(__name__)
RISK_STATE_KEY = "risk_state"


class SentCancel(NamedTuple):
    """A cancel slob sent: its number in this run (was it sent before a broker view was asked for?), what and why."""

    number: int
    order_ref: str
    why: str


class OrderPort(Protocol):
    """What the executor needs from a broker connection."""

    def place(self, intents: list[OrderIntent]) -> dict[str, int]: ...
    def cancel(self, order_id: int) -> bool: ...
    def resize(self, order_id: int, quantity: int) -> bool: ...
    async def snapshot(self) -> BrokerView: ...
    def equity(self) -> float | None: ...


@dataclass
class ExecutorOptions:
    """Knobs of the executor (defaults per STRATEGY.md §6 [REC])."""

    monitor_only: bool = False
    entry_type: str = "MKT"
    entry_timeout: timedelta = timedelta(minutes=1)
    flatten_at_session_end: bool = True
    # A flatten that ends unfilled is tried again this many times (SLOB_FLATTEN_RETRIES), a session-end one
    # this long apart (SLOB_FLATTEN_RETRY_DELAY); any flatten still unfilled this long after it was sent has failed.
    flatten_retries: int = 3
    flatten_retry_delay: timedelta = timedelta(seconds=30)
    default_equity: float = 100_000.0
    kill_switch_path: Path | None = None


class OrderExecutor:
    """Turn SETUP_COMPLETE into exactly one protected bracket and keep the store in step with the broker."""

    def __init__(self, store: Store, port: OrderPort, risk: RiskManager, clock: Clock,
                 bus: EventBus | None = None, options: ExecutorOptions | None = None, run_id: int | None = None,
                 orders_allowed: Callable[[], bool] = lambda: True,
                 request_reconcile: Callable[[], None] = lambda: None,
                 market_open: Callable[[datetime], bool] = lambda now: True,
                 last_prices: Callable[[], Mapping[str, float]] = dict) -> None:
        self.store = store
        self.repo = OrderRepository(store)
        self.port = port
        self.risk = risk
        self.clock = clock
        self.bus = bus
        self.options = options or ExecutorOptions()
        self.run_id = run_id
        self.orders_allowed = orders_allowed
        self.request_reconcile = request_reconcile
        self.market_open = market_open  # may a flatten still be tried at this instant (CME trading)
        self.last_prices = last_prices  # the newest trade price by symbol (is a stop already through?)
        self.counts = {"brackets": 0, "skipped": 0, "fills": 0, "cancelled": 0, "rejected": 0, "flattened": 0}
        self._flattening: set[str] = set()
        self._cancels_sent: dict[int, SentCancel] = {}  # broker ids slob itself asked to cancel
        self._refs: dict[int, str] = {}  # broker id -> orderRef of the orders seen in this run
        self._cancel_count = 0
        self._flatten_plans: dict[str, FlattenPlan] = load_plans(store)  # setup id -> its flatten plan, stored
        self._flatten_deadlines: dict[str, datetime] = {}  # flatten orderRef -> when it must have filled
        self._unfilled: set[str] = set()  # flatten orderRefs slob cancelled for not filling in time
        stored = store.get_state(RISK_STATE_KEY)
        self.state = RiskState.from_dict(stored) if stored else RiskState.initial(self.options.default_equity)

    # ------------------------------------------------------------------ wiring
    def attach(self, port: Any) -> None:
        """Subscribe to a port's status, execution, commission and error callbacks."""
        port.on_status(self.on_status)
        port.on_execution(self.on_execution)
        port.on_commission(lambda report: self.on_commission(report.exec_id, report.commission, report.realized_pnl))
        port.on_error(self.on_order_error)

    def _emit(self, kind: EventType, payload: dict[str, Any]) -> None:
        if self.bus is not None:
            self.bus.emit(kind, payload, self.clock.now())

    def _log(self, kind: str, payload: dict[str, Any], symbol: str | None = None) -> None:
        self.store.log_event(kind, self.clock.now(), payload, run_id=self.run_id, symbol=symbol)

    def _save_state(self) -> None:
        self.store.put_state(RISK_STATE_KEY, self.state.to_dict(), self.clock.now())

    def kill_switch_active(self) -> bool:
        """Return True when the kill-switch file exists."""
        path = self.options.kill_switch_path
        return bool(path is not None and path.exists())

    # ------------------------------------------------------------------ start / reconnect
    async def reconcile(self) -> ReconcilePlan | None:
        """Bring the store and the broker into agreement (on start and after every reconnect)."""
        equity = self.port.equity()
        if equity:
            self.state = update_equity(self.state, equity, self.risk.config)
            self._save_state()
        asked = self._cancel_count  # cancels sent later may not show in the view yet
        view = await self.port.snapshot()
        plan = reconcile(self.repo.stored_orders(), view, self.clock.now(), self.repo.known_exec_ids(),
                         last_prices=self.last_prices(), entry_ttl=self.options.entry_timeout)
        self.apply(plan, cancels_seen=asked)
        self._rebuild_open_positions(plan)
        done: dict[str, int] = {}
        for action in plan.actions:
            done[type(action).__name__] = done.get(type(action).__name__, 0) + 1
        self._log("RECONCILED", {"actions": done})
        return plan

    def _rebuild_open_positions(self, plan: ReconcilePlan) -> None:
        """Count open positions from the broker's view, not from the events slob happened to see.

        A crash between the risk decision and the stored intent, an entry that expired or was
        cancelled while slob was down, a flatten that never filled: none of them may hold a slot
        for the rest of the day.
        """
        # A status that arrived while the snapshot was taken (an entry's cancel confirmed) already freed
        # its slot: only setups with an open trade or an entry still active keep one.
        holding = sorted(setup_id for setup_id in plan.holding if self._holds_slot(setup_id))
        held = len(holding)
        if self.state.open_positions == held:
            return
        log.warning("risk state: %d open position(s) counted, the broker holds %d; rebuilt from the broker",
                    self.state.open_positions, held)
        self._log("RISK_STATE_REBUILT", {"open_positions": held, "counted": self.state.open_positions,
                                         "setups": holding})
        self.state = rebuild_open_positions(self.state, held)
        self._save_state()

    def _holds_slot(self, setup_id: str) -> bool:
        trade = self.repo.trade(setup_id)
        if trade is not None and trade["status"] == TradeStatus.OPEN.value:
            return True
        return any(OrderRole(row["role"]) is OrderRole.ENTRY and OrderStatus(row["status"]) in ACTIVE
                   for row in self.repo.orders_for_setup(setup_id))

    def apply(self, plan: ReconcilePlan, cancels_seen: int | None = None) -> None:
        """Carry out a reconciliation plan: store first, then the broker.

        `cancels_seen`: how many cancels slob had sent when the broker's view was asked for (None: all).
        """
        now = self.clock.now()
        touched: set[str] = set()
        missed: set[str] = set()  # setups with fills slob did not see live
        flattens = {a.setup_id for a in plan.of_type(PlaceOrders) if any(o.role is OrderRole.FLATTEN for o in a.orders)}
        for action in plan.actions:
            execution = action.execution if isinstance(action, RecordExecution) else None
            parsed = parse_order_ref(execution.order_ref if execution else getattr(action, "order_ref", None))
            if parsed is not None:
                touched.add(parsed.setup_id)
                if execution is not None:
                    missed.add(parsed.setup_id)
            if isinstance(action, ClosedOutside):
                touched.add(action.setup_id)
                missed.add(action.setup_id)
                self._adopt_outside_close(action, now)
            if isinstance(action, MarkOrder):
                self.repo.update_status(action.order_ref, action.status, action.filled, action.avg_fill_price, now,
                                        action.broker_order_id, action.perm_id)
            elif isinstance(action, RecordExecution):
                self.on_execution(action.execution)
            elif isinstance(action, SendBracket):
                self._send(list(action.orders))
            elif isinstance(action, PlaceOrders):
                if action.setup_id in flattens and not self._reconcile_flatten(action):
                    continue
                self.repo.insert_intents(list(action.orders), now, self.run_id)
                self._send(list(action.orders))
            elif isinstance(action, CancelOrder):
                if action.order_id is not None:
                    self._cancel(action.order_id, action.order_ref, action.reason)
            elif isinstance(action, ResizeOrder):
                if action.order_id is not None:
                    self.port.resize(action.order_id, action.quantity)
            if not isinstance(action, MarkOrder | RecordExecution):
                if not isinstance(action, ClosedOutside):  # _adopt_outside_close says it, with the orderRef
                    log.warning("reconcile: %s", describe(action))
                self._log("RECONCILE", {"action": type(action).__name__, "detail": repr(action)})
        # Fills recorded before their order's final status (or while slob was down) may leave a trade
        # looking open: settle every trade the plan touched once the whole plan is stored. A trade that
        # closed while slob was down is booked now (the commission known so far): commission reports
        # for old executions may never come, and an unbooked trade would hold its risk slot all day.
        for setup_id in sorted(touched):
            self._update_trade(setup_id, settle=setup_id in missed)
        self._track_flattens(flattens)
        # A session-end flatten between its exit cancels and its market order: the plan may have re-protected
        # the position (it saw the cancelled stop) or stored the cancels' confirmations itself (no status
        # follows). The session end's intent wins: cancel what works now, then close at market. A cancel sent
        # after the view was asked for is on its way (not sent twice); one sent before it was lost.
        in_flight = frozenset(order_id for order_id, sent in self._cancels_sent.items()
                              if cancels_seen is None or sent.number > cancels_seen)
        for setup_id in sorted(self._flattening):
            self._start_flatten(setup_id, in_flight)

    def _adopt_outside_close(self, action: ClosedOutside, now: datetime) -> None:
        """Store a close done outside slob as a filled flatten of the setup, with the broker's fills."""
        from dataclasses import replace

        rows = self.repo.orders_for_setup(action.setup_id)
        trade = self.repo.trade(action.setup_id)
        short = (trade["direction"] if trade else None) == Direction.SHORT.value or any(
            r["role"] == "entry" and r["action"] == "SELL" for r in rows)
        attempt = 1 + sum(1 for r in rows if r["role"] == "flatten")
        intent = flatten_intent(action.setup_id, action.symbol, -action.quantity if short else action.quantity, attempt)
        self.repo.insert_intents([intent], now, self.run_id)
        fills = [replace(e, order_ref=intent.order_ref) for e in action.executions]
        covered = sum(e.shares for e in fills)
        if covered < action.quantity:
            # The broker no longer reports the fills: the exit price is unknown; the entry price stands in.
            price = trade["entry_price"] if trade and trade["entry_price"] is not None else 0.0
            fills.append(BrokerExecution(f"outside:{intent.order_ref}", intent.order_ref, 0, action.symbol,
                                         "BOT" if short else "SLD", action.quantity - covered, price, now))
        for fill in fills:
            self.repo.insert_fill(fill)
        average = sum(f.shares * f.price for f in fills) / action.quantity
        self.repo.update_status(intent.order_ref, OrderStatus.FILLED, action.quantity, average, now)
        log.warning("reconcile: %s; recorded as %s", action.detail, intent.order_ref)
        self._log("CLOSED_OUTSIDE", {"setup_id": action.setup_id, "quantity": action.quantity,
                                     "exec_ids": [e.exec_id for e in action.executions],
                                     "price_known": covered >= action.quantity})
        self._emit(EventType.ALERT, {"level": "warning", "message": f"{action.detail}; recorded as {intent.order_ref}"})

    # ------------------------------------------------------------------ setups
    def on_setup_complete(self, setup: Any) -> None:
        """Decide and, when approved, send one bracket for a completed setup (never twice)."""
        failpoints.check()
        request = TradeRequest.from_setup(setup)
        if self.repo.setup_has_orders(request.setup_id):
            log.info("setup %s already has orders; not sending again", request.setup_id)
            return
        if self.options.monitor_only:
            return self._skip(request, "MONITOR_ONLY", "monitor-only run: no orders are sent")
        if not self.orders_allowed():
            return self._skip(request, "BROKER_NOT_READY", "the gateway is not ready for orders (disconnected, 1100 or safe mode)")
        decision, self.state = self.risk.take(request, self.state, self.kill_switch_active())
        self._save_state()
        if isinstance(decision, Skipped):
            return self._skip(request, decision.reason.value, decision.detail)
        assert isinstance(decision, Approved)
        try:
            bracket = build_bracket(request.setup_id, request.direction, decision.symbol, decision.contracts,
                                    request.entry_estimate, request.stop, request.target, self.options.entry_type)
        except ValueError as exc:
            self.state = record_entry_cancelled(self.state)
            self._save_state()
            return self._skip(request, "INVALID_BRACKET", str(exc))
        self.repo.insert_intents(list(bracket.orders), self.clock.now(), self.run_id)
        failpoints.hit("after_intent")
        self._log("BRACKET_INTENT", {"setup_id": request.setup_id, "contracts": decision.contracts,
                                     "stop": bracket.stop.stop_price, "target": bracket.target.limit_price},
                  decision.symbol)
        if self._send(list(bracket.orders)):
            self.counts["brackets"] += 1

    def _skip(self, request: TradeRequest, reason: str, detail: str) -> None:
        self.counts["skipped"] += 1
        payload = {"setup_id": request.setup_id, "reason": reason, "detail": detail}
        log.info("SETUP_SKIPPED %s: %s (%s)", request.setup_id, reason, detail)
        self._log("SETUP_SKIPPED", payload, request.symbol)
        self._emit(EventType.SETUP_EVENT, {"type": "SETUP_SKIPPED", **payload})

    def _send(self, intents: list[OrderIntent]) -> bool:
        try:
            ids = self.port.place(intents)
        except Exception as exc:  # noqa: BLE001 - the intent stays stored; reconcile decides on reconnect
            log.error("sending %s failed: %s; the intent stays stored for reconciliation",
                      ", ".join(i.order_ref for i in intents), exc)
            self._log("ORDER_SEND_FAILED", {"refs": [i.order_ref for i in intents], "error": str(exc)})
            return False
        failpoints.hit("after_send")
        self.repo.mark_sent(ids, self.clock.now())
        self._refs.update({order_id: ref for ref, order_id in ids.items()})
        for intent in intents:
            payload = {"order_ref": intent.order_ref, "order_id": ids.get(intent.order_ref), "action": intent.action,
                       "type": intent.order_type, "quantity": intent.quantity, "limit": intent.limit_price,
                       "stop": intent.stop_price}
            # Stored too: the paper report counts placements per orderRef to prove none was sent twice.
            self._log("ORDER_PLACED", payload, intent.symbol)
            self._emit(EventType.ORDER_PLACED, payload)
        return True

    # ------------------------------------------------------------------ broker callbacks
    def on_status(self, order: BrokerOrder) -> None:
        """Follow an order's status; free the risk slot of an entry cancelled unfilled."""
        failpoints.check()
        parsed = parse_order_ref(order.order_ref)
        if parsed is None:
            return
        self._refs[order.order_id] = order.order_ref or ""
        status = status_from_ib(order.status)
        before = self.repo.order(order.order_ref or "")
        changed = self.repo.update_status(order.order_ref or "", status, order.filled, order.avg_fill_price,
                                          self.clock.now(), order.order_id, order.perm_id)
        if not changed or before is None:
            return
        if status is OrderStatus.CANCELLED:
            self.counts["cancelled"] += 1
            self._emit(EventType.ORDER_CANCELLED, {"order_ref": order.order_ref, "filled": order.filled})
            if parsed.role in (OrderRole.STOP, OrderRole.TARGET):
                self._exit_cancelled_outside(parsed, order)
            if parsed.role is OrderRole.ENTRY and order.filled == 0:
                self.state = record_entry_cancelled(self.state)
                self._save_state()
        elif status is OrderStatus.INACTIVE:
            self.counts["rejected"] += 1
            self._emit(EventType.ORDER_REJECTED, {"order_ref": order.order_ref})
            if parsed.role is OrderRole.ENTRY and order.filled == 0:
                self.state = record_entry_cancelled(self.state)
                self._save_state()
        if parsed.role is OrderRole.ENTRY and status in (OrderStatus.CANCELLED, OrderStatus.INACTIVE) and order.filled:
            # A partly filled entry is done: its stop and target must now match the filled quantity
            # (or, if the broker took them down with the parent, the position needs new ones).
            log.warning("entry %s ended %s after %d filled: reconciling its exits", order.order_ref,
                        status.value, order.filled)
            self.request_reconcile()
        if (parsed.role is OrderRole.FLATTEN and status in (OrderStatus.CANCELLED, OrderStatus.INACTIVE)
                and order.filled < order.quantity):
            unfilled = order.order_ref in self._unfilled or self._logged_for("FLATTEN_UNFILLED", order.order_ref, before)
            if unfilled or not self._cancel_requested(order, before):
                self._flatten_failed(parsed.setup_id, order, status, unfilled)
        if parsed.setup_id in self._flattening and parsed.role in (OrderRole.STOP, OrderRole.TARGET):
            self._continue_flatten(parsed.setup_id)
        plan = self._flatten_plans.get(parsed.setup_id)
        if parsed.role is OrderRole.FLATTEN and status is OrderStatus.FILLED and plan is not None and plan.reconcile:
            del self._flatten_plans[parsed.setup_id]  # closed (an orphan has no trade to tell it)
            self._save_flattens()

    def _flatten_failed(self, setup_id: str, order: BrokerOrder, status: OrderStatus, unfilled: bool) -> None:
        """A flatten ended short of closing (rejected, expired, unfilled, cancelled outside): re-protect, retry.

        A flatten reconciliation placed is retried by the reconciliation this asks for (no delay: no stop
        can cover the position meanwhile); a session-end one after the delay, once its new stop works.
        """
        self._flattening.discard(setup_id)
        how = f"was not filled within {self.options.flatten_retry_delay.total_seconds():g} s" if unfilled else (
            f"ended {status.value}")
        detail = (f"{order.order_ref} {how} with {order.filled} of {order.quantity} filled: "
                  "the position stays open; reconciling to protect it")
        now = self.clock.now()
        plan = self._flatten_plans.get(setup_id)
        if plan is not None and plan.reconcile:
            plan = None  # the reconciliation asked for below flattens again, within SLOB_FLATTEN_RETRIES
        retry = plan is not None and plan.retries < self.options.flatten_retries and self.market_open(now)
        if plan is not None and retry:
            plan.due = now + self.options.flatten_retry_delay
            self._save_flattens()
            detail += f"; flattening again at {plan.due:%H:%M:%S} UTC"
        log.error("%s", detail)
        self._log("FLATTEN_FAILED", {"order_ref": order.order_ref, "setup_id": setup_id, "status": status.value,
                                     "filled": order.filled, "quantity": order.quantity, "unfilled": unfilled,
                                     "retry_at": to_iso(plan.due) if plan is not None and retry else None})
        self._emit(EventType.ALERT, {"level": "error", "message": detail})
        self.request_reconcile()
        if plan is not None and not retry:
            attempts = plan.retries + 1
            self._flatten_given_up(setup_id, plan, "the market has closed" if plan.retries < self.options.flatten_retries
                                   else f"{attempts} attempt{'s' if attempts > 1 else ''} failed")

    def _flatten_given_up(self, setup_id: str, plan: FlattenPlan, why: str, working: str | None = None) -> None:
        """Stop flattening a setup tonight: one error alert; the reconcile keeps the position protected."""
        if plan.reconcile:
            detail = self._reconcile_flatten_given_up(setup_id, plan, why, working)
        else:
            detail = self._session_end_flatten_given_up(setup_id, why)
        self._save_flattens()
        log.error("%s", detail)
        self._log("FLATTEN_GIVEN_UP", {"setup_id": setup_id, "attempts": plan.retries + 1, "reason": why})
        self._emit(EventType.ALERT, {"level": "error", "message": detail})

    @staticmethod
    def _reconcile_flatten_given_up(setup_id: str, plan: FlattenPlan, why: str, working: str | None) -> str:
        """Mark a reconciliation's flatten plan given up; return the alert.

        Such a flatten is the only cover its position has: its last one (`working`) is left working, and
        no other is sent that day (the operator closes the position).
        """
        plan.given_up = True
        left = (f"its last market order {working} is left working (cancel it before you close the position "
                "in TWS)" if working else "it has no cover: close it in TWS")
        return (f"flatten of {setup_id} given up ({why}): no stop can protect the position (no stop price "
                f"is known), so {left}; slob sends no other flatten for it today")

    def _session_end_flatten_given_up(self, setup_id: str, why: str) -> str:
        """Drop a session-end flatten plan; return the alert (the position is held overnight under its stop)."""
        self._flatten_plans.pop(setup_id, None)
        return (f"session-end flatten of {setup_id} given up ({why}): the position is held overnight, "
                "protected by a working stop (reconciliation keeps one in place); close it in TWS if it must "
                "not be held")

    def _cancel(self, order_id: int, order_ref: str, why: str) -> None:
        # Stored before it is sent: a cancel confirmed after a restart is still known as slob's own.
        self._log("CANCEL_REQUESTED", {"order_ref": order_ref, "order_id": order_id, "reason": why})
        self._cancel_count += 1
        self._cancels_sent[order_id] = SentCancel(self._cancel_count, order_ref, why)
        self.port.cancel(order_id)

    def _cancel_requested(self, order: BrokerOrder, row: dict[str, Any] | None) -> bool:
        """Return True when slob itself asked the broker to cancel this order (in this run or before a restart)."""
        return order.order_id in self._cancels_sent or self._logged_for("CANCEL_REQUESTED", order.order_ref, row)

    def _logged_for(self, kind: str, order_ref: str | None, row: dict[str, Any] | None) -> bool:
        """Return True when an event of this kind naming the order was stored since its intent."""
        if row is None or not order_ref:
            return False
        return any(json.loads(payload).get("order_ref") == order_ref
                   for payload in self.store.event_payloads_since(kind, row["created_at"]))

    def _exit_cancelled_outside(self, parsed: Any, order: BrokerOrder) -> None:
        """A stop or target of an open position was cancelled by someone else: re-protect at once."""
        if order.order_id in self._cancels_sent or parsed.setup_id in self._flattening:
            return
        trade = self.repo.trade(parsed.setup_id)
        if trade is None or trade["status"] != "OPEN":
            return
        if self._open_quantity(parsed.setup_id) <= 0:
            return  # the exits closed the position: the broker cancelled the OCA sibling, as it should
        # An exit that filled only in part closed nothing yet: the rest of the position needs its stop.
        detail = f"{order.order_ref} of an open position was cancelled outside slob; re-protecting"
        log.warning("%s", detail)
        self._log("PROTECTION_CANCELLED_OUTSIDE", {"order_ref": order.order_ref, "setup_id": parsed.setup_id})
        self._emit(EventType.ALERT, {"level": "warning", "message": detail})
        self.request_reconcile()

    def _open_quantity(self, setup_id: str) -> int:
        """Return the contracts a setup still holds: entry fills less exit fills (stored fills or statuses)."""
        rows = self.repo.orders_for_setup(setup_id)
        booked: dict[str, float] = {}
        for fill in self.repo.fills_for(r["order_ref"] for r in rows):
            booked[fill["order_ref"]] = booked.get(fill["order_ref"], 0.0) + fill["quantity"]
        held = 0.0
        for row in rows:
            filled = max(float(row["filled"] or 0), booked.get(row["order_ref"], 0.0))
            held += filled if OrderRole(row["role"]) is OrderRole.ENTRY else -filled
        return int(held)

    def on_order_error(self, order_id: int, code: int, text: str) -> None:
        """Log an order-level error from the broker (rejections arrive as status Inactive too).

        IB confirms every cancel with 202, slob's own too: those are INFO lines saying what slob cancelled
        and why (or that the broker cancelled an OCA sibling of a filled exit); a WARNING only for a 202
        slob did not ask for.
        """
        if code not in ORDER_ERROR_CODES:
            return
        sent = self._cancels_sent.get(order_id)
        row = None if sent is not None or order_id in self._refs else self.repo.order_by_broker_id(order_id)
        if row is not None:  # after a restart, before any status of this order: the store knows its orderRef
            self._refs[order_id] = row["order_ref"]
        ref = sent.order_ref if sent is not None else self._refs.get(order_id)
        if row is not None and code == IBCode.ORDER_CANCELLED and OrderStatus(row["status"]) in LIVE:
            self._cancelled_unseen(order_id, row)
        self._log("ORDER_ERROR", {"order_id": order_id, "code": code, "text": text, "order_ref": ref})
        if code != IBCode.ORDER_CANCELLED:
            log.warning("broker error %d for %s: %s", code, ref or f"order {order_id}", text)
        elif sent is not None:
            log.info("cancelled %s (%s)", sent.order_ref, sent.why)
        elif ref and (why := self._cancelled_with_its_bracket(ref)):
            log.info("cancelled %s (%s)", ref, why)
        elif ref and self._logged_for("CANCEL_REQUESTED", ref, self.repo.order(ref)):
            log.info("cancelled %s (asked by slob before a restart)", ref)
        else:
            log.warning("%s cancelled outside slob (IB 202: %s)", ref or f"order {order_id}", text)

    def _cancelled_unseen(self, order_id: int, row: dict[str, Any]) -> None:
        """IB's 202 is the only word of a working order's cancel (ib_async holds a done order by permId only).

        Follow it as the Cancelled status it means, as ib_async does for an order it holds, so a 202
        after a restart is classified as before it: a protective stop cancelled outside slob re-protects.
        """
        self.on_status(BrokerOrder(order_ref=row["order_ref"], order_id=order_id, symbol=row["symbol"],
                                   action=row["action"], order_type=row["order_type"], quantity=int(row["quantity"]),
                                   status="Cancelled", filled=int(row["filled"] or 0),
                                   avg_fill_price=row["avg_fill_price"], perm_id=int(row["perm_id"] or 0)))

    def _cancelled_with_its_bracket(self, order_ref: str) -> str | None:
        """Say why the broker cancelled an exit as the bracket means it to (None: it was not that).

        The other exit filled (OCA), or slob cancelled the entry unfilled (its children go with it).
        """
        parsed = parse_order_ref(order_ref)
        bracket_exits = (OrderRole.STOP, OrderRole.TARGET)
        if parsed is None or parsed.role not in bracket_exits:
            return None
        rows = self.repo.orders_for_setup(parsed.setup_id)
        if any(OrderRole(row["role"]) in bracket_exits and row["order_ref"] != order_ref and (row["filled"] or 0) > 0
               for row in rows):
            return "its OCA sibling filled"
        if any(OrderRole(row["role"]) is OrderRole.ENTRY and row["broker_order_id"] in self._cancels_sent
               and not row["filled"] for row in rows):
            return "its entry was cancelled unfilled"
        return None

    def on_execution(self, execution: BrokerExecution) -> None:
        """Store a fill once and update the setup's trade."""
        failpoints.check()
        parsed = parse_order_ref(execution.order_ref)
        if parsed is None or not self.repo.insert_fill(execution):
            return
        if execution.commission is not None:  # learnt by reconciliation: the report came with the execution
            self.repo.set_commission(execution.exec_id, execution.commission, execution.realized_pnl)
        self.counts["fills"] += 1
        self._emit(EventType.ORDER_FILLED, {"order_ref": execution.order_ref, "side": execution.side,
                                            "quantity": execution.shares, "price": execution.price})
        self._update_trade(parsed.setup_id)

    def on_commission(self, exec_id: str, commission: float, realized_pnl: float | None) -> None:
        """Attach a commission to its fill and refresh the trade's money figures."""
        failpoints.check()
        ref = self.repo.set_commission(exec_id, commission, realized_pnl)
        parsed = parse_order_ref(ref)
        if parsed is not None:
            self._update_trade(parsed.setup_id)

    # ------------------------------------------------------------------ trades
    def _update_trade(self, setup_id: str, settle: bool = False) -> None:
        orders = {row["order_ref"]: row for row in self.repo.orders_for_setup(setup_id)}
        if not orders:
            return
        fills = self.repo.fills_for(orders)
        entry_fills = [f for f in fills if OrderRole(orders[f["order_ref"]]["role"]) is OrderRole.ENTRY]
        exit_fills = [f for f in fills if OrderRole(orders[f["order_ref"]]["role"]) in EXIT_ROLES]
        if not entry_fills:
            return
        setup = self.repo.setup_plan(setup_id)
        entry_row = next(row for row in orders.values() if OrderRole(row["role"]) is OrderRole.ENTRY)
        direction = Direction(setup[0]) if setup else (Direction.SHORT if entry_row["action"] == "SELL" else Direction.LONG)
        symbol = entry_row["symbol"]
        multiplier = INSTRUMENTS[symbol].multiplier if symbol in INSTRUMENTS else 1.0
        result = trade_result(direction, multiplier, map(fill_line, entry_fills), map(fill_line, exit_fills))
        previous = self.repo.trade(setup_id)
        row: dict[str, Any] = {
            "setup_id": setup_id, "symbol": symbol, "direction": direction.value, "quantity": result.entry_quantity,
            "entry_estimate": setup[1] if setup else None, "entry_time": entry_fills[0]["ts"],
            "entry_price": result.entry_price, "status": TradeStatus.OPEN.value, **trade_columns(result),
            "exit_time": None, "exit_reason": None, "settled_at": previous["settled_at"] if previous else None,
        }
        closed = result.closed and not self._entry_working(orders)
        if closed:  # an exit that filled in part is not the exit: the last fill that made the position flat is
            row.update(status=TradeStatus.CLOSED.value, exit_time=exit_fills[-1]["ts"],
                       exit_reason=orders[exit_fills[-1]["order_ref"]]["role"])
        # The result is booked once, when it is final (the exit's commission report has arrived), so
        # the log, the alert, the risk state and the trades table all carry the same net money.
        book = closed and (result.settled or settle) and row["settled_at"] is None
        if book:
            row["settled_at"] = to_iso(self.clock.now())
        self.repo.upsert_trade(row)
        if previous is None:
            failpoints.hit("after_entry_fill")
            log.info("position opened: %s %s %d @ %s", setup_id, direction.value, result.entry_quantity,
                     price_text(result.entry_price))
            self._emit(EventType.POSITION_OPENED, {"setup_id": setup_id, "quantity": result.entry_quantity,
                                                   "price": result.entry_price})
        if closed and (previous is None or previous["status"] != TradeStatus.CLOSED):
            self._flattening.discard(setup_id)
            if self._flatten_plans.pop(setup_id, None) is not None:
                self._save_flattens()
        if book:
            self._book(setup_id, row["exit_reason"], result)

    def _book(self, setup_id: str, reason: str | None, result: TradeResult) -> None:
        """Log, announce and apply to the risk state one final trade result."""
        log.info("position closed: %s %s, %s points, %s net (gross %s, commission %s)", setup_id, reason,
                 points_text(result.points), money_text(result.net), money_text(result.gross),
                 money_text(result.commission, signed=False))
        self._emit(EventType.POSITION_CLOSED, {"setup_id": setup_id, "reason": reason, "pnl_points": result.points,
                                               "pnl_money": result.net, "gross": result.gross,
                                               "commission": result.commission})
        self.state = record_close(self.state, result.net or 0.0, self.risk.config)
        self._save_state()

    def settle_pending(self) -> None:
        """Book closed trades whose commission report never came, with the commission known so far."""
        for setup_id in self.repo.unsettled_closed_trades():
            log.warning("trade %s: a commission report is missing; booking it with the commission known", setup_id)
            self._update_trade(setup_id, settle=True)

    @staticmethod
    def _entry_working(orders: dict[str, dict[str, Any]]) -> bool:
        return any(OrderRole(row["role"]) is OrderRole.ENTRY and OrderStatus(row["status"]) in ACTIVE
                   and row["filled"] < row["quantity"] for row in orders.values())

    # ------------------------------------------------------------------ timers
    def on_candle_closed(self, candle_end: datetime) -> None:
        """Cancel entries still unfilled one full candle after they were sent."""
        for row in self.repo.unfilled_live("entry"):
            sent = row["sent_at"]
            if sent is None or row["broker_order_id"] is None:
                continue
            if candle_end >= from_iso(sent) + self.options.entry_timeout:
                log.info("entry %s unfilled after one candle: cancelling", row["order_ref"])
                self._log("ENTRY_TIMEOUT_CANCEL", {"order_ref": row["order_ref"], "filled": row["filled"]})
                self._cancel(int(row["broker_order_id"]), row["order_ref"], "unfilled after one candle")

    def on_session_end(self) -> None:
        """Flatten every open position (configurable): cancel its exits, then close at market."""
        if not self.options.flatten_at_session_end:
            return
        for trade in self.repo.open_trades():
            setup_id = trade["setup_id"]
            plan = self._flatten_plans.get(setup_id)
            if setup_id in self._flattening or (plan is not None and not plan.stale(self.clock.now())):
                continue  # being flattened (before a restart too: the plan is kept, with its retries)
            log.warning("session end: flattening %s", setup_id)
            self._log("FLATTEN_AT_SESSION_END", {"setup_id": setup_id})
            self._flatten_plans[setup_id] = FlattenPlan(since=self.clock.now())
            self._save_flattens()
            self._start_flatten(setup_id)

    def _start_flatten(self, setup_id: str, in_flight: frozenset[int] = frozenset()) -> None:
        """Cancel a setup's live exits (but those whose cancel is `in_flight`); the market order follows once
        none is live (_continue_flatten)."""
        self._flattening.add(setup_id)
        live_exits = [row for row in self.repo.orders_for_setup(setup_id)
                      if OrderRole(row["role"]) in (OrderRole.STOP, OrderRole.TARGET)
                      and OrderStatus(row["status"]) in LIVE]
        for row in live_exits:
            if row["broker_order_id"] is not None and row["broker_order_id"] not in in_flight:
                self._cancel(int(row["broker_order_id"]), row["order_ref"], f"session-end flatten of {setup_id}")
        if not live_exits:
            self._continue_flatten(setup_id)

    def on_clock(self, now: datetime) -> None:
        """Cancel a flatten that has not filled in time; send a retry that is due."""
        self._cancel_late_flattens(now)
        for setup_id, plan in list(self._flatten_plans.items()):
            if plan.due is not None and now >= plan.due:
                self._retry_flatten(setup_id, plan, now)

    def _cancel_late_flattens(self, now: datetime) -> None:
        """Cancel every flatten still working past its deadline (a reconciliation's last one is given up instead)."""
        for ref, deadline in list(self._flatten_deadlines.items()):
            if now < deadline:
                continue
            row = self.repo.order(ref)
            status = OrderStatus(row["status"]) if row is not None else OrderStatus.EXPIRED
            if status in LIVE and row is not None and row["broker_order_id"] is not None:
                del self._flatten_deadlines[ref]
                plan = self._flatten_plans.get(row["setup_id"])
                if plan is not None and plan.reconcile and plan.retries >= self.options.flatten_retries:
                    self._flatten_given_up(row["setup_id"], plan, f"{plan.retries + 1} attempts did not fill", ref)
                    continue
                self._unfilled.add(ref)
                log.warning("%s unfilled %g s after it was sent: cancelling it", ref,
                            self.options.flatten_retry_delay.total_seconds())
                self._log("FLATTEN_UNFILLED", {"order_ref": ref, "filled": row["filled"], "quantity": row["quantity"]})
                self._cancel(int(row["broker_order_id"]), ref, "flatten unfilled in time")
            elif status not in ACTIVE:
                del self._flatten_deadlines[ref]

    def _retry_flatten(self, setup_id: str, plan: FlattenPlan, now: datetime) -> None:
        """Flatten a setup again once its position is protected again (never two flattens at once)."""
        trade = self.repo.trade(setup_id)
        if trade is None or trade["status"] != TradeStatus.OPEN.value:
            self._flatten_plans.pop(setup_id, None)
            self._save_flattens()
            return
        if not self.market_open(now) or plan.stale(now):  # a plan kept while slob was down overnight too
            self._flatten_given_up(setup_id, plan, "the market has closed")
            return
        rows = self.repo.orders_for_setup(setup_id)
        protected = any(OrderRole(r["role"]) is OrderRole.STOP and OrderStatus(r["status"]) is OrderStatus.WORKING
                        for r in rows)
        flattening = any(OrderRole(r["role"]) is OrderRole.FLATTEN and OrderStatus(r["status"]) in ACTIVE for r in rows)
        if not protected or flattening or not self.orders_allowed():
            return  # the reconcile has not re-protected it yet (or a flatten works): wait, covered meanwhile
        plan.due = None
        plan.retries += 1
        self._save_flattens()
        log.warning("session end: flattening %s again (retry %d of %d)", setup_id, plan.retries,
                    self.options.flatten_retries)
        self._log("FLATTEN_RETRY", {"setup_id": setup_id, "retry": plan.retries, "of": self.options.flatten_retries})
        self._start_flatten(setup_id)

    def _save_flattens(self) -> None:
        save_plans(self.store, self._flatten_plans, self.clock.now())

    def _reconcile_flatten(self, action: PlaceOrders) -> bool:
        """Count a flatten reconciliation places (the first of its plan, or a retry); False: give it up unsent.

        Stored before the intent, so a restart knows the attempts; the timeout of on_clock applies to it.
        """
        setup_id, limit = action.setup_id, self.options.flatten_retries
        plan = self._flatten_plans.get(setup_id)
        if plan is not None and not plan.reconcile:
            return True  # a session-end flatten being retried: its own plan counts
        if plan is None or (plan.given_up and plan.stale(self.clock.now())):
            self._flatten_plans[setup_id] = FlattenPlan(reconcile=True, since=self.clock.now())
        elif plan.given_up:
            return False  # said once; the position is the operator's for the rest of the day
        elif plan.retries >= limit:  # the last attempt ended otherwise (rejected, expired): no more today
            self._flatten_given_up(setup_id, plan, f"{plan.retries + 1} attempts failed")
            return False
        else:
            plan.retries += 1
            log.warning("reconcile: flattening %s again (retry %d of %d)", setup_id, plan.retries, limit)
            self._log("FLATTEN_RETRY", {"setup_id": setup_id, "retry": plan.retries, "of": limit})
        self._save_flattens()
        return True

    def _track_flattens(self, proposed: set[str]) -> None:
        """After a reconciliation (which proposed flattens for `proposed`): time every live flatten, settle idle plans."""
        live = self._time_live_flattens()
        self._settle_idle_plans({row["setup_id"] for row in live} | self._flattening, proposed)

    def _time_live_flattens(self) -> list[dict[str, Any]]:
        """Time every live flatten from when it was sent (one sent before a restart too); return their rows."""
        live = self.repo.unfilled_live("flatten")
        for row in live:
            plan = self._flatten_plans.get(row["setup_id"])
            if row["sent_at"] is not None and not (plan is not None and plan.given_up):
                self._flatten_deadlines.setdefault(row["order_ref"],
                                                   from_iso(row["sent_at"]) + self.options.flatten_retry_delay)
        return live

    def _settle_idle_plans(self, busy: set[str], proposed: set[str]) -> None:
        """Settle the plans with no flatten under way: ended while slob was away, or needing none any more.

        A reconciliation's plan is done (closed, or covered by a stop now) unless it proposed a flatten
        again; a session-end plan whose last flatten ended while slob was down retries after the delay,
        or is given up once its retries are spent.
        """
        changed = False
        for setup_id, plan in list(self._flatten_plans.items()):
            if setup_id in busy or plan.due is not None or (plan.reconcile and setup_id in proposed):
                continue
            changed = True
            if plan.reconcile:
                del self._flatten_plans[setup_id]
            elif plan.retries < self.options.flatten_retries:
                plan.due = self.clock.now() + self.options.flatten_retry_delay
            else:
                self._flatten_given_up(setup_id, plan, f"{plan.retries + 1} attempts failed")
        if changed:
            self._save_flattens()

    def _continue_flatten(self, setup_id: str) -> None:
        """Once no exit of the setup is live, send one market order for what is still open."""
        rows = self.repo.orders_for_setup(setup_id)
        if any(OrderRole(r["role"]) in EXIT_ROLES and OrderStatus(r["status"]) in ACTIVE for r in rows):
            return  # an exit still works, or a flatten already does (EXIT_ROLES holds FLATTEN)
        trade = self.repo.trade(setup_id)
        if trade is None or trade["status"] == TradeStatus.CLOSED:
            self._flattening.discard(setup_id)
            return
        fills = self.repo.fills_for(r["order_ref"] for r in rows)
        roles = {r["order_ref"]: OrderRole(r["role"]) for r in rows}
        entry = sum(f["quantity"] for f in fills if roles[f["order_ref"]] is OrderRole.ENTRY)
        exits = sum(f["quantity"] for f in fills if roles[f["order_ref"]] is not OrderRole.ENTRY)
        remaining = int(entry - exits)
        if remaining <= 0:
            return
        signed = -remaining if trade["direction"] == Direction.SHORT.value else remaining
        attempt = 1 + sum(1 for r in rows if OrderRole(r["role"]) is OrderRole.FLATTEN)
        intent = flatten_intent(setup_id, trade["symbol"], signed, attempt)
        self.repo.insert_intents([intent], self.clock.now(), self.run_id)
        if self._send([intent]):
            self.counts["flattened"] += 1
            if setup_id in self._flatten_plans:
                self._flatten_deadlines[intent.order_ref] = self.clock.now() + self.options.flatten_retry_delay
        else:  # its exits are gone: the reconcile on reconnect re-protects it, then the plan retries
            self._flattening.discard(setup_id)
