"""A stricter oracle than ib_async's lenient decoder: exact field counts per message id and server version.

The expected counts are written out from the TWS message layouts (IB's reference decoder and ib_async
2.1.0's decoder.py), independently of the gateway's encoders. ib_async ignores extra trailing fields,
so this is what catches an encoder that writes one field too many.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from ib_async import (
    IB,
    ContFuture,
    Future,
    LimitOrder,
    MarketOrder,
    Order,
    PriceCondition,
    StopOrder,
    TagValue,
    TimeCondition,
)
from ib_async.client import Client
from ib_async.wrapper import Wrapper

from slob_cli.sim.gateway import SimGateway
from slob_cli.sim.order_request import PlaceOrder
from slob_cli.sim.requests import decode_request
from tests.sim.helpers import BUSY_START, connect, run, wait_for

FIXED_COUNTS: dict[int, int] = {
    1: 7, 2: 5, 3: 12, 6: 6, 7: 20, 8: 3, 9: 3, 15: 3, 45: 5, 46: 5, 49: 3, 52: 3, 53: 2, 54: 3, 55: 3, 57: 3,
    58: 4, 59: 8, 61: 16, 62: 2, 63: 7, 64: 3, 73: 8, 74: 3, 81: 5, 90: 10, 102: 1,
}


def expected_count(version: int, fields: list[str]) -> int:
    """Return how many fields message `fields` must have at `version`."""
    message_id = int(fields[0])
    if message_id in FIXED_COUNTS:
        return FIXED_COUNTS[message_id]
    if message_id == 4:
        return 6 if version >= 166 else 5
    if message_id == 5:  # openOrder of a plain order
        return {157: 120, 163: 123, 164: 123, 177: 127, 178: 127}.get(version, 128 if 170 <= version <= 176 else -1)
    if message_id == 101:  # completedOrder of a plain order
        return 91 + (1 if version < 177 else 0) + (5 if version >= 170 else 0)
    if message_id == 10:  # contractDetails without secIds
        return 39 if version < 163 else 40
    if message_id == 11:
        return 32 if version >= 178 else 31
    if message_id == 17:
        return 5 + 8 * int(fields[4])
    if message_id == 80:
        return 2 + 5 * int(fields[1])
    if message_id == 98:
        return 4 + 6 * int(fields[2])
    if message_id == 99:
        return 5 if fields[2] == "4" else 9
    raise AssertionError(f"no oracle for message {message_id}")


def _record_messages(ib: IB) -> list[list[str]]:
    received: list[list[str]] = []
    decoder = ib.client.decoder
    interpret: Callable[[list[str]], None] = decoder.interpret

    def recording(fields: list[str]) -> None:
        received.append(list(fields))
        interpret(fields)

    decoder.interpret = recording  # type: ignore[method-assign]
    return received


async def _exercise(gateway: SimGateway) -> tuple[int, list[list[str]]]:
    ib = IB()
    received = _record_messages(ib)
    await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=3)
    version = ib.client.serverVersion()
    [cont] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    await ib.reqContractDetailsAsync(Future("NQ", exchange="CME"))
    [future] = await ib.qualifyContractsAsync(Future(conId=cont.conId, exchange="CME"))
    ticker = ib.reqMktData(future)
    for kind in ("AllLast", "BidAsk", "MidPoint", "Last"):
        ib.reqTickByTickData(future, kind, numberOfTicks=5 if kind == "Last" else 0)
    bars = await ib.reqHistoricalDataAsync(future, "", "300 S", "1 min", "TRADES", False, keepUpToDate=True)
    await ib.reqHistoricalDataAsync(future, "", "1 D", "1 day", "TRADES", False)
    price = gateway.market.last_tick_before(gateway.clock.now()).price
    parent = MarketOrder("BUY", 1, orderId=ib.client.getReqId(), transmit=False)
    profit = LimitOrder("SELL", 1, price + 1.0, orderId=ib.client.getReqId(), parentId=parent.orderId,
                        transmit=False, ocaGroup="g", ocaType=1)
    stop = StopOrder("SELL", 1, price - 300.0, orderId=ib.client.getReqId(), parentId=parent.orderId,
                     transmit=True, ocaGroup="g", ocaType=1)
    trades = [ib.placeOrder(future, order) for order in (parent, profit, stop)]
    await wait_for(lambda: trades[1].orderStatus.status == "Filled" and trades[2].orderStatus.status == "Cancelled")
    await ib.reqAccountUpdatesAsync("DU1234567")
    await ib.reqExecutionsAsync()
    await ib.reqCompletedOrdersAsync(False)
    await ib.accountSummaryAsync()
    await ib.reqMktDepthExchangesAsync()
    await ib.whatIfOrderAsync(future, MarketOrder("SELL", 1))
    await ib.reqCurrentTimeAsync()
    await wait_for(lambda: len(bars) > 6 and ticker.volume > 0)
    ib.cancelHistoricalData(bars)
    gateway.send_error(1100)
    await ib.reqCurrentTimeAsync()
    ib.disconnect()
    return version, received


@pytest.mark.parametrize("version", [157, 163, 164, 170, 176, 177, 178])
def test_every_message_has_exactly_the_fields_of_its_id_and_version(version: int) -> None:
    async def body() -> tuple[int, list[list[str]]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=12, server_version=version) as gateway:
            return await _exercise(gateway)

    negotiated, received = run(body(), timeout=60)
    assert negotiated == version
    wrong = [(fields[0], len(fields), expected_count(version, fields), fields[:6]) for fields in received
             if len(fields) != expected_count(version, fields)]
    assert wrong == []
    seen_ids = {int(fields[0]) for fields in received}
    assert {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 17, 46, 49, 52, 53, 54, 55, 58, 59, 61, 62, 63, 64, 73, 74, 80,
            81, 90, 98, 99, 101, 102} <= seen_ids


def _place_order_fields(version: int, contract: Future, order: Order) -> list[str]:
    """Return the placeOrder fields ib_async writes at `version` (its own serializer, no socket)."""
    client = Client(Wrapper(IB()))
    client._serverVersion = version
    client.connState = Client.CONNECTED
    sent: list[str] = []
    client.sendMsg = sent.append  # type: ignore[method-assign]
    client.placeOrder(7, contract, order)
    return sent[0].split("\0")[:-1]


@pytest.mark.parametrize(("version", "count"), [(157, 110), (163, 113), (170, 115), (178, 114)])
def test_a_plain_limit_order_is_read_to_its_last_field(version: int, count: int) -> None:
    contract = Future(conId=500202603, symbol="NQ", exchange="CME")
    fields = _place_order_fields(version, contract, LimitOrder("BUY", 2, 21000.25, orderRef="x", tif="GTC"))
    request = decode_request(fields, version)
    assert isinstance(request, PlaceOrder) and request.field_count == len(fields) == count
    assert (request.action, request.quantity, request.limit_price, request.tif, request.order_ref) == \
        ("BUY", 2.0, 21000.25, "GTC", "x")


@pytest.mark.parametrize("version", [157, 178])
def test_orders_with_every_optional_block_are_read_to_their_last_field(version: int) -> None:
    contract = Future(conId=500202603, symbol="NQ", exchange="CME")
    order = LimitOrder("SELL", 1, 21000.0, parentId=3, ocaGroup="g", ocaType=1, transmit=False)
    order.conditions = [PriceCondition(price=20000.0, conId=500202603, exch="CME"),
                        TimeCondition(time="20260310 15:00:00 UTC")]
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", "Normal")]
    order.hedgeType = "D"
    order.hedgeParam = "0.5"
    order.scalePriceIncrement = 0.25
    order.deltaNeutralOrderType = "LMT"
    request = decode_request(_place_order_fields(version, contract, order), version)
    assert isinstance(request, PlaceOrder)
    assert (request.parent_id, request.oca_group, request.oca_type, request.transmit) == (3, "g", 1, False)


def test_a_stop_order_arrives_with_an_unset_limit_price() -> None:
    contract = Future(conId=500202603, symbol="NQ", exchange="CME")
    request = decode_request(_place_order_fields(178, contract, StopOrder("SELL", 1, 20990.5)), 178)
    assert isinstance(request, PlaceOrder)
    assert (request.order_type, request.limit_price, request.aux_price) == ("STP", None, 20990.5)


def test_the_decode_problem_fixture_sees_a_message_ib_async_cannot_decode(ib_decode_problems: list[str]) -> None:
    async def body() -> None:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            [session] = [s for s in gateway.server.sessions if s.started]
            session.send([5, "not-an-int", "x"])  # a broken openOrder
            await ib.reqCurrentTimeAsync()
            await asyncio.sleep(0)
            ib.disconnect()

    run(body())
    assert any("Error handling fields" in problem for problem in ib_decode_problems)
    ib_decode_problems.clear()  # seen and accepted: this test planted it
