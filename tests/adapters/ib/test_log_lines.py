"""ib_async's own log lines pass slob's filter as one calm line each, or go to DEBUG when slob says it itself."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from ib_async import Future, Order, OrderStatus, Trade, TradeLogEntry

from slob_cli.adapters.ib.connection import _REPORTED_BY_SLOB

REF = "slob:NQ-20260106-S1:stop.2"
NOW = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)


def _trade(code: int, message: str) -> Trade:
    order = Order(orderId=14, clientId=1, action="BUY", totalQuantity=1, orderType="STP", auxPrice=25593.0,
                  orderRef=REF)
    contract = Future("NQ", "20260320", "CME", localSymbol="NQH6")
    log = [TradeLogEntry(NOW, "PendingSubmit", "", 0),
           TradeLogEntry(NOW, "ValidationError", f"{message}, contract: {contract!r}", code)]
    return Trade(contract, order, OrderStatus(orderId=14, status="ValidationError"), [], log)


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("ib_async.wrapper", level, "wrapper.py", 1, message, None, None)


@pytest.fixture
def info_root() -> Iterator[None]:
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    yield
    root.setLevel(before)


def test_a_validation_warning_trade_dump_is_one_line_naming_the_order_and_the_warning(info_root: None) -> None:
    record = _record(logging.WARNING, f"IBKR API validation warning: {_trade(399, 'Warning 399, reqId 14: Order message error')!r}")
    assert _REPORTED_BY_SLOB.filter(record)
    assert record.getMessage() == f"IBKR API validation warning: {REF} (order 14): 399 Order message error"
    assert record.levelno == logging.WARNING


def test_an_order_error_slob_logs_itself_goes_to_debug_condensed(info_root: None) -> None:
    dump = _trade(110, "Warning 110, reqId 14: The price does not conform to the minimum price variation")
    record = _record(logging.WARNING, f"IBKR API validation warning: {dump!r}")
    assert not _REPORTED_BY_SLOB.filter(record), "the executor logs 110 with the orderRef"
    assert record.levelno == logging.DEBUG and "Trade(" not in record.getMessage()
    cancelled = _record(logging.ERROR, "Error 202, reqId 14: Order Canceled - reason:, contract: Future(symbol='NQ')")
    assert not _REPORTED_BY_SLOB.filter(cancelled)
    logging.getLogger().setLevel(logging.DEBUG)
    assert _REPORTED_BY_SLOB.filter(_record(logging.ERROR, "Error 201, reqId 14: Order rejected"))


def test_a_contract_dump_in_any_other_line_is_the_local_symbol(info_root: None) -> None:
    record = _record(logging.ERROR, "Error 200, reqId 7: No security definition has been found for the request, "
                                    "contract: Future(symbol='NQ', lastTradeDateOrContractMonth='20260320', "
                                    "exchange='CME', localSymbol='NQH6')")
    assert _REPORTED_BY_SLOB.filter(record)
    assert record.getMessage() == ("Error 200, reqId 7: No security definition has been found for the request, "
                                   "contract: NQH6")
    assert record.levelno == logging.ERROR


def test_ib_async_ib_lines_are_filtered_too() -> None:
    from slob_cli.adapters.ib.connection import _quiet_raw_ib_async_lines

    _quiet_raw_ib_async_lines()
    record = logging.LogRecord("ib_async.ib", logging.WARNING, "ib.py", 1,
                               "Unknown contract: Future(symbol='NQ', localSymbol='NQZ9', exchange='CME')", None, None)
    assert logging.getLogger("ib_async.ib").filter(record)
    assert record.getMessage() == "Unknown contract: NQZ9"


@pytest.mark.parametrize("line", [
    "Error 1100, reqId -1: Connectivity between IB and Trader Workstation has been lost.",
    "Error 1102, reqId -1: Connectivity between IB and Trader Workstation has been restored - data maintained.",
    "Warning 2103, reqId -1: Market data farm connection is broken:usfarm",
])
def test_a_connection_notice_slob_logs_itself_goes_to_debug(info_root: None, line: str) -> None:
    # IBConnection says it in its own words (`IB error 1100: the gateway lost its connection to IB; ...`,
    # `IB 1102: connectivity restored (data kept)`, `IB 2103: data farm broken ...`): one line, not two.
    record = _record(logging.ERROR, line)
    assert not _REPORTED_BY_SLOB.filter(record), line
    assert record.levelno == logging.DEBUG
