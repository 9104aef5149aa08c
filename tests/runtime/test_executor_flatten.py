"""A flatten slob cancelled itself is not a failure, even across a restart; a failed session-end flatten is retried."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.orders import OrderRepository
from slob_cli.core.broker_view import BrokerExecution, BrokerOrder, OrderStatus
from slob_cli.core.models import Direction
from slob_cli.core.orders import build_bracket, flatten_intent
from slob_cli.core.reconcile_actions import CancelOrder, ReconcilePlan
from slob_cli.core.risk import RiskManager
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.events import EventType
from slob_cli.runtime.executor import ExecutorOptions, OrderExecutor

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 15, 32, tzinfo=UTC)
END = datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC)
SETUP = "NQ-20260106-S1"


class Port:
    """A broker whose confirmations come later, as IB's do (nothing is reported back by a call)."""

    def __init__(self) -> None:
        self.cancelled: list[int] = []
        self.placed: list[str] = []

    def place(self, intents: list[Any]) -> dict[str, int]:
        self.placed += [i.order_ref for i in intents]
        return {i.order_ref: 100 + len(self.placed) for i in intents}

    def cancel(self, order_id: int) -> bool:
        self.cancelled.append(order_id)
        return True


def _open_short(store: Store) -> None:
    """A 1-lot SHORT filled at 15:32, its stop and target working (broker ids 2 and 3)."""
    orders = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25478.0, 25490.0, 25406.0, "MKT").orders
    repo = OrderRepository(store)
    repo.insert_intents(list(orders), T0)
    repo.mark_sent({order.order_ref: n for n, order in enumerate(orders, 1)}, T0)
    OrderExecutor(store, Port(), RiskManager(), ManualClock(T0)).on_execution(
        BrokerExecution("e1", f"slob:{SETUP}:entry", 1, "NQ", "SLD", 1, 25477.75, T0))
    for ref in ("stop", "target"):
        repo.update_status(f"slob:{SETUP}:{ref}", OrderStatus.WORKING, 0, None, T0)


def _executor(store: Store, alerts: list[dict[str, Any]], **options: Any) -> tuple[OrderExecutor, Port]:
    bus = EventBus()
    port = Port()
    executor = OrderExecutor(store, port, RiskManager(), ManualClock(END), bus, ExecutorOptions(**options))
    executor._emit = lambda kind, payload: alerts.append(payload) if kind is EventType.ALERT else None  # type: ignore[method-assign]
    return executor, port


def _logged(store: Store, kind: str) -> list[str]:
    return store.event_payloads_since(kind, "2026-01-01T00:00:00Z")


def test_a_flatten_cancel_slob_sent_before_a_restart_and_confirmed_after_it_is_no_failure(store: Store) -> None:
    _open_short(store)
    repo = OrderRepository(store)
    # Two flattens work for a 1-lot position: reconciliation cancels the one that would overshoot.
    for attempt in (1, 2):
        intent = flatten_intent(SETUP, "NQ", -1, attempt)
        repo.insert_intents([intent], END)
        repo.mark_sent({intent.order_ref: 10 + attempt}, END)
        repo.update_status(intent.order_ref, OrderStatus.WORKING, 0, None, END)
    alerts: list[dict[str, Any]] = []
    before, port = _executor(store, alerts)
    excess = f"slob:{SETUP}:flatten.2"
    before.apply(ReconcilePlan((CancelOrder(excess, 12, "cancel flatten: more than the position to close"),)))
    assert port.cancelled == [12]
    # slob dies before the broker confirms; the confirmation reaches the next process.
    after, _ = _executor(store, alerts)
    after.on_status(BrokerOrder(excess, 12, "NQ", "BUY", "MKT", 1, "Cancelled", 0))
    assert repo.order(excess)["status"] == "CANCELLED"
    assert _logged(store, "FLATTEN_FAILED") == [] and alerts == [], "slob's own cancel is no failure"
    # A flatten slob never asked to cancel still is one.
    after.on_status(BrokerOrder(f"slob:{SETUP}:flatten", 11, "NQ", "BUY", "MKT", 1, "Cancelled", 0))
    assert len(_logged(store, "FLATTEN_FAILED")) == 1 and [a["level"] for a in alerts] == ["error"]


def test_a_session_end_flatten_that_fails_after_the_cme_close_is_given_up_at_once(store: Store) -> None:
    _open_short(store)
    alerts: list[dict[str, Any]] = []
    executor, port = _executor(store, alerts)
    executor.market_open = lambda now: False  # the 17:00 New York halt has begun
    reconciles: list[bool] = []
    executor.request_reconcile = lambda: reconciles.append(True)
    executor.on_session_end()
    assert sorted(port.cancelled) == [2, 3]
    for ref, order_id in (("stop", 2), ("target", 3)):
        executor.on_status(BrokerOrder(f"slob:{SETUP}:{ref}", order_id, "NQ", "BUY", "STP", 1, "Cancelled", 0))
    assert port.placed == [f"slob:{SETUP}:flatten"]
    executor.on_status(BrokerOrder(f"slob:{SETUP}:flatten", 101, "NQ", "BUY", "MKT", 1, "Inactive", 0))
    assert reconciles, "the position is re-protected"
    assert len(_logged(store, "FLATTEN_FAILED")) == 1
    assert len(_logged(store, "FLATTEN_GIVEN_UP")) == 1 and "the market has closed" in _logged(store, "FLATTEN_GIVEN_UP")[0]
    assert [a for a in alerts if "held overnight" in a["message"]]
    executor.on_clock(END + timedelta(minutes=5))
    assert port.placed == [f"slob:{SETUP}:flatten"], "no retry after the close"
