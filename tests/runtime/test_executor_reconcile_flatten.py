"""A flatten reconciliation places obeys the session-end flatten's rule, and both keep their count across a restart.

Unfilled SLOB_FLATTEN_RETRY_DELAY after it was sent -> cancelled (CANCEL_REQUESTED stored first) ->
FLATTEN_UNFILLED, FLATTEN_FAILED -> reconciled -> retried as flatten.n, at most SLOB_FLATTEN_RETRIES times.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.orders import OrderRepository
from slob_cli.core.broker_view import BrokerExecution, BrokerOrder, BrokerPosition, BrokerView
from slob_cli.core.models import Direction
from slob_cli.core.orders import build_bracket
from slob_cli.core.risk import RiskManager
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.events import EventType
from slob_cli.runtime.executor import ExecutorOptions, OrderExecutor

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
ORPHAN = "slob:orphan-NQ:flatten"
SETUP = "NQ-20260106-S1"
DELAY = timedelta(seconds=30)


class Broker:
    """A gateway that outlives slob's processes: it keeps what was placed; nothing ever fills (no liquidity)."""

    def __init__(self, position: int) -> None:
        self.position = position
        self.orders: dict[str, BrokerOrder] = {}
        self.placed: list[str] = []
        self.cancelled: list[str] = []
        self.next_id = 100

    def view(self) -> BrokerView:
        live = tuple(o for o in self.orders.values() if o.status in ("Submitted", "PreSubmitted"))
        done = tuple(o for o in self.orders.values() if o not in live)
        return BrokerView(open_orders=live, completed_orders=done, positions=(BrokerPosition("NQ", self.position),))

    def by_id(self, order_id: int) -> BrokerOrder:
        return next(o for o in self.orders.values() if o.order_id == order_id)


class Port:
    """One process's connection to the broker; confirmations are delivered by the test, as IB's come later."""

    def __init__(self, broker: Broker, store: Store) -> None:
        self.broker, self.store = broker, store

    def place(self, intents: list[Any]) -> dict[str, int]:
        ids = {}
        for intent in intents:
            self.broker.next_id += 1
            ids[intent.order_ref] = self.broker.next_id
            self.broker.placed.append(intent.order_ref)
            self.broker.orders[intent.order_ref] = BrokerOrder(
                intent.order_ref, self.broker.next_id, "NQ", intent.action, intent.order_type, intent.quantity,
                "Submitted", 0, stop_price=intent.stop_price, limit_price=intent.limit_price)
        return ids

    def cancel(self, order_id: int) -> bool:
        ref = self.broker.by_id(order_id).order_ref
        requested = [json.loads(p)["order_ref"] for p in self.store.event_payloads_since("CANCEL_REQUESTED", "2026-01-01T00:00:00Z")]
        assert ref in requested, f"the cancel of {ref} is stored before it is sent"
        self.broker.cancelled.append(str(ref))
        return True

    def equity(self) -> None:
        return None

    async def snapshot(self) -> BrokerView:
        return self.broker.view()


def _process(store: Store, broker: Broker, clock: ManualClock, alerts: list[str],
             **options: Any) -> tuple[OrderExecutor, list[bool]]:
    """Start one slob process: an executor on the store, its own connection, reconciled first."""
    reconciles: list[bool] = []
    executor = OrderExecutor(store, Port(broker, store), RiskManager(), clock, options=ExecutorOptions(**options),
                             request_reconcile=lambda: reconciles.append(True))
    executor._emit = (  # type: ignore[method-assign]
        lambda kind, payload: alerts.append(payload["message"]) if kind is EventType.ALERT else None)
    asyncio.run(executor.reconcile())
    return executor, reconciles


def _confirm(executor: OrderExecutor, broker: Broker, status: str) -> None:
    """The broker confirms the cancels it was asked for (or acknowledges new orders) to the process."""
    for ref, order in list(broker.orders.items()):
        if status == "Cancelled" and ref in broker.cancelled and order.status != "Cancelled":
            broker.orders[ref] = BrokerOrder(ref, order.order_id, "NQ", order.action, order.order_type, order.quantity,
                                             "Cancelled", 0, stop_price=order.stop_price, limit_price=order.limit_price)
            executor.on_status(broker.orders[ref])
        elif status == "Submitted" and order.status == "Submitted":
            executor.on_status(order)


def _logged(store: Store, kind: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in store.event_payloads_since(kind, "2026-01-01T00:00:00Z")]


def _sent_at(store: Store, ref: str) -> datetime:
    row = OrderRepository(store).order(ref)
    assert row is not None and row["sent_at"] is not None
    return datetime.fromisoformat(row["sent_at"].replace("Z", "+00:00"))


def test_a_flatten_reconciliation_places_is_cancelled_unfilled_retried_a_bounded_number_of_times_across_a_restart(
        store: Store) -> None:
    broker = Broker(position=1)  # a long NQ contract no setup explains: reconciliation flattens it
    clock = ManualClock(T0)
    alerts: list[str] = []
    first, reconciles = _process(store, broker, clock, alerts)
    assert broker.placed == [ORPHAN]
    _confirm(first, broker, "Submitted")
    clock.advance(DELAY - timedelta(seconds=1))
    first.on_clock(clock.now())
    assert broker.cancelled == [], "not before the delay"
    clock.advance(timedelta(seconds=1))
    first.on_clock(clock.now())
    assert broker.cancelled == [ORPHAN], "unfilled 30 s after it was sent: cancelled"
    assert _logged(store, "FLATTEN_UNFILLED") == [{"order_ref": ORPHAN, "filled": 0, "quantity": 1}]
    _confirm(first, broker, "Cancelled")
    [failed] = _logged(store, "FLATTEN_FAILED")
    assert (failed["order_ref"], failed["unfilled"]) == (ORPHAN, True) and reconciles, "failed; reconciling"
    asyncio.run(first.reconcile())  # the reconciliation it asked for flattens again
    assert broker.placed == [ORPHAN, f"{ORPHAN}.2"]
    assert _logged(store, "FLATTEN_RETRY") == [{"setup_id": "orphan-NQ", "retry": 1, "of": 3}]
    _confirm(first, broker, "Submitted")
    sent = _sent_at(store, f"{ORPHAN}.2")

    # slob dies while flatten.2 works; a new process starts 10 s later and reconciles first.
    clock.advance(timedelta(seconds=10))
    second, reconciles = _process(store, broker, clock, alerts)
    assert broker.placed == [ORPHAN, f"{ORPHAN}.2"], "the working flatten is not sent again"
    clock.set(sent + DELAY - timedelta(seconds=1))
    second.on_clock(clock.now())
    assert broker.cancelled == [ORPHAN]
    clock.set(sent + DELAY)  # timed from when it was sent, not from the restart
    second.on_clock(clock.now())
    assert broker.cancelled == [ORPHAN, f"{ORPHAN}.2"]
    for retry in (2, 3):
        _confirm(second, broker, "Cancelled")
        asyncio.run(second.reconcile())
        _confirm(second, broker, "Submitted")
        assert broker.placed[-1] == f"{ORPHAN}.{retry + 1}"
        clock.advance(DELAY)
        second.on_clock(clock.now())
    assert [p["retry"] for p in _logged(store, "FLATTEN_RETRY")] == [1, 2, 3], "the count went on after the restart"
    assert broker.placed == [ORPHAN] + [f"{ORPHAN}.{n}" for n in (2, 3, 4)]
    assert broker.cancelled == [ORPHAN] + [f"{ORPHAN}.{n}" for n in (2, 3)], "the last one is left working"
    assert len(_logged(store, "FLATTEN_FAILED")) == 3
    assert _logged(store, "FLATTEN_GIVEN_UP") == [{"setup_id": "orphan-NQ", "attempts": 4,
                                                   "reason": "4 attempts did not fill"}]
    assert [a for a in alerts if "given up" in a and "left working" in a]
    # Later reconciliations (a reconnect, a third process) leave the working flatten alone.
    asyncio.run(second.reconcile())
    clock.advance(timedelta(minutes=5))
    second.on_clock(clock.now())
    third, _ = _process(store, broker, clock, alerts)
    third.on_clock(clock.now() + timedelta(minutes=5))
    assert len(broker.placed) == 4 and len(broker.cancelled) == 3
    assert len(_logged(store, "FLATTEN_GIVEN_UP")) == 1
    # The operator cancels it to close the position by hand: slob sends no other flatten today ...
    last = broker.orders[f"{ORPHAN}.4"]
    broker.orders[f"{ORPHAN}.4"] = BrokerOrder(last.order_ref, last.order_id, "NQ", "SELL", "MKT", 1, "Cancelled", 0)
    third.on_status(broker.orders[f"{ORPHAN}.4"])
    asyncio.run(third.reconcile())
    assert len(broker.placed) == 4
    # ... but the next day's reconciliation begins a new plan.
    clock.set(datetime(2026, 1, 7, 15, 0, tzinfo=UTC))
    asyncio.run(third.reconcile())
    assert broker.placed[4:] == [f"{ORPHAN}.5"]


def test_an_unfilled_cancel_confirmed_after_a_restart_is_still_a_failure_and_re_protects(store: Store) -> None:
    broker = Broker(position=1)
    clock = ManualClock(T0)
    first, _ = _process(store, broker, clock, [])
    _confirm(first, broker, "Submitted")
    clock.advance(DELAY)
    first.on_clock(clock.now())
    assert broker.cancelled == [ORPHAN]
    # slob dies before the broker confirms; the snapshot of the next process still shows it working.
    alerts: list[str] = []
    second, reconciles = _process(store, broker, clock, alerts)
    assert broker.placed == [ORPHAN] and reconciles == []
    _confirm(second, broker, "Cancelled")
    assert [p["unfilled"] for p in _logged(store, "FLATTEN_FAILED")] == [True]
    assert reconciles, "the position has lost its cover: reconcile"
    asyncio.run(second.reconcile())
    assert broker.placed == [ORPHAN, f"{ORPHAN}.2"]
    assert [p["retry"] for p in _logged(store, "FLATTEN_RETRY")] == [1]


def _short_at_the_session_end(store: Store, broker: Broker, clock: ManualClock,
                              alerts: list[str], session_end: bool = True) -> OrderExecutor:
    """A 1-lot SHORT, filled, its stop (25490) and target working; a process starts and the session ends."""
    orders = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25478.0, 25490.0, 25406.0, "MKT").orders
    repo = OrderRepository(store)
    repo.insert_intents(list(orders), T0)
    Port(broker, store).place(list(orders))
    repo.mark_sent({o.order_ref: broker.orders[o.order_ref].order_id for o in orders}, T0)
    entry = broker.orders[orders[0].order_ref]
    broker.orders[orders[0].order_ref] = BrokerOrder(entry.order_ref, entry.order_id, "NQ", "SELL", "MKT", 1, "Filled", 1)
    OrderExecutor(store, None, RiskManager(), clock).on_execution(
        BrokerExecution("e1", entry.order_ref, entry.order_id, "NQ", "SLD", 1, 25477.75, T0))
    first, _ = _process(store, broker, clock, alerts)
    _confirm(first, broker, "Submitted")
    if session_end:
        first.on_session_end()
    return first


def test_a_session_end_flatten_working_across_a_restart_keeps_its_deadline_and_its_retry_count(store: Store) -> None:
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC))
    alerts: list[str] = []
    first = _short_at_the_session_end(store, broker, clock, alerts)
    _confirm(first, broker, "Cancelled")  # the stop and target
    assert broker.placed[-1] == f"slob:{SETUP}:flatten"
    _confirm(first, broker, "Submitted")
    sent = _sent_at(store, f"slob:{SETUP}:flatten")

    clock.advance(timedelta(seconds=5))  # a restart while the flatten works
    second, _ = _process(store, broker, clock, alerts)
    second.on_session_end()  # the engine runs the session end again after a restart
    assert broker.placed.count(f"slob:{SETUP}:flatten") == 1 and len(broker.placed) == 4, "no second flatten"
    assert len(_logged(store, "FLATTEN_AT_SESSION_END")) == 1, "the same plan goes on"
    clock.set(sent + DELAY)
    second.on_clock(clock.now())
    assert broker.cancelled[-1] == f"slob:{SETUP}:flatten", "cancelled on the deadline of the first process"
    _confirm(second, broker, "Cancelled")
    [failed] = _logged(store, "FLATTEN_FAILED")
    assert failed["unfilled"] and failed["retry_at"] is not None
    asyncio.run(second.reconcile())  # re-protects: a new stop
    assert broker.placed[-2:] == [f"slob:{SETUP}:stop.2", f"slob:{SETUP}:target.2"]
    _confirm(second, broker, "Submitted")
    clock.advance(DELAY)

    third, _ = _process(store, broker, clock, alerts)  # and a restart while the retry is due
    third.on_session_end()
    third.on_clock(clock.now())
    _confirm(third, broker, "Cancelled")  # the new stop and target, cancelled for the retry
    assert broker.placed[-1] == f"slob:{SETUP}:flatten.2"
    assert _logged(store, "FLATTEN_RETRY") == [{"setup_id": SETUP, "retry": 1, "of": 3}]
    assert len(set(broker.placed)) == len(broker.placed), "every orderRef was sent once"


def test_a_session_end_retry_kept_over_a_night_slob_was_down_is_given_up_and_the_next_session_end_flattens_afresh(
        store: Store) -> None:
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC))
    alerts: list[str] = []
    first = _short_at_the_session_end(store, broker, clock, alerts)
    _confirm(first, broker, "Cancelled")
    _confirm(first, broker, "Submitted")
    clock.advance(DELAY)
    first.on_clock(clock.now())
    _confirm(first, broker, "Cancelled")
    asyncio.run(first.reconcile())  # re-protected; the retry is due in 30 s, but slob stops now
    assert [p["retry_at"] is not None for p in _logged(store, "FLATTEN_FAILED")] == [True]
    placed = len(broker.placed)

    clock.set(datetime(2026, 1, 7, 15, 0, tzinfo=UTC))  # started again the next morning
    second, _ = _process(store, broker, clock, alerts)
    second.on_clock(clock.now())
    assert len(broker.placed) == placed, "no flatten of last night's plan in the morning"
    [given_up] = _logged(store, "FLATTEN_GIVEN_UP")
    assert given_up["reason"] == "the market has closed" and [a for a in alerts if "held overnight" in a]
    clock.set(datetime(2026, 1, 7, 21, 0, 2, tzinfo=UTC))
    second.on_session_end()
    assert len(_logged(store, "FLATTEN_AT_SESSION_END")) == 2, "tonight's session end flattens afresh"


def test_reconciliation_flattens_rejected_each_time_stop_at_the_bound_with_one_alert(store: Store) -> None:
    broker = Broker(position=1)
    clock = ManualClock(T0)
    alerts: list[str] = []
    executor, _ = _process(store, broker, clock, alerts)
    for _ in range(6):
        ref = broker.placed[-1]
        order = broker.orders[ref]
        broker.orders[ref] = BrokerOrder(ref, order.order_id, "NQ", "SELL", "MKT", 1, "Inactive", 0)
        executor.on_status(broker.orders[ref])  # refused (a margin check, a closed market)
        asyncio.run(executor.reconcile())
        if broker.orders[broker.placed[-1]].status == "Inactive":
            break
    assert broker.placed == [ORPHAN] + [f"{ORPHAN}.{n}" for n in (2, 3, 4)], "the first and 3 retries, no more"
    assert [p["retry"] for p in _logged(store, "FLATTEN_RETRY")] == [1, 2, 3]
    assert _logged(store, "FLATTEN_GIVEN_UP") == [{"setup_id": "orphan-NQ", "attempts": 4,
                                                   "reason": "4 attempts failed"}]
    assert [a for a in alerts if "given up" in a and "no cover" in a]
    asyncio.run(executor.reconcile())
    assert len(broker.placed) == 4 and len(_logged(store, "FLATTEN_GIVEN_UP")) == 1, "said once, nothing more sent"


def test_a_flatten_reconciliation_places_for_a_setup_whose_stop_price_is_unknown_is_timed_too(store: Store) -> None:
    entry = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25478.0, 25490.0, 25406.0, "MKT").entry
    broker = Broker(position=-1)  # the SHORT's entry filled; its stop and target never made it to the store
    repo = OrderRepository(store)
    repo.insert_intents([entry], T0)
    Port(broker, store).place([entry])
    repo.mark_sent({entry.order_ref: broker.orders[entry.order_ref].order_id}, T0)
    order = broker.orders[entry.order_ref]
    broker.orders[entry.order_ref] = BrokerOrder(entry.order_ref, order.order_id, "NQ", "SELL", "MKT", 1, "Filled", 1)
    clock = ManualClock(T0 + timedelta(minutes=5))
    executor, reconciles = _process(store, broker, clock, [])
    flatten = f"slob:{SETUP}:flatten.2"
    assert broker.placed[-1] == flatten, "no stop price is known: reconciliation flattens the setup"
    _confirm(executor, broker, "Submitted")
    clock.advance(DELAY)
    executor.on_clock(clock.now())
    assert broker.cancelled == [flatten] and [p["order_ref"] for p in _logged(store, "FLATTEN_UNFILLED")] == [flatten]
    _confirm(executor, broker, "Cancelled")
    assert reconciles, "FLATTEN_FAILED asks for the reconciliation that flattens again"
    asyncio.run(executor.reconcile())
    assert broker.placed[-1] == f"slob:{SETUP}:flatten.3"
    assert _logged(store, "FLATTEN_RETRY") == [{"setup_id": SETUP, "retry": 1, "of": 3}]


def test_a_session_end_flatten_that_could_not_be_sent_is_retried_once_reconciliation_re_protects(store: Store) -> None:
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC))
    alerts: list[str] = []
    executor = _short_at_the_session_end(store, broker, clock, alerts)
    port = executor.port
    lost = ConnectionError("the gateway connection is lost")

    def refuse(intents: list[Any]) -> dict[str, int]:
        raise lost

    executor.port = type("Down", (), {"place": staticmethod(refuse), "cancel": port.cancel})()
    _confirm(executor, broker, "Cancelled")  # stop and target cancelled, then the flatten cannot be sent
    assert [p["refs"] for p in _logged(store, "ORDER_SEND_FAILED")] == [[f"slob:{SETUP}:flatten"]]
    executor.port = port  # reconnected: the reconcile re-protects the naked position
    asyncio.run(executor.reconcile())
    assert broker.placed[-2:] == [f"slob:{SETUP}:stop.2", f"slob:{SETUP}:target.2"]
    _confirm(executor, broker, "Submitted")
    clock.advance(DELAY)
    executor.on_clock(clock.now())
    _confirm(executor, broker, "Cancelled")
    assert broker.placed[-1] == f"slob:{SETUP}:flatten.2", "the flatten is tried again"
    assert _logged(store, "FLATTEN_RETRY") == [{"setup_id": SETUP, "retry": 1, "of": 3}]


def test_a_reconciliation_between_the_session_end_cancels_and_their_confirmation_does_not_hold_the_position(
        store: Store) -> None:
    """The broker has cancelled the exits, slob has not heard yet, and a reconciliation runs (a reconnect).

    It sees a position without a stop and re-protects it (stop.2/target.2); the session end's flatten then
    cancels those too and closes at market: protected until the cancels are confirmed, flat after.
    """
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC))
    alerts: list[str] = []
    executor = _short_at_the_session_end(store, broker, clock, alerts)
    assert broker.cancelled == [f"slob:{SETUP}:stop", f"slob:{SETUP}:target"]
    for ref in broker.cancelled:  # done at the broker; the confirmations are still on their way
        order = broker.orders[ref]
        broker.orders[ref] = BrokerOrder(ref, order.order_id, "NQ", order.action, order.order_type, order.quantity,
                                         "Cancelled", 0, stop_price=order.stop_price, limit_price=order.limit_price)
    asyncio.run(executor.reconcile())
    assert broker.placed[-2:] == [f"slob:{SETUP}:stop.2", f"slob:{SETUP}:target.2"], "protected meanwhile"
    assert broker.cancelled[-2:] == [f"slob:{SETUP}:stop.2", f"slob:{SETUP}:target.2"], "the session end wins"
    assert not any(ref.endswith("flatten") for ref in broker.placed), "no market order while a stop works"
    _confirm(executor, broker, "Submitted")
    for ref in (f"slob:{SETUP}:stop", f"slob:{SETUP}:target"):  # the late confirmations of the first cancels
        executor.on_status(broker.orders[ref])
    _confirm(executor, broker, "Cancelled")
    assert broker.placed[-1] == f"slob:{SETUP}:flatten", "flat at the session end, not held overnight"
    assert [r for r in broker.placed if "flatten" in r] == [f"slob:{SETUP}:flatten"]
    assert _logged(store, "FLATTEN_FAILED") == [] and alerts == []
    asyncio.run(executor.reconcile())  # a reconciliation while the flatten works changes nothing
    assert [r for r in broker.placed if "flatten" in r] == [f"slob:{SETUP}:flatten"]
    assert broker.placed[-1] == f"slob:{SETUP}:flatten"



@pytest.mark.parametrize(("last", "placed"), [(25490.0, "flatten.2"), (25489.75, "stop.2")])
def test_reconciliation_flattens_a_position_whose_stop_the_feeds_last_price_has_reached(
        store: Store, last: float, placed: str) -> None:
    """The executor hands reconciliation the feed's last prices: a stop at or through the price is never placed."""
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 16, 0, tzinfo=UTC))
    alerts: list[str] = []
    executor = _short_at_the_session_end(store, broker, clock, alerts, session_end=False)
    for ref in (f"slob:{SETUP}:stop", f"slob:{SETUP}:target"):  # cancelled outside slob (a 'cancel all' in TWS)
        order = broker.orders[ref]
        broker.orders[ref] = BrokerOrder(ref, order.order_id, "NQ", order.action, order.order_type, order.quantity,
                                         "Cancelled", 0, stop_price=order.stop_price, limit_price=order.limit_price)
    executor.last_prices = lambda: {"NQ": last}  # SHORT, stop 25490: a buy stop triggers at or above it
    asyncio.run(executor.reconcile())
    assert [ref.removeprefix(f"slob:{SETUP}:") for ref in broker.placed[3:]] == (
        ["flatten.2"] if placed == "flatten.2" else ["stop.2", "target.2"])


def test_exit_cancels_sent_while_the_view_was_taken_are_not_sent_twice_lost_ones_are(store: Store) -> None:
    """After a reconciliation a flattening setup's working exits are cancelled: not those whose cancel went out
    after the broker's view was asked for (on their way), but those cancelled before it and still working (lost)."""
    broker = Broker(position=-1)
    clock = ManualClock(datetime(2026, 1, 6, 21, 0, 2, tzinfo=UTC))
    alerts: list[str] = []
    executor = _short_at_the_session_end(store, broker, clock, alerts, session_end=False)
    exits = [f"slob:{SETUP}:stop", f"slob:{SETUP}:target"]
    port = executor.port

    async def racing_snapshot() -> BrokerView:
        view = broker.view()  # taken before the session end: the exits work
        executor.on_session_end()  # which fires while the view travels
        return view

    executor.port = type("Racing", (), {"place": port.place, "cancel": port.cancel, "equity": port.equity,
                                        "snapshot": staticmethod(racing_snapshot)})()
    asyncio.run(executor.reconcile())
    assert broker.cancelled == exits, "each exit cancelled once"
    executor.port = port
    asyncio.run(executor.reconcile())  # the broker never got them: still working in a view asked for after
    assert broker.cancelled == exits + exits, "lost cancels are sent again"
    _confirm(executor, broker, "Cancelled")
    assert broker.placed[-1] == f"slob:{SETUP}:flatten"
