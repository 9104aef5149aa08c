"""Every request the simulated gateway decodes, as IB's official client writes it at server version 178."""

from __future__ import annotations

import struct
from collections.abc import Callable

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.execution import ExecutionFilter
from ibapi.order import Order
from ibapi.order_cancel import OrderCancel
from ibapi.wrapper import EWrapper

ACCOUNT = "DU1234567"


class _Capture:
    """Stands in for ibapi's socket connection: keeps each framed message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def isConnected(self) -> bool:  # noqa: N802 - ibapi's name
        return True

    def sendMsg(self, message: bytes) -> None:  # noqa: N802 - ibapi's name
        self.messages.append(message)


def _fields(message: bytes) -> list[str]:
    (length,) = struct.unpack(">I", message[:4])
    return message[4:4 + length].decode().split("\0")[:-1]


def _future() -> Contract:
    contract = Contract()
    contract.symbol, contract.secType, contract.exchange, contract.currency = "NQ", "FUT", "CME", "USD"
    contract.localSymbol = "NQH6"
    return contract


def _order(order_type: str, price: float, parent_id: int = 0, transmit: bool = True) -> Order:
    order = Order()
    order.action, order.totalQuantity, order.orderType = "BUY", 1, order_type
    if order_type == "LMT":
        order.lmtPrice = price
    else:
        order.auxPrice = price
    order.parentId, order.transmit, order.ocaGroup = parent_id, transmit, "g" if parent_id else ""
    return order


def request_templates(version: int = 178) -> dict[str, list[str]]:
    """Return {request name: its fields} for every request type the gateway decodes (and a few it refuses)."""
    client = EClient(EWrapper())
    capture = _Capture()
    client.conn, client.connState, client.serverVersion_, client.clientId = capture, EClient.CONNECTED, version, 0
    contract = _future()
    calls: dict[str, Callable[[], None]] = {
        "reqMktData": lambda: client.reqMktData(1, contract, "", False, False, []),
        "cancelMktData": lambda: client.cancelMktData(1),
        "placeOrder": lambda: client.placeOrder(5, contract, _order("LMT", 21000.25)),
        "placeOrderChild": lambda: client.placeOrder(6, contract, _order("STP", 20900.0, parent_id=5, transmit=False)),
        "cancelOrder": lambda: client.cancelOrder(5, OrderCancel()),
        "reqOpenOrders": client.reqOpenOrders,
        "reqAccountUpdates": lambda: client.reqAccountUpdates(True, ACCOUNT),
        "reqExecutions": lambda: client.reqExecutions(2, ExecutionFilter()),
        "reqIds": lambda: client.reqIds(1),
        "reqContractDetails": lambda: client.reqContractDetails(3, contract),
        "reqAutoOpenOrders": lambda: client.reqAutoOpenOrders(True),
        "reqAllOpenOrders": client.reqAllOpenOrders,
        "reqManagedAccts": client.reqManagedAccts,
        "reqHistoricalData": lambda: client.reqHistoricalData(4, contract, "", "1800 S", "1 min", "TRADES", 0, 1,
                                                              False, []),
        "cancelHistoricalData": lambda: client.cancelHistoricalData(4),
        "reqCurrentTime": client.reqCurrentTime,
        "reqGlobalCancel": lambda: client.reqGlobalCancel(OrderCancel()),
        "reqMarketDataType": lambda: client.reqMarketDataType(3),
        "reqPositions": client.reqPositions,
        "reqAccountSummary": lambda: client.reqAccountSummary(5, "All", "NetLiquidation"),
        "cancelAccountSummary": lambda: client.cancelAccountSummary(5),
        "cancelPositions": client.cancelPositions,
        "reqAccountUpdatesMulti": lambda: client.reqAccountUpdatesMulti(6, ACCOUNT, "", True),
        "cancelAccountUpdatesMulti": lambda: client.cancelAccountUpdatesMulti(6),
        "reqPnL": lambda: client.reqPnL(7, ACCOUNT, ""),
        "cancelPnL": lambda: client.cancelPnL(7),
        "reqPnLSingle": lambda: client.reqPnLSingle(8, ACCOUNT, "", 0),
        "cancelPnLSingle": lambda: client.cancelPnLSingle(8),
        "reqTickByTickData": lambda: client.reqTickByTickData(9, contract, "AllLast", 0, False),
        "cancelTickByTickData": lambda: client.cancelTickByTickData(9),
        "reqCompletedOrders": lambda: client.reqCompletedOrders(False),
        "reqHistoricalTicks": lambda: client.reqHistoricalTicks(10, contract, "", "20260310 14:00:00 UTC", 10,
                                                                "TRADES", 0, False, []),
        "reqMktDepth": lambda: client.reqMktDepth(11, contract, 5, False, []),
        "reqHeadTimeStamp": lambda: client.reqHeadTimeStamp(12, contract, "TRADES", 0, 1),
        "reqMarketRule": lambda: client.reqMarketRule(67),
    }
    templates: dict[str, list[str]] = {"startApi": ["71", "2", "0", ""]}
    for name, call in calls.items():
        before = len(capture.messages)
        call()
        assert len(capture.messages) == before + 1, f"ibapi did not write {name}"
        templates[name] = _fields(capture.messages[-1])
    return templates
