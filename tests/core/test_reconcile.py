"""Reconciliation: exact actions for each crash/restart scenario, and properties over any broker state."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.core.broker_view import (
    BrokerExecution,
    BrokerOrder,
    BrokerPosition,
    BrokerView,
    OrderStatus,
    StoredOrder,
)
from slob_cli.core.models import Direction
from slob_cli.core.orders import OrderIntent, build_bracket
from slob_cli.core.reconcile import reconcile
from slob_cli.core.reconcile_actions import (
    CancelOrder,
    MarkOrder,
    PlaceOrders,
    RecordExecution,
    Report,
    ResizeOrder,
    SendBracket,
)

UTC = timezone.utc
NOW = datetime(2026, 1, 6, 15, 32, 20, tzinfo=UTC)
FRESH = NOW - timedelta(seconds=20)
STALE = NOW - timedelta(minutes=5)
S1 = "NQ-20260106-S1"
BRACKET = build_bracket(S1, Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0)
ENTRY, STOP, TARGET = BRACKET.orders
IDS = {ENTRY.order_ref: 11, STOP.order_ref: 12, TARGET.order_ref: 13}


def stored(intent: OrderIntent, status: OrderStatus = OrderStatus.INTENT, filled: int = 0,
           created: datetime = FRESH, with_id: bool = False) -> StoredOrder:
    return StoredOrder(intent, status, filled, IDS.get(intent.order_ref) if with_id else None, created)


def at_broker(intent: OrderIntent, status: str, filled: int = 0, quantity: int | None = None) -> BrokerOrder:
    return BrokerOrder(intent.order_ref, IDS.get(intent.order_ref, 99), intent.symbol, intent.action,
                       intent.order_type, quantity or intent.quantity, status, filled,
                       stop_price=intent.stop_price, limit_price=intent.limit_price)


def execution(intent: OrderIntent, shares: int, price: float, n: int = 1) -> BrokerExecution:
    side = "SLD" if intent.action == "SELL" else "BOT"
    return BrokerExecution(f"0001.{intent.order_ref}.{n}", intent.order_ref, IDS[intent.order_ref], intent.symbol,
                           side, shares, price, NOW - timedelta(seconds=10))


def short_position(quantity: int) -> tuple[BrokerPosition, ...]:
    return (BrokerPosition("NQ", -quantity, 25_572.0 * 20),)


def sized(quantity: int) -> tuple[OrderIntent, OrderIntent, OrderIntent]:
    return build_bracket(S1, Direction.SHORT, "NQ", quantity, 25_572.0, 25_593.0, 25_501.0).orders


# ------------------------------------------------------------------ scenarios with exact actions


def test_crash_between_intent_and_send_resends_the_stored_bracket_once() -> None:
    plan = reconcile([stored(ENTRY), stored(STOP), stored(TARGET)], BrokerView(), NOW)
    assert plan.actions == (SendBracket(S1, (ENTRY, STOP, TARGET)),)


def test_intent_older_than_one_candle_is_expired_not_sent() -> None:
    plan = reconcile([stored(o, created=STALE) for o in (ENTRY, STOP, TARGET)], BrokerView(), NOW)
    assert plan.actions == tuple(
        MarkOrder(o.order_ref, OrderStatus.EXPIRED, 0, None, None, "not sent: its entry is older than one candle")
        for o in (ENTRY, STOP, TARGET))


def test_after_entry_fill_orders_are_marked_and_nothing_is_sent() -> None:
    broker = BrokerView(
        open_orders=(at_broker(STOP, "PreSubmitted"), at_broker(TARGET, "Submitted")),
        completed_orders=(at_broker(ENTRY, "Filled", filled=1),),
        executions=(execution(ENTRY, 1, 25_571.75),),
        positions=short_position(1),
    )
    plan = reconcile([stored(ENTRY, OrderStatus.SENT), stored(STOP, OrderStatus.SENT), stored(TARGET, OrderStatus.SENT)],
                     broker, NOW)
    assert plan.actions == (
        RecordExecution(broker.executions[0]),
        MarkOrder(ENTRY.order_ref, OrderStatus.FILLED, 1, 11, 25_571.75),
        MarkOrder(STOP.order_ref, OrderStatus.WORKING, 0, 12, None),
        MarkOrder(TARGET.order_ref, OrderStatus.WORKING, 0, 13, None),
    )
    assert not plan.changes_orders


def test_already_recorded_execution_is_not_recorded_again() -> None:
    broker = BrokerView(open_orders=(at_broker(STOP, "PreSubmitted"), at_broker(TARGET, "Submitted")),
                        completed_orders=(at_broker(ENTRY, "Filled", filled=1),),
                        executions=(execution(ENTRY, 1, 25_571.75),) * 2, positions=short_position(1))
    plan = reconcile([stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.WORKING, with_id=True),
                      stored(TARGET, OrderStatus.WORKING, with_id=True)], broker, NOW,
                     known_exec_ids=frozenset({broker.executions[0].exec_id}))
    assert plan.actions == ()


def test_stale_partial_fill_cancels_the_rest_and_resizes_children_to_the_filled_quantity() -> None:
    entry, stop, target = sized(3)
    broker = BrokerView(
        open_orders=(at_broker(entry, "Submitted", filled=2), at_broker(stop, "PreSubmitted"),
                     at_broker(target, "PreSubmitted")),
        executions=(execution(entry, 1, 25_572.0, 1), execution(entry, 1, 25_571.5, 2)),
        positions=short_position(2),
    )
    plan = reconcile([stored(o, OrderStatus.WORKING, created=STALE, with_id=True) for o in (entry, stop, target)],
                     broker, NOW, known_exec_ids=frozenset(e.exec_id for e in broker.executions))
    assert plan.actions == (
        MarkOrder(entry.order_ref, OrderStatus.WORKING, 2, 11, 25_571.75),
        CancelOrder(entry.order_ref, 11, "cancel unfilled entry: it is older than one candle"),
        ResizeOrder(stop.order_ref, 12, 2, "stop must cover the 2 contract(s) held"),
        ResizeOrder(target.order_ref, 13, 2, "target must cover the 2 contract(s) held"),
    )


def test_fresh_partial_fill_leaves_the_bracket_working() -> None:
    entry, stop, target = sized(3)
    broker = BrokerView(open_orders=(at_broker(entry, "Submitted", filled=2), at_broker(stop, "PreSubmitted"),
                                     at_broker(target, "PreSubmitted")), positions=short_position(2))
    plan = reconcile([stored(o, OrderStatus.WORKING, created=FRESH, with_id=True) for o in (entry, stop, target)],
                     broker, NOW)
    assert plan.actions == (MarkOrder(entry.order_ref, OrderStatus.WORKING, 2, 11, None),)


def test_partial_fill_of_a_cancelled_entry_resizes_children() -> None:
    entry, stop, target = sized(3)
    broker = BrokerView(open_orders=(at_broker(stop, "Submitted"), at_broker(target, "Submitted")),
                        completed_orders=(at_broker(entry, "Cancelled", filled=2),), positions=short_position(2))
    plan = reconcile([stored(entry, OrderStatus.CANCELLED, 2, with_id=True),
                      stored(stop, OrderStatus.WORKING, with_id=True), stored(target, OrderStatus.WORKING, with_id=True)],
                     broker, NOW)
    assert plan.actions == (
        ResizeOrder(stop.order_ref, 12, 2, "stop must cover the 2 contract(s) held"),
        ResizeOrder(target.order_ref, 13, 2, "target must cover the 2 contract(s) held"),
    )


def test_position_whose_stop_is_gone_gets_a_new_stop_and_target_pair() -> None:
    broker = BrokerView(open_orders=(at_broker(TARGET, "Submitted"),),
                        completed_orders=(at_broker(ENTRY, "Filled", 1), at_broker(STOP, "Inactive")),
                        positions=short_position(1))
    plan = reconcile([stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.WORKING, with_id=True),
                      stored(TARGET, OrderStatus.WORKING, with_id=True)], broker, NOW)
    marks, cancels, places = plan.of_type(MarkOrder), plan.of_type(CancelOrder), plan.of_type(PlaceOrders)
    assert marks == [MarkOrder(STOP.order_ref, OrderStatus.INACTIVE, 0, 12, None)]
    assert cancels == [CancelOrder(TARGET.order_ref, 13, "cancel target: its stop is gone; re-issuing both")]
    (place,) = places
    stop2, target2 = place.orders
    assert (stop2.order_ref, stop2.action, stop2.order_type, stop2.quantity, stop2.stop_price, stop2.tif) == (
        "slob:NQ-20260106-S1:stop.2", "BUY", "STP", 1, 25_593.0, "GTC")
    assert (target2.order_ref, target2.limit_price, target2.oca_group) == (
        "slob:NQ-20260106-S1:target.2", 25_501.0, "slob:NQ-20260106-S1:oca.2")
    assert stop2.transmit and target2.transmit


def test_target_filled_one_of_two_and_stop_gone_reprotects_the_lot_still_held() -> None:
    # What an OCA group of the cancel type did to a 2-lot bracket: the target's partial fill cancelled the stop.
    entry, stop, target = sized(2)
    broker = BrokerView(open_orders=(at_broker(target, "Submitted", filled=1),),
                        completed_orders=(at_broker(entry, "Filled", 2), at_broker(stop, "Cancelled")),
                        executions=(execution(entry, 2, 25_572.0), execution(target, 1, 25_501.0)),
                        positions=short_position(1))
    plan = reconcile([stored(entry, OrderStatus.FILLED, 2, with_id=True), stored(stop, OrderStatus.CANCELLED, with_id=True),
                      stored(target, OrderStatus.WORKING, 1, with_id=True)], broker, NOW,
                     known_exec_ids=frozenset(e.exec_id for e in broker.executions))
    assert plan.of_type(CancelOrder) == [CancelOrder(target.order_ref, 13, "cancel target: its stop is gone; re-issuing both")]
    (place,) = plan.of_type(PlaceOrders)
    assert [(o.order_ref, o.quantity, o.oca_type) for o in place.orders] == [
        ("slob:NQ-20260106-S1:stop.2", 1, 2), ("slob:NQ-20260106-S1:target.2", 1, 2)]


def test_stop_covering_less_than_the_position_is_resized_to_it() -> None:
    # A stop exists, but for 1 of the 2 lots held: its remaining quantity is what counts, not its presence.
    entry, stop, target = sized(2)
    broker = BrokerView(open_orders=(at_broker(stop, "Submitted", quantity=1), at_broker(target, "Submitted")),
                        completed_orders=(at_broker(entry, "Filled", 2),),
                        executions=(execution(entry, 2, 25_572.0),), positions=short_position(2))
    plan = reconcile([stored(entry, OrderStatus.FILLED, 2, with_id=True), stored(stop, OrderStatus.WORKING, with_id=True),
                      stored(target, OrderStatus.WORKING, with_id=True)], broker, NOW,
                     known_exec_ids=frozenset(e.exec_id for e in broker.executions))
    assert plan.of_type(ResizeOrder) == [ResizeOrder(stop.order_ref, 12, 2, "stop must cover the 2 contract(s) held")]
    assert plan.of_type(PlaceOrders) == []


def test_target_filled_one_of_two_with_the_stop_reduced_to_one_needs_nothing() -> None:
    entry, stop, target = sized(2)
    broker = BrokerView(open_orders=(at_broker(stop, "Submitted", quantity=1), at_broker(target, "Submitted", filled=1)),
                        completed_orders=(at_broker(entry, "Filled", 2),),
                        executions=(execution(entry, 2, 25_572.0), execution(target, 1, 25_501.0)),
                        positions=short_position(1))
    plan = reconcile([stored(entry, OrderStatus.FILLED, 2, with_id=True), stored(stop, OrderStatus.WORKING, with_id=True),
                      stored(target, OrderStatus.WORKING, 1, with_id=True)], broker, NOW,
                     known_exec_ids=frozenset(e.exec_id for e in broker.executions))
    assert plan.changes_orders is False, plan.actions


def test_position_whose_stop_price_is_already_crossed_is_flattened() -> None:
    broker = BrokerView(completed_orders=(at_broker(ENTRY, "Filled", 1), at_broker(STOP, "Cancelled"),
                                          at_broker(TARGET, "Cancelled")), positions=short_position(1))
    plan = reconcile([stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.CANCELLED, with_id=True),
                      stored(TARGET, OrderStatus.CANCELLED, with_id=True)], broker, NOW, last_prices={"NQ": 25_600.0})
    (place,) = plan.actions
    assert isinstance(place, PlaceOrders)
    (flatten,) = place.orders
    assert (flatten.order_ref, flatten.action, flatten.order_type, flatten.quantity) == (
        "slob:NQ-20260106-S1:flatten.2", "BUY", "MKT", 1)
    assert "25,600.00 is through the stop 25,593.00" in place.reason


@pytest.mark.parametrize("direction", [Direction.SHORT, Direction.LONG])
@pytest.mark.parametrize(("beyond", "flattened"), [(0.25, True), (0.0, True), (-0.25, False), (None, False)])
def test_a_stop_the_last_price_has_reached_is_not_placed_the_position_is_flattened(
        direction: Direction, beyond: float | None, flattened: bool) -> None:
    """IB triggers a sell stop at or below its price, a buy stop at or above: a price AT the stop is through it.

    `beyond` is how far the last price is past the stop in the losing direction (None: no price known).
    """
    sign = 1 if direction is Direction.SHORT else -1
    stop_price = 25_593.0 if direction is Direction.SHORT else 25_551.0
    target_price = 25_501.0 if direction is Direction.SHORT else 25_643.0
    entry, stop, target = build_bracket(S1, direction, "NQ", 1, 25_572.0, stop_price, target_price).orders
    broker = BrokerView(completed_orders=(at_broker(entry, "Filled", 1), at_broker(stop, "Cancelled"),
                                          at_broker(target, "Cancelled")),
                        positions=(BrokerPosition("NQ", -sign, 25_572.0 * 20),))
    prices = {} if beyond is None else {"NQ": stop_price + sign * beyond}
    plan = reconcile([stored(entry, OrderStatus.FILLED, 1, with_id=True), stored(stop, OrderStatus.CANCELLED, with_id=True),
                      stored(target, OrderStatus.CANCELLED, with_id=True)], broker, NOW, last_prices=prices)
    (place,) = plan.actions
    assert isinstance(place, PlaceOrders)
    closing = "BUY" if direction is Direction.SHORT else "SELL"
    if flattened:
        assert [(o.order_ref, o.action, o.order_type) for o in place.orders] == [
            ("slob:NQ-20260106-S1:flatten.2", closing, "MKT")]
        assert f"is through the stop {stop_price:,.2f}" in place.reason
    else:
        assert [(o.order_ref, o.action, o.order_type, o.stop_price) for o in place.orders[:1]] == [
            ("slob:NQ-20260106-S1:stop.2", closing, "STP", stop_price)]


def test_completed_bracket_is_only_marked() -> None:
    broker = BrokerView(completed_orders=(at_broker(ENTRY, "Filled", 1), at_broker(STOP, "Cancelled"),
                                          at_broker(TARGET, "Filled", 1)),
                        executions=(execution(ENTRY, 1, 25_572.0), execution(TARGET, 1, 25_501.0)))
    plan = reconcile([stored(o, OrderStatus.WORKING, with_id=True) for o in (ENTRY, STOP, TARGET)], broker, NOW,
                     known_exec_ids=frozenset(e.exec_id for e in broker.executions))
    assert plan.actions == (
        MarkOrder(ENTRY.order_ref, OrderStatus.FILLED, 1, 11, 25_572.0),
        MarkOrder(STOP.order_ref, OrderStatus.CANCELLED, 0, 12, None),
        MarkOrder(TARGET.order_ref, OrderStatus.FILLED, 1, 13, 25_501.0),
    )


def test_leftover_target_after_the_stop_filled_is_cancelled() -> None:
    broker = BrokerView(open_orders=(at_broker(TARGET, "Submitted"),),
                        completed_orders=(at_broker(ENTRY, "Filled", 1), at_broker(STOP, "Filled", 1)))
    plan = reconcile([stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.FILLED, 1, with_id=True),
                      stored(TARGET, OrderStatus.WORKING, with_id=True)], broker, NOW)
    assert plan.actions == (CancelOrder(TARGET.order_ref, 13, "cancel leftover exit: the setup holds no position"),)


def test_entry_at_broker_without_its_children_is_cancelled_and_children_expired() -> None:
    broker = BrokerView(open_orders=(at_broker(ENTRY, "PreSubmitted"),))
    plan = reconcile([stored(ENTRY, OrderStatus.SENT), stored(STOP), stored(TARGET)], broker, NOW)
    note = "not sent: other orders of this setup already reached the broker"
    assert plan.actions == (
        MarkOrder(ENTRY.order_ref, OrderStatus.WORKING, 0, 11, None),
        MarkOrder(STOP.order_ref, OrderStatus.EXPIRED, 0, None, None, note),
        MarkOrder(TARGET.order_ref, OrderStatus.EXPIRED, 0, None, None, note),
        CancelOrder(ENTRY.order_ref, 11, "cancel unfilled entry: its stop or target never reached the broker"),
    )


def test_store_lost_but_broker_knows_the_bracket_never_resends() -> None:
    broker = BrokerView(open_orders=tuple(at_broker(o, "PreSubmitted") for o in (ENTRY, STOP, TARGET)))
    plan = reconcile([], broker, NOW)
    assert [a.kind for a in plan.of_type(Report)] == ["UNKNOWN_OWN_ORDER"] * 3
    leftover = "cancel leftover exit: the setup holds no position"
    assert plan.actions[3:] == (CancelOrder(ENTRY.order_ref, 11, "cancel unfilled entry: its age is unknown"),
                                CancelOrder(STOP.order_ref, 12, leftover), CancelOrder(TARGET.order_ref, 13, leftover))
    assert not plan.of_type(SendBracket) and not plan.of_type(PlaceOrders)


def test_foreign_orders_are_reported_and_left_alone() -> None:
    manual_stop = BrokerOrder("manual", 500, "NQ", "BUY", "STP", 1, "Submitted", stop_price=25_700.0)
    no_ref = BrokerOrder(None, 501, "NQ", "SELL", "LMT", 1, "Submitted", limit_price=25_000.0)
    broker = BrokerView(open_orders=(manual_stop, no_ref), positions=(BrokerPosition("NQ", -1, 0.0),))
    plan = reconcile([], broker, NOW)
    assert [(type(a), getattr(a, "kind", None)) for a in plan.actions] == [
        (Report, "FOREIGN_ORDER"), (Report, "FOREIGN_ORDER"), (Report, "UNEXPLAINED_POSITION")]
    assert plan.actions[2].detail == "NQ holds -1 contract(s) that no setup explains; covered by working orders"
    assert not plan.changes_orders


def test_unexplained_position_without_stop_is_flattened() -> None:
    plan = reconcile([], BrokerView(positions=(BrokerPosition("MNQ", 3, 0.0),)), NOW)
    report, place = plan.actions
    assert isinstance(report, Report) and report.detail.endswith("3 unprotected")
    assert isinstance(place, PlaceOrders) and place.setup_id == "orphan-MNQ"
    (flatten,) = place.orders
    assert (flatten.order_ref, flatten.action, flatten.quantity, flatten.symbol) == (
        "slob:orphan-MNQ:flatten", "SELL", 3, "MNQ")
    reported_only = reconcile([], BrokerView(positions=(BrokerPosition("MNQ", 3, 0.0),)), NOW, flatten_unexplained=False)
    assert [type(a) for a in reported_only.actions] == [Report]


def test_fresh_bracket_is_not_resent_while_the_symbol_holds_a_position() -> None:
    plan = reconcile([stored(ENTRY), stored(STOP), stored(TARGET)],
                     BrokerView(positions=short_position(1)), NOW, flatten_unexplained=False)
    assert not plan.of_type(SendBracket)
    assert {m.status for m in plan.of_type(MarkOrder)} == {OrderStatus.EXPIRED}


def test_order_matched_by_broker_id_when_the_ref_is_missing() -> None:
    broker = BrokerView(open_orders=(replace(at_broker(STOP, "Submitted"), order_ref=None),
                                     replace(at_broker(TARGET, "Submitted"), order_ref="")),
                        completed_orders=(at_broker(ENTRY, "Filled", 1),), positions=short_position(1))
    plan = reconcile([stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.WORKING, with_id=True),
                      stored(TARGET, OrderStatus.WORKING, with_id=True)], broker, NOW)
    assert plan.actions == ()


def test_entry_pending_submit_at_broker_counts_as_reached_and_is_never_resent() -> None:
    # Found by the property test: PendingSubmit maps to SENT, which must not read as "never sent".
    broker = BrokerView(open_orders=(at_broker(ENTRY, "PendingSubmit"),))
    plan = reconcile([stored(ENTRY), stored(STOP), stored(TARGET)], broker, NOW)
    assert not plan.of_type(SendBracket)
    assert plan.of_type(CancelOrder) == [
        CancelOrder(ENTRY.order_ref, 11, "cancel unfilled entry: its stop or target never reached the broker")]


def test_working_flatten_after_the_position_closed_is_cancelled() -> None:
    flatten = BrokerOrder("slob:NQ-20260106-S1:flatten.2", 21, "NQ", "BUY", "MKT", 1, "Submitted")
    broker = BrokerView(open_orders=(flatten,), completed_orders=(at_broker(ENTRY, "Filled", 1),
                        at_broker(STOP, "Filled", 1), at_broker(TARGET, "Cancelled")))
    stored_rows = [stored(ENTRY, OrderStatus.FILLED, 1, with_id=True), stored(STOP, OrderStatus.FILLED, 1, with_id=True),
                   stored(TARGET, OrderStatus.CANCELLED, with_id=True)]
    plan = reconcile(stored_rows, broker, NOW)
    assert plan.of_type(CancelOrder) == [
        CancelOrder("slob:NQ-20260106-S1:flatten.2", 21, "cancel flatten: more than the position to close")]
    assert not plan.of_type(PlaceOrders)


def test_working_flatten_counts_as_protection_and_its_exits_are_cancelled() -> None:
    flatten = BrokerOrder("slob:NQ-20260106-S1:flatten.2", 21, "NQ", "BUY", "MKT", 1, "Submitted")
    broker = BrokerView(open_orders=(flatten, at_broker(TARGET, "Submitted")),
                        completed_orders=(at_broker(ENTRY, "Filled", 1), at_broker(STOP, "Cancelled")),
                        positions=short_position(1))
    stored_rows = [stored(ENTRY, OrderStatus.FILLED, 1, with_id=True),
                   stored(STOP, OrderStatus.CANCELLED, with_id=True), stored(TARGET, OrderStatus.WORKING, with_id=True)]
    plan = reconcile(stored_rows, broker, NOW)
    assert plan.of_type(CancelOrder) == [
        CancelOrder(TARGET.order_ref, 13, "cancel leftover exit: a flatten order is closing the position")]
    assert not plan.of_type(PlaceOrders)


def test_the_plan_counts_the_setups_that_hold_a_risk_slot_from_the_broker_not_from_the_store() -> None:
    held, working, expired = (build_bracket(setup, Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0).orders
                              for setup in ("NQ-20260106-S1", "NQ-20260106-S2", "NQ-20260106-S3"))
    broker = BrokerView(open_orders=(at_broker(held[1], "Submitted"), at_broker(working[0], "Submitted")),
                        completed_orders=(at_broker(held[0], "Filled", 1),),
                        executions=(BrokerExecution("e1", held[0].order_ref, 5, "NQ", "SLD", 1, 25_572.0, NOW),),
                        positions=short_position(1))
    plan = reconcile([stored(o, OrderStatus.WORKING) for o in (*held, working[0])]
                     + [stored(o, created=STALE) for o in expired], broker, NOW)
    # S1 is held at the broker and S2's entry still works: two slots. S3 was approved (the risk state
    # counted it) but its intent went stale unsent: it holds none.
    assert plan.holding == {"NQ-20260106-S1", "NQ-20260106-S2"}
    assert [a.order_ref for a in plan.of_type(MarkOrder) if a.status is OrderStatus.EXPIRED] == [o.order_ref
                                                                                                for o in expired]


def test_a_bracket_sent_again_holds_its_slot() -> None:
    plan = reconcile([stored(ENTRY), stored(STOP), stored(TARGET)], BrokerView(), NOW)
    assert plan.of_type(SendBracket) and plan.holding == {S1}


def test_reconcile_actions_are_described_in_one_human_line() -> None:
    from slob_cli.core.orders import OrderIntent, OrderRole
    from slob_cli.core.reconcile_actions import CancelOrder, PlaceOrders, ResizeOrder, describe

    ref = "slob:NQ-20260106-S1"
    stop = OrderIntent(f"{ref}:stop.2", "NQ-20260106-S1", OrderRole.STOP, "NQ", "BUY", "STP", 1, stop_price=25593.0)
    target = OrderIntent(f"{ref}:target.2", "NQ-20260106-S1", OrderRole.TARGET, "NQ", "BUY", "LMT", 1,
                         limit_price=25501.0)
    flatten = OrderIntent(f"{ref}:flatten.2", "NQ-20260106-S1", OrderRole.FLATTEN, "NQ", "BUY", "MKT", 1)
    assert describe(PlaceOrders("NQ-20260106-S1", (stop, target), "position without a working stop")) == (
        f"placing {ref}:stop.2 BUY 1 STP 25,593.00, {ref}:target.2 BUY 1 LMT 25,501.00 (position without a working stop)")
    assert describe(PlaceOrders("NQ-20260106-S1", (flatten,), "flatten 1 unexplained NQ")) == (
        f"placing {ref}:flatten.2 BUY 1 MKT (flatten 1 unexplained NQ)")
    assert describe(CancelOrder(f"{ref}:stop", 9, "no position")) == f"cancelling {ref}:stop (no position)"
    assert describe(ResizeOrder(f"{ref}:stop", 9, 1, "position is 1")) == f"resizing {ref}:stop to 1 (position is 1)"
