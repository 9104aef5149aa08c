"""The executor books a trade's result once, when final: the log, the risk state and the trades row agree."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.orders import OrderRepository
from slob_cli.core.broker_view import BrokerExecution, OrderStatus
from slob_cli.core.models import Direction
from slob_cli.core.orders import build_bracket
from slob_cli.core.risk import RiskManager
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.executor import RISK_STATE_KEY, OrderExecutor

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 15, 32, tzinfo=UTC)
SETUP = "NQ-20260106-S1"


def _executor(store: Store) -> OrderExecutor:
    bracket = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25478.0, 25490.0, 25406.0, "MKT")
    repo = OrderRepository(store)
    repo.insert_intents(list(bracket.orders), T0)
    repo.update_status(f"slob:{SETUP}:entry", OrderStatus.FILLED, 1, 25477.75, T0)
    executor = OrderExecutor(store, None, RiskManager(), ManualClock(T0))
    executor.on_execution(BrokerExecution("e1", f"slob:{SETUP}:entry", 1, "NQ", "SLD", 1, 25477.75, T0))
    executor.on_commission("e1", 2.25, None)
    executor.on_execution(BrokerExecution("e2", f"slob:{SETUP}:target", 3, "NQ", "BOT", 1, 25406.0,
                                          T0 + timedelta(minutes=20)))
    return executor


def test_a_closed_trade_is_booked_when_its_exit_commission_arrives(store: Store,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "slob_cli.runtime.executor")
    executor = _executor(store)
    assert "position closed" not in caplog.text  # the exit's commission is not known yet
    executor.on_commission("e2", 2.25, 1430.5)
    trade = OrderRepository(store).trade(SETUP)
    assert (trade["status"], trade["gross_money"], trade["commission"], trade["pnl_money"]) == (
        "CLOSED", 1435.0, 4.5, 1430.5)
    assert store.get_state(RISK_STATE_KEY)["realized_pnl_today"] == 1430.5
    assert "$+1,430.50 net (gross $+1,435.00, commission $4.50)" in caplog.text
    executor.on_commission("e2", 2.25, 1430.5)  # a repeated report books nothing twice
    assert store.get_state(RISK_STATE_KEY)["realized_pnl_today"] == 1430.5 and caplog.text.count("position closed") == 1


def test_a_missing_commission_report_is_booked_at_the_end_with_what_is_known(store: Store) -> None:
    executor = _executor(store)
    executor.settle_pending()
    assert store.get_state(RISK_STATE_KEY)["realized_pnl_today"] == OrderRepository(store).trade(SETUP)["pnl_money"]
    assert OrderRepository(store).trade(SETUP)["pnl_money"] == 1432.75  # gross 1435 - the entry's 2.25


def test_reconciliation_rebuilds_open_positions_but_keeps_a_slot_freed_while_the_snapshot_was_taken(
        store: Store) -> None:
    import asyncio

    from slob_cli.core.broker_view import BrokerOrder, BrokerView
    from slob_cli.core.risk import RiskState

    entry, stop, target = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25478.0, 25490.0, 25406.0, "MKT").orders
    repo = OrderRepository(store)
    repo.insert_intents([entry, stop, target], T0)
    repo.mark_sent({entry.order_ref: 1, stop.order_ref: 2, target.order_ref: 3}, T0)
    # The counter says two (one of them a slot leaked by a crash); the broker works this setup's entry.
    store.put_state(RISK_STATE_KEY, {**RiskState.initial(100_000.0).to_dict(), "open_positions": 2}, T0)

    def at_broker(intent, status: str) -> BrokerOrder:
        return BrokerOrder(intent.order_ref, {entry: 1, stop: 2, target: 3}[intent], "NQ", intent.action,
                           intent.order_type, intent.quantity, status, 0)

    class Port:
        cancel_arrives = False

        def equity(self) -> None:
            return None

        async def snapshot(self) -> BrokerView:
            if self.cancel_arrives:  # the entry's cancel is confirmed between reqAllOpenOrders and the plan
                executor.on_status(at_broker(entry, "Cancelled"))
            return BrokerView(open_orders=(at_broker(entry, "Submitted"), at_broker(stop, "PreSubmitted"),
                                           at_broker(target, "PreSubmitted")))

    port = Port()
    executor = OrderExecutor(store, port, RiskManager(), ManualClock(T0 + timedelta(seconds=10)))
    asyncio.run(executor.reconcile())
    assert store.get_state(RISK_STATE_KEY)["open_positions"] == 1, "the working entry holds the one slot"
    port.cancel_arrives = True
    asyncio.run(executor.reconcile())
    assert store.get_state(RISK_STATE_KEY)["open_positions"] == 0, "the confirmed cancel freed it for good"


def _two_lots_sent(store: Store) -> tuple[OrderExecutor, OrderRepository, list[bool], tuple]:
    """A sent 2-lot SHORT bracket and an executor that counts the reconciliations it asks for."""
    orders = build_bracket(SETUP, Direction.SHORT, "NQ", 2, 25478.0, 25490.0, 25406.0, "MKT").orders
    repo = OrderRepository(store)
    repo.insert_intents(list(orders), T0)
    repo.mark_sent({order.order_ref: n for n, order in enumerate(orders, 1)}, T0)
    reconciles: list[bool] = []
    executor = OrderExecutor(store, None, RiskManager(), ManualClock(T0), request_reconcile=lambda: reconciles.append(True))
    return executor, repo, reconciles, orders


def test_an_exit_that_filled_in_part_is_not_the_exit_and_its_cancelled_sibling_is_reprotected(store: Store) -> None:
    from slob_cli.core.broker_view import BrokerOrder

    executor, repo, reconciles, (entry, stop, target) = _two_lots_sent(store)

    def status(intent, state: str, filled: int, quantity: int = 2) -> None:
        executor.on_status(BrokerOrder(intent.order_ref, {entry: 1, stop: 2, target: 3}[intent], "NQ", intent.action,
                                       intent.order_type, quantity, state, filled))

    status(entry, "Filled", 2)
    executor.on_execution(BrokerExecution("e1", entry.order_ref, 1, "NQ", "SLD", 2, 25477.75, T0))
    executor.on_commission("e1", 4.5, None)
    status(target, "Submitted", 1)
    executor.on_execution(BrokerExecution("e2", target.order_ref, 3, "NQ", "BOT", 1, 25406.0, T0 + timedelta(minutes=9)))
    executor.on_commission("e2", 2.25, None)
    half = repo.trade(SETUP)
    assert (half["status"], half["quantity"], half["exit_reason"], half["exit_time"], half["settled_at"]) == (
        "OPEN", 2, None, None, None), "1 of 2 lots out: the trade is still open"
    assert store.get_state(RISK_STATE_KEY) is None or store.get_state(RISK_STATE_KEY)["realized_pnl_today"] == 0
    status(stop, "Cancelled", 0, quantity=1)  # someone cancels the stop of the lot still held
    assert reconciles == [True], "the lot still held is re-protected"
    executor.on_execution(BrokerExecution("e3", stop.order_ref, 2, "NQ", "BOT", 1, 25490.0, T0 + timedelta(minutes=12)))
    executor.on_commission("e3", 2.25, None)
    trade = repo.trade(SETUP)
    assert (trade["status"], trade["quantity"], trade["exit_reason"]) == ("CLOSED", 2, "stop")
    # (25477.75 - avg(25406, 25490) = 25448) x 20 x 2 = 1190, less 9.00 commission.
    assert (trade["gross_money"], trade["commission"], trade["pnl_money"]) == (1190.0, 9.0, 1181.0)
    assert store.get_state(RISK_STATE_KEY)["realized_pnl_today"] == 1181.0


def test_the_sibling_cancelled_once_the_exits_made_the_position_flat_is_left_alone(store: Store) -> None:
    from slob_cli.core.broker_view import BrokerOrder

    executor, _repo, reconciles, (entry, stop, target) = _two_lots_sent(store)
    executor.on_execution(BrokerExecution("e1", entry.order_ref, 1, "NQ", "SLD", 2, 25477.75, T0))
    # The target's final status arrives before its execution; the stop, reduced to nothing, is cancelled.
    executor.on_status(BrokerOrder(target.order_ref, 3, "NQ", "BUY", "LMT", 2, "Filled", 2))
    executor.on_status(BrokerOrder(stop.order_ref, 2, "NQ", "BUY", "STP", 0, "Cancelled", 0))
    assert reconciles == []
