"""Orders through the real ib_async: brackets with OCA, partial fills, rejections, positions, executions."""

from __future__ import annotations

import pytest
from ib_async import IB, ContFuture, Future, LimitOrder, MarketOrder, Order, StopOrder, Trade

from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for


async def _future(ib: IB) -> Future:
    [cont] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    [future] = await ib.qualifyContractsAsync(Future(conId=cont.conId, exchange="CME"))
    return future


def _bracket(ib: IB, quantity: int, take_profit: float, stop_loss: float) -> list[Order]:
    """Return parent MKT (held), take-profit LMT (held) and stop STP (transmits all), children OCA'd."""
    parent = MarketOrder("BUY", quantity, orderId=ib.client.getReqId(), transmit=False, orderRef="slob-1")
    group = f"oca-{parent.orderId}"
    profit = LimitOrder("SELL", quantity, take_profit, orderId=ib.client.getReqId(), parentId=parent.orderId,
                        transmit=False, ocaGroup=group, ocaType=1, tif="GTC")
    stop = StopOrder("SELL", quantity, stop_loss, orderId=ib.client.getReqId(), parentId=parent.orderId,
                     transmit=True, ocaGroup=group, ocaType=1, tif="GTC")
    return [parent, profit, stop]


def test_a_bracket_fills_its_parent_then_one_child_and_cancels_the_oca_sibling() -> None:
    async def body() -> tuple[list[Trade], list, float, float]:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            price = gateway.market.last_tick_before(gateway.clock.now()).price
            orders = _bracket(ib, 1, price + 2.0, price - 400.0)
            trades = [ib.placeOrder(contract, order) for order in orders]
            _parent, profit, stop = trades
            await wait_for(lambda: profit.orderStatus.status == "Filled" and stop.orderStatus.status == "Cancelled")
            positions = ib.positions()
            ib.disconnect()
            return trades, positions, price, gateway.market.last_tick_before(gateway.clock.now()).price

    (parent, profit, stop), positions, _entry_quote, _ = run(body())
    assert parent.orderStatus.status == "Filled" and parent.order.orderRef == "slob-1"
    assert profit.orderStatus.avgFillPrice >= profit.order.lmtPrice
    assert [fill.execution.side for fill in parent.fills + profit.fills] == ["BOT", "SLD"]
    assert all(fill.commissionReport.commission > 0 for fill in parent.fills + profit.fills)
    assert stop.fills == [] and positions == []  # flat again after the take-profit


def test_children_wait_while_the_parent_is_not_transmitted() -> None:
    async def body() -> tuple[str, str, str]:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            price = gateway.market.last_tick_before(gateway.clock.now()).price
            parent = LimitOrder("BUY", 1, price - 300.0, orderId=ib.client.getReqId(), transmit=False)
            child = LimitOrder("SELL", 1, price + 300.0, orderId=ib.client.getReqId(), parentId=parent.orderId,
                               transmit=True)
            parent_trade = ib.placeOrder(contract, parent)
            child_trade = ib.placeOrder(contract, child)
            await wait_for(lambda: child_trade.orderStatus.status == "PreSubmitted")
            open_ids = sorted(order.order_id for order in gateway.broker.open_orders())
            ib.disconnect()
            assert open_ids == [parent.orderId, child.orderId]
            return parent_trade.orderStatus.status, child_trade.orderStatus.status, "ok"

    parent_status, child_status, _ = run(body())
    assert parent_status == "Submitted" and child_status == "PreSubmitted"


def test_a_partial_fill_reports_the_part_then_the_rest() -> None:
    async def body() -> tuple[Trade, list[tuple[float, float]]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=4) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            statuses: list[tuple[float, float]] = []
            gateway.partial_fill_next(1)
            trade = ib.placeOrder(contract, MarketOrder("SELL", 3))
            trade.statusEvent += lambda t: statuses.append((t.orderStatus.filled, t.orderStatus.remaining))
            await wait_for(lambda: trade.orderStatus.status == "Filled")
            ib.disconnect()
            return trade, statuses

    trade, statuses = run(body())
    assert next(fill.execution.shares for fill in trade.fills) == 1
    assert sum(fill.execution.shares for fill in trade.fills) == 3
    assert (1.0, 2.0) in statuses and statuses[-1] == (3.0, 0.0)


def test_rejections_reach_the_client_as_errors_on_the_order() -> None:
    async def body() -> list[tuple[int, int]]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, text, contract_: errors.append((req_id, code))
            gateway.reject_next_order("simulated margin check")
            rejected = ib.placeOrder(contract, MarketOrder("BUY", 1))
            off_grid = ib.placeOrder(contract, LimitOrder("BUY", 1, 20000.1))
            await wait_for(lambda: len(errors) >= 2)
            cont = ContFuture("NQ", exchange="CME", conId=contract.conId)
            on_cont = ib.placeOrder(cont, MarketOrder("BUY", 1))
            await wait_for(lambda: len(errors) >= 3)
            ib.disconnect()
            assert rejected.orderStatus.status == "Cancelled" and off_grid.orderStatus.status == "Cancelled"
            assert on_cont.order.orderId == errors[2][0]
            return errors

    errors = run(body())
    assert [code for _, code in errors] == [201, 110, 200]


def test_positions_account_values_and_executions_follow_fills_and_survive_a_reconnect() -> None:
    async def body() -> tuple:
        async with SimGateway(start=BUSY_START, speed="max", seed=8) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            trade = ib.placeOrder(contract, MarketOrder("BUY", 2))
            await wait_for(lambda: trade.orderStatus.status == "Filled")
            await wait_for(lambda: any(p.position == 2 for p in ib.positions()))
            working = ib.placeOrder(contract, LimitOrder("SELL", 2, trade.orderStatus.avgFillPrice + 500.0))
            await wait_for(lambda: working.orderStatus.status == "Submitted")
            ib.disconnect()
            again = await connect(gateway.host, gateway.port)
            result = (trade.orderStatus.avgFillPrice, again.positions(), again.fills(), again.openTrades(),
                      {v.tag: v.value for v in again.accountValues() if v.currency == "USD"})
            again.disconnect()
            return result

    price, positions, fills, open_trades, values = run(body())
    [position] = positions
    # avgCost per contract: price x multiplier plus the opening commission per contract, as IB does.
    commission = fills[0].commissionReport.commission
    assert commission > 0 and position.position == 2 and position.avgCost == pytest.approx(price * 20 + commission / 2)
    assert [fill.execution.shares for fill in fills] == [2] and fills[0].commissionReport.execId
    assert [t.order.lmtPrice for t in open_trades] == [price + 500.0]
    assert float(values["NetLiquidation"]) > 0 and "AvailableFunds" in values


def test_cancel_order_and_global_cancel_end_working_orders_with_202() -> None:
    async def body() -> tuple[str, list[str], list[int]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=1) as gateway:
            first, second = await connect(gateway.host, gateway.port, 1), await connect(gateway.host, gateway.port, 2)
            contract = await _future(first)
            price = gateway.market.last_tick_before(gateway.clock.now()).price
            codes: list[int] = []
            first.errorEvent += lambda req_id, code, text, contract_: codes.append(code)
            lone = first.placeOrder(contract, LimitOrder("BUY", 1, price - 800.0))
            await wait_for(lambda: lone.orderStatus.status == "Submitted")
            first.cancelOrder(lone.order)
            await wait_for(lambda: lone.orderStatus.status == "Cancelled")
            others = [first.placeOrder(contract, LimitOrder("BUY", 1, price - 700.0)),
                      second.placeOrder(contract, StopOrder("SELL", 1, price - 700.0))]
            await wait_for(lambda: all(t.orderStatus.status == "Submitted" for t in others))
            first.reqGlobalCancel()
            await wait_for(lambda: all(t.orderStatus.status == "Cancelled" for t in others))
            first.disconnect()
            second.disconnect()
            return lone.orderStatus.status, [t.orderStatus.status for t in others], codes

    status, others, codes = run(body())
    assert status == "Cancelled" and others == ["Cancelled", "Cancelled"]
    assert 202 in codes


def test_execution_filters_select_by_client_side_and_time() -> None:
    from ib_async import ExecutionFilter

    async def body() -> dict[str, list[tuple[int, str]]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=2) as gateway:
            first, second = await connect(gateway.host, gateway.port, 1), await connect(gateway.host, gateway.port, 2)
            contract = await _future(first)
            trades = [first.placeOrder(contract, MarketOrder("BUY", 1)),
                      second.placeOrder(contract, MarketOrder("SELL", 2))]
            await wait_for(lambda: all(t.orderStatus.status == "Filled" for t in trades))
            from datetime import timedelta

            later = (gateway.clock.now() + timedelta(minutes=1)).strftime("%Y%m%d-%H:%M:%S")
            earlier = (BUSY_START - timedelta(minutes=1)).strftime("%Y%m%d-%H:%M:%S")
            found = {}
            for name, filter_ in (("client 2", ExecutionFilter(clientId=2)), ("sells", ExecutionFilter(side="SELL")),
                                  ("all", ExecutionFilter()), ("since later", ExecutionFilter(time=later)),
                                  ("since earlier", ExecutionFilter(time=earlier))):
                fills = await first.reqExecutionsAsync(filter_)
                found[name] = sorted((f.execution.clientId, f.execution.side) for f in fills)
            first.disconnect()
            second.disconnect()
            return found

    found = run(body())
    assert found["client 2"] == [(2, "SLD")] and found["sells"] == [(2, "SLD")]
    assert found["all"] == found["since earlier"] == [(1, "BOT"), (2, "SLD")]
    assert found["since later"] == []


def test_a_live_account_is_refused_unless_the_gateway_allows_it() -> None:
    async def place(live_account: bool) -> tuple[str, list[int]]:
        async with SimGateway(start=BUSY_START, speed="max", accounts=("U7654321",),
                              live_account=live_account) as gateway:
            ib = await connect(gateway.host, gateway.port)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract_: codes.append(code)
            trade = ib.placeOrder(await _future(ib), MarketOrder("BUY", 1, account="U7654321"))
            await wait_for(lambda: codes or trade.orderStatus.status == "Filled")
            ib.disconnect()
            return trade.orderStatus.status, codes

    refused_status, refused_codes = run(place(False))
    allowed_status, allowed_codes = run(place(True))
    assert refused_codes == [321] and refused_status != "Filled"
    assert allowed_status == "Filled" and allowed_codes == []


def test_a_what_if_order_returns_margins_and_commission_and_places_nothing() -> None:
    async def body() -> tuple:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            state = await ib.whatIfOrderAsync(await _future(ib), MarketOrder("BUY", 2))
            orders = gateway.broker.open_orders() + gateway.broker.completed_orders()
            ib.disconnect()
            return state, orders

    state, orders = run(body())
    assert orders == []
    assert float(state.initMarginChange) == 66_000.0 and float(state.maintMarginChange) == 60_000.0
    assert float(state.initMarginAfter) == float(state.initMarginBefore) + 66_000.0
    assert state.commission == 4.5 and state.commissionCurrency == "USD"
