"""ib_async against the same gateway behaviours the official client checks: rejections, P&L, brackets, history."""

from __future__ import annotations

import math
from datetime import datetime

from ib_async import IB, Future, LimitOrder, MarketOrder, StopOrder

from slob_cli.sim.contracts import CENTRAL
from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for

ACCOUNT = "DU1234567"


async def _future(ib: IB) -> Future:
    [future] = await ib.qualifyContractsAsync(Future("NQ", exchange="CME", localSymbol="NQH6"))
    return future


def test_ib_async_sees_ibs_rejections_and_keeps_trading_on_the_same_connection() -> None:
    async def body() -> tuple[dict[int, int], str, bool]:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            codes: dict[int, int] = {}
            ib.errorEvent += lambda req_id, code, text, _contract: codes.setdefault(req_id, code)
            bad = [ib.placeOrder(contract, order) for order in (
                LimitOrder("BUY", 1, math.nan), LimitOrder("BUY", 1, -10.0), LimitOrder("BUY", 1e9, 1000.0))]
            await wait_for(lambda: all(trade.order.orderId in codes for trade in bad))
            good = ib.placeOrder(contract, LimitOrder("BUY", 1, 1000.0))
            await wait_for(lambda: good.orderStatus.status == "Submitted")
            connected = ib.isConnected()
            ib.disconnect()
            return {trade.order.orderId: codes[trade.order.orderId] for trade in bad}, bad[0].orderStatus.status, \
                connected

    codes, first_status, connected = run(body())
    assert sorted(codes.values()) == [163, 320, 383]
    assert first_status == "Cancelled" and connected  # ib_async marks a rejected order cancelled


def test_ib_async_pnl_objects_follow_a_bracket_fill() -> None:
    async def body() -> tuple[list[tuple[float, float, float]], set[str], float]:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            account_pnl = ib.reqPnL(ACCOUNT)
            single = ib.reqPnLSingle(ACCOUNT, "", contract.conId)
            price = gateway.market.last_tick_before(gateway.clock.now()).price
            parent = MarketOrder("BUY", 1, orderId=ib.client.getReqId(), transmit=False)
            profit = LimitOrder("SELL", 1, price + 2.0, orderId=ib.client.getReqId(), parentId=parent.orderId,
                                transmit=False)
            stop = StopOrder("SELL", 1, price - 400.0, orderId=ib.client.getReqId(), parentId=parent.orderId)
            trades = [ib.placeOrder(contract, order) for order in (parent, profit, stop)]
            seen: list[tuple[float, float, float]] = []
            ib.pnlSingleEvent += lambda line: seen.append((line.position, line.unrealizedPnL, line.realizedPnL))
            await wait_for(lambda: trades[1].orderStatus.status == "Filled")
            await wait_for(lambda: account_pnl.realizedPnL != 0)
            groups = {order.oca_group for order in gateway.broker.completed_orders() if order.parent_id}
            realized = trades[1].fills[0].commissionReport.realizedPNL
            ib.cancelPnL(ACCOUNT)
            ib.cancelPnLSingle(ACCOUNT, "", contract.conId)
            ib.disconnect()
            assert single.position == 0 and account_pnl.unrealizedPnL == 0
            assert round(account_pnl.realizedPnL, 2) == round(realized, 2) == round(account_pnl.dailyPnL, 2)
            return seen, groups, realized

    seen, groups, realized = run(body())
    assert any(position == 1 for position, _, _ in seen) and seen[-1][0] == 0
    assert seen[-1][2] == round(realized, 2)
    assert len(groups) == 1 and "" not in groups  # both children in the broker's own OCA group


def test_ib_async_two_day_history_follows_trading_sessions() -> None:
    async def body() -> datetime:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            bars = await ib.reqHistoricalDataAsync(contract, "", "2 D", "1 hour", "TRADES", False, formatDate=2)
            ib.disconnect()
            return bars[0].date

    first = run(body())
    assert first.astimezone(CENTRAL) == datetime(2026, 3, 8, 17, 0, tzinfo=CENTRAL)  # Sunday's Globex open


def test_ib_async_reconnecting_without_asking_still_learns_its_open_orders() -> None:
    async def body() -> tuple[int, list[tuple[int, str]]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=3) as gateway:
            ib = await connect(gateway.host, gateway.port, client_id=4)
            contract = await _future(ib)
            trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 1000.0))
            await wait_for(lambda: trade.orderStatus.status == "Submitted")
            ib.disconnect()
            await wait_for(lambda: gateway.client_count == 0)
            # readonly: ib_async sends no reqOpenOrders, so only the gateway's push can tell it.
            again = await connect(gateway.host, gateway.port, client_id=4, readonly=True)
            await wait_for(lambda: bool(again.openTrades()))
            known = [(t.order.orderId, t.orderStatus.status) for t in again.openTrades()]
            again.disconnect()
            return trade.order.orderId, known

    order_id, known = run(body())
    assert known == [(order_id, "Submitted")]
