"""broker_order: a refused new order reads as IB's Inactive; a cancel of a live order stays Cancelled."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ib_async import Contract, Order, OrderStatus, Trade, TradeLogEntry

from slob_cli.adapters.ib.orders import broker_order

WHEN = datetime(2026, 1, 6, 15, 32, tzinfo=timezone.utc)


def _trade(final: str, history: list[tuple[str, int]]) -> Trade:
    order = Order(orderId=8, action="SELL", totalQuantity=1, orderType="MKT", orderRef="slob:S1:entry")
    log = [TradeLogEntry(WHEN, status, "", code) for status, code in history]
    return Trade(Contract(symbol="NQ"), order, OrderStatus(orderId=8, status=final), [], log)


@pytest.mark.parametrize("final, history, expected", [
    ("Cancelled", [("PendingSubmit", 0), ("Cancelled", 201)], "Inactive"),
    ("ValidationError", [("PendingSubmit", 0), ("ValidationError", 321)], "Inactive"),
    ("Cancelled", [("PendingSubmit", 0), ("Submitted", 0), ("Cancelled", 0)], "Cancelled"),
    ("Cancelled", [("PendingSubmit", 0), ("Submitted", 0), ("Cancelled", 202)], "Cancelled"),
    ("ValidationError", [("Submitted", 0), ("ValidationError", 321)], "ValidationError"),
    ("Submitted", [("PendingSubmit", 0), ("Submitted", 0)], "Submitted"),
])
def test_refused_new_order_is_inactive_and_cancel_of_live_order_is_not(
        final: str, history: list[tuple[str, int]], expected: str) -> None:
    assert broker_order(_trade(final, history)).status == expected


def test_an_execution_carries_its_commission_only_once_the_report_for_it_came() -> None:
    from ib_async import CommissionReport, Execution, Fill

    from slob_cli.adapters.ib.orders import broker_execution

    execution = Execution(execId="0001.01", orderId=8, orderRef="slob:S1:entry", side="SLD", shares=2,
                          price=25_571.75, time=WHEN, permId=77)
    fresh = Fill(Contract(symbol="NQ"), execution, CommissionReport(), WHEN)  # execDetails, its report to come
    assert (broker_execution(fresh).commission, broker_execution(fresh).realized_pnl) == (None, None)
    report = CommissionReport(execId="0001.01", commission=4.5, currency="USD", realizedPNL=0.0)
    reported = Fill(Contract(symbol="NQ"), execution, report, WHEN)
    assert (broker_execution(reported).commission, broker_execution(reported).realized_pnl) == (4.5, None)
    # A repeated reqExecutions hands out fresh Fills; the report kept on the first one is passed in.
    assert broker_execution(fresh, report).commission == 4.5


def test_bracket_exits_go_out_in_one_reduce_with_block_oca_group() -> None:
    from slob_cli.adapters.ib.orders import ib_order
    from slob_cli.core.models import Direction
    from slob_cli.core.orders import build_bracket

    bracket = build_bracket("S1", Direction.SHORT, "NQ", 2, 25_572.0, 25_593.0, 25_501.0)
    stop = ib_order(bracket.stop, 9, 8, "DU1")
    target = ib_order(bracket.target, 10, 8, "DU1")
    entry = ib_order(bracket.entry, 8, 0, "DU1")
    # ocaType 2: a partial fill of the target shrinks the stop (type 1 would cancel it and leave the rest naked).
    assert (stop.ocaGroup, stop.ocaType) == (target.ocaGroup, target.ocaType) == ("slob:S1:oca", 2)
    assert (stop.parentId, target.parentId, stop.totalQuantity) == (8, 8, 2.0)
    assert entry.ocaGroup == ""
