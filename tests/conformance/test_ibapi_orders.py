"""IB's official client (ibapi) trading on the simulated gateway: every order flow slob uses, and rejections."""

from __future__ import annotations

import math

import pytest
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order

from slob_cli.sim.gateway import SimGatewayThread
from tests.conformance.ibapi_client import IbapiApp, ibapi_client, nq_future
from tests.conftest import eventually

ACCOUNT = "DU1234567"


def _front(app: IbapiApp) -> Contract:
    app.reqContractDetails(90, nq_future("NQH6"))
    [(_, details)] = app.wait_for("contractDetails", where=lambda args: args[0] == 90)
    return details.contract


def _order(action: str, quantity: float, order_type: str, price: float | None = None, **fields: object) -> Order:
    order = Order()
    order.action, order.totalQuantity, order.orderType = action, quantity, order_type
    if order_type in ("LMT", "STP LMT") and price is not None:
        order.lmtPrice = price
    if order_type == "STP" and price is not None:
        order.auxPrice = price
    for name, value in fields.items():
        setattr(order, name, value)
    return order


def _status(app: IbapiApp, order_id: int) -> str:
    statuses = [args[1] for args in app.of("orderStatus") if args[0] == order_id]
    return statuses[-1] if statuses else ""


def _price(gateway: SimGatewayThread) -> float:
    tick = gateway.gateway.market.last_tick_before(gateway.clock.now())
    assert tick is not None
    return tick.price


def test_bad_order_fields_get_ibs_errors_and_the_connection_stays(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        cases = {
            app.next_id(): (_order("BUY", 1, "LMT", math.nan), 320),  # ibapi writes 'nan'
            app.next_id(): (_order("BUY", 1, "LMT", -25.0), 163),
            app.next_id(): (_order("BUY", 1_000_000_000, "LMT", 1000.0), 383),
            app.next_id(): (_order("BUY", 1, "LMT", 1000.1), 110),
        }
        for order_id, (order, _) in cases.items():
            app.placeOrder(order_id, contract, order)
        for order_id, (_, code) in cases.items():
            app.wait(lambda oid=order_id: bool(app.errors(oid)))
            [(_, got, message)] = app.errors(order_id)
            assert got == code, message
        good = app.next_id()
        app.placeOrder(good, contract, _order("BUY", 1, "LMT", 1000.0))
        app.wait(lambda: _status(app, good) == "Submitted")
        assert app.isConnected() and gateway.client_count == 1
    size_message = next(message for _, code, message in app.errors() if code == 383)
    assert "size exceeds the Size Limit of 500" in size_message
    assert not gateway.broker.open_orders()[0].quantity > 1


def test_a_market_order_fills_with_execution_commission_and_status(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        order_id = app.next_id()
        app.placeOrder(order_id, contract, _order("BUY", 2, "MKT"))
        app.wait(lambda: _status(app, order_id) == "Filled")
        [(request_id, _, execution)] = app.wait_for("execDetails")
        [(report,)] = app.wait_for("commissionAndFeesReport")
        app.reqPositions()
        app.wait_for("positionEnd")
        app.reqExecutions(91, ExecutionFilter())
        app.wait_for("execDetailsEnd")
    assert request_id == -1 and execution.side == "BOT" and execution.shares == 2 and execution.orderId == order_id
    assert report.execId == execution.execId and report.commissionAndFees > 0
    [(account, position_contract, quantity, average_cost)] = app.of("position")
    assert (account, position_contract.conId, quantity) == (ACCOUNT, contract.conId, 2)
    # IB folds the opening commission into a future's avgCost (price x multiplier + commission per contract).
    assert average_cost == pytest.approx(execution.price * 20 + report.commissionAndFees / 2)
    [(replay_request, _, replayed)] = app.of("execDetails")[1:]
    assert replay_request == 91 and replayed.execId == execution.execId and len(app.of("commissionAndFeesReport")) == 2


def test_a_resting_limit_is_modified_then_cancelled(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        order_id = app.next_id()
        app.placeOrder(order_id, contract, _order("BUY", 1, "LMT", 1000.0))
        app.wait(lambda: _status(app, order_id) == "Submitted")
        app.placeOrder(order_id, contract, _order("BUY", 3, "LMT", 1100.0))
        app.wait_for("openOrder", where=lambda args: args[2].lmtPrice == 1100.0 and args[2].totalQuantity == 3)
        app.cancelOrder(order_id, _cancel())
        app.wait(lambda: _status(app, order_id) == "Cancelled")
    assert (order_id, 202) in [(request_id, code) for request_id, code, _ in app.errors()]


def _cancel() -> object:
    from ibapi.order_cancel import OrderCancel

    return OrderCancel()


def test_a_bracket_held_until_its_last_child_transmits_reports_parent_and_oca_group(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        price = _price(gateway)
        parent_id, profit_id, stop_id = app.next_id(), app.next_id(), app.next_id()
        app.placeOrder(parent_id, contract, _order("BUY", 1, "LMT", price - 200.0, transmit=False))
        app.placeOrder(profit_id, contract, _order("SELL", 1, "LMT", price + 200.0, parentId=parent_id,
                                                   transmit=False))
        assert not app.of("openOrder")  # nothing is transmitted yet
        app.placeOrder(stop_id, contract, _order("SELL", 1, "STP", price - 400.0, parentId=parent_id))
        app.wait(lambda: _status(app, stop_id) == "PreSubmitted" and _status(app, parent_id) == "Submitted")
        orders = {args[0]: args[2] for args in app.of("openOrder")}
    assert orders[profit_id].parentId == parent_id and orders[stop_id].parentId == parent_id
    assert orders[profit_id].ocaGroup and orders[profit_id].ocaGroup == orders[stop_id].ocaGroup
    assert not orders[parent_id].ocaGroup


def test_an_oca_group_cancels_the_other_order_when_one_fills(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        price = _price(gateway)
        resting, marketable = app.next_id(), app.next_id()
        app.placeOrder(resting, contract, _order("BUY", 1, "LMT", price - 300.0, ocaGroup="pair", ocaType=1))
        app.placeOrder(marketable, contract, _order("BUY", 1, "LMT", price + 50.0, ocaGroup="pair", ocaType=1))
        app.wait(lambda: _status(app, marketable) == "Filled" and _status(app, resting) == "Cancelled")


def test_account_updates_and_portfolio_follow_a_fill(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        app.reqAccountUpdates(True, ACCOUNT)
        app.wait_for("accountDownloadEnd")
        order_id = app.next_id()
        app.placeOrder(order_id, contract, _order("SELL", 1, "MKT"))
        [(portfolio_contract, position, *_rest, account)] = app.wait_for("updatePortfolio")
        app.reqAccountUpdates(False, ACCOUNT)
    keys = {args[0] for args in app.of("updateAccountValue")}
    assert {"NetLiquidation", "TotalCashValue", "UnrealizedPnL", "AccountCode"} <= keys
    assert portfolio_contract.conId == contract.conId and position == -1 and account == ACCOUNT


def test_a_reconnecting_client_is_told_its_open_orders_without_asking(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port, client_id=21) as first:
        contract = _front(first)
        order_id = first.next_id()
        first.placeOrder(order_id, contract, _order("BUY", 1, "LMT", 1000.0))
        first.wait(lambda: _status(first, order_id) == "Submitted")
    eventually(lambda: gateway.client_count == 0)  # the gateway has seen the client go
    with ibapi_client(gateway.host, gateway.port, client_id=21) as again:
        [(_, _, order, state)] = again.wait_for("openOrder")
        again.wait(lambda: _status(again, order_id) == "Submitted")
    assert order.orderId == order_id and order.lmtPrice == 1000.0 and state.status == "Submitted"
    with ibapi_client(gateway.host, gateway.port, client_id=22) as other:
        other.reqCurrentTime()
        other.wait_for("currentTime")
    assert not other.of("openOrder")  # another client's orders are not pushed


def test_pnl_and_single_pnl_follow_the_fill_and_the_market_until_cancelled(gateway: SimGatewayThread) -> None:
    with ibapi_client(gateway.host, gateway.port) as app:
        contract = _front(app)
        app.reqPnL(92, ACCOUNT, "")
        app.reqPnLSingle(93, ACCOUNT, "", contract.conId)
        [(_, daily, unrealized, realized)] = app.wait_for("pnl")
        assert (daily, unrealized, realized) == (0, 0, 0)
        app.reqMktData(94, contract, "", False, False, [])  # keeps the market (and the marks) moving
        order_id = app.next_id()
        app.placeOrder(order_id, contract, _order("BUY", 1, "MKT"))
        app.wait(lambda: _status(app, order_id) == "Filled")
        singles = app.wait_for("pnlSingle", where=lambda args: args[1] == 1 and args[3] != 0)
        app.wait_for("pnl", count=3)
        app.cancelPnL(92)
        app.cancelPnLSingle(93)
        closing = app.next_id()
        app.placeOrder(closing, contract, _order("SELL", 1, "MKT"))
        app.wait(lambda: _status(app, closing) == "Filled")
        app.reqPnL(95, ACCOUNT, "")
        [(_, daily, unrealized, realized)] = app.wait_for("pnl", where=lambda args: args[0] == 95)
        cancelled_lines = {args[0] for args in app.of("pnl")} | {args[0] for args in app.of("pnlSingle")}
    _, position, single_daily, single_unrealized, single_realized, value = singles[-1]
    assert position == 1 and single_daily == single_unrealized and single_realized == 0
    assert value != 0
    [(_report_open,), (report_close,)] = app.of("commissionAndFeesReport")
    assert realized == round(report_close.realizedPNL, 2) and unrealized == 0 and daily == realized
    assert cancelled_lines == {92, 93, 95}
