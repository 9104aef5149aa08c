"""Decode client->server TWS requests into small dataclasses, reading each message to its end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from slob_cli.sim.order_request import PlaceOrder, read_contract, read_place_order
from slob_cli.sim.protocol import FieldReader, ProtocolError
from slob_cli.sim.wire_types import ContractSpec


@dataclass(frozen=True, slots=True)
class Request:
    """Base of every decoded request."""


@dataclass(frozen=True, slots=True)
class StartApi(Request):
    client_id: int
    capabilities: str


@dataclass(frozen=True, slots=True)
class MarketDataRequest(Request):
    request_id: int
    contract: ContractSpec
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


@dataclass(frozen=True, slots=True)
class CancelMarketData(Request):
    request_id: int


@dataclass(frozen=True, slots=True)
class ContractDetailsRequest(Request):
    request_id: int
    contract: ContractSpec
    include_expired: bool


@dataclass(frozen=True, slots=True)
class HistoricalDataRequest(Request):
    request_id: int
    contract: ContractSpec
    include_expired: bool
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True, slots=True)
class CancelHistoricalData(Request):
    request_id: int


@dataclass(frozen=True, slots=True)
class TickByTickRequest(Request):
    request_id: int
    contract: ContractSpec
    tick_type: str
    number_of_ticks: int
    ignore_size: bool


@dataclass(frozen=True, slots=True)
class HistoricalTicksRequest(Request):
    request_id: int
    contract: ContractSpec
    include_expired: bool
    start: str
    end: str
    number_of_ticks: int
    what_to_show: str
    use_rth: bool
    ignore_size: bool


@dataclass(frozen=True, slots=True)
class CancelTickByTick(Request):
    request_id: int


@dataclass(frozen=True, slots=True)
class CancelOrder(Request):
    order_id: int
    manual_cancel_time: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionsRequest(Request):
    request_id: int
    client_id: int
    account: str
    time: str
    symbol: str
    sec_type: str
    exchange: str
    side: str


@dataclass(frozen=True, slots=True)
class AccountUpdatesRequest(Request):
    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class AccountUpdatesMultiRequest(Request):
    request_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True, slots=True)
class AccountSummaryRequest(Request):
    request_id: int
    group: str
    tags: str


@dataclass(frozen=True, slots=True)
class PnlRequest(Request):
    """reqPnL (con_id None) or reqPnLSingle."""

    request_id: int
    account: str
    model_code: str
    con_id: int | None = None


@dataclass(frozen=True, slots=True)
class RequestWithId(Request):
    """A small request whose only argument is a request id (cancels and friends)."""

    name: str
    request_id: int


@dataclass(frozen=True, slots=True)
class SimpleRequest(Request):
    """A request with at most one plain argument (reqIds n, reqMarketDataType type, ...)."""

    name: str
    argument: str = ""


@dataclass(frozen=True, slots=True)
class UnsupportedRequest(Request):
    """A request the simulated gateway does not implement."""

    message_id: int
    name: str
    request_id: int | None = None
    fields: tuple[str, ...] = field(default=())


UNSUPPORTED_NAMES: dict[int, str] = {
    10: "reqMktDepth", 11: "cancelMktDepth", 12: "reqNewsBulletins", 13: "cancelNewsBulletins",
    14: "setServerLogLevel", 18: "requestFA", 19: "replaceFA", 21: "exerciseOptions",
    22: "reqScannerSubscription", 23: "cancelScannerSubscription", 24: "reqScannerParameters",
    50: "reqRealTimeBars", 51: "cancelRealTimeBars", 52: "reqFundamentalData", 53: "cancelFundamentalData",
    54: "calculateImpliedVolatility", 55: "calculateOptionPrice", 56: "cancelCalculateImpliedVolatility",
    57: "cancelCalculateOptionPrice", 65: "verifyRequest", 66: "verifyMessage", 67: "queryDisplayGroups",
    68: "subscribeToGroupEvents", 69: "updateDisplayGroup", 70: "unsubscribeFromGroupEvents",
    72: "verifyAndAuthRequest", 73: "verifyAndAuthMessage", 74: "reqPositionsMulti", 75: "cancelPositionsMulti",
    78: "reqSecDefOptParams", 79: "reqSoftDollarTiers", 80: "reqFamilyCodes", 81: "reqMatchingSymbols",
    82: "reqMktDepthExchanges", 83: "reqSmartComponents", 84: "reqNewsArticle", 85: "reqNewsProviders",
    86: "reqHistoricalNews", 87: "reqHeadTimeStamp", 88: "reqHistogramData", 89: "cancelHistogramData",
    90: "cancelHeadTimeStamp", 91: "reqMarketRule", 100: "reqWshMetaData",
    101: "cancelWshMetaData",
    102: "reqWshEventData", 103: "cancelWshEventData", 104: "reqUserInfo",
}
# Requests that carry no request id: an error for them can only go to reqId -1.
_NO_REQUEST_ID = {12, 13, 14, 18, 24, 65, 66, 72, 73, 80, 82, 85, 91}


def _market_data(reader: FieldReader, version: int) -> Request:
    reader.integer()  # version 11
    request_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    if contract.sec_type == "BAG":
        reader.skip(4 * reader.integer())
    if reader.flag():
        reader.skip(3)
    generic = reader.text()
    snapshot = reader.flag()
    regulatory = reader.flag()
    reader.text()  # mktDataOptions
    return MarketDataRequest(request_id, contract, generic, snapshot, regulatory)


def _contract_details(reader: FieldReader, version: int) -> Request:
    reader.integer()
    request_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    include_expired = reader.flag()
    reader.skip(2)  # secIdType, secId
    if version >= 176:
        reader.text()  # issuerId
    return ContractDetailsRequest(request_id, contract, include_expired)


def _historical(reader: FieldReader, version: int) -> Request:
    request_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    include_expired = reader.flag()
    end = reader.text()
    bar_size = reader.text()
    duration = reader.text()
    use_rth = reader.flag()
    what_to_show = reader.text()
    format_date = reader.integer(1)
    if contract.sec_type == "BAG":
        reader.skip(4 * reader.integer())
    keep_up_to_date = reader.flag()
    reader.text()  # chartOptions
    return HistoricalDataRequest(request_id, contract, include_expired, end, bar_size, duration, use_rth,
                                 what_to_show, format_date, keep_up_to_date)


def _tick_by_tick(reader: FieldReader, version: int) -> Request:
    request_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    tick_type = reader.text()
    number = reader.integer()
    ignore_size = reader.flag()
    return TickByTickRequest(request_id, contract, tick_type, number, ignore_size)


def _historical_ticks(reader: FieldReader, version: int) -> Request:
    request_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    include_expired = reader.flag()
    start, end = reader.text(), reader.text()
    number = reader.integer()
    what_to_show = reader.text()
    use_rth = reader.flag()
    ignore_size = reader.flag()
    reader.text()  # miscOptions
    return HistoricalTicksRequest(request_id, contract, include_expired, start, end, number, what_to_show, use_rth,
                                  ignore_size)


def _cancel_order(reader: FieldReader, version: int) -> Request:
    reader.integer()
    order_id = reader.integer()
    manual = reader.text() if version >= 169 else ""
    return CancelOrder(order_id, manual)


def _executions(reader: FieldReader, version: int) -> Request:
    reader.integer()
    request_id = reader.integer()
    client_id = reader.integer()
    return ExecutionsRequest(request_id, client_id, reader.text(), reader.text(), reader.text(), reader.text(),
                             reader.text(), reader.text())


def _account_updates(reader: FieldReader, version: int) -> Request:
    reader.integer()
    return AccountUpdatesRequest(reader.flag(), reader.text())


def _account_updates_multi(reader: FieldReader, version: int) -> Request:
    reader.integer()
    return AccountUpdatesMultiRequest(reader.integer(), reader.text(), reader.text(), reader.flag())


def _account_summary(reader: FieldReader, version: int) -> Request:
    reader.integer()
    return AccountSummaryRequest(reader.integer(), reader.text(), reader.text())


def _pnl(reader: FieldReader, version: int) -> Request:
    return PnlRequest(reader.integer(), reader.text(), reader.text())


def _pnl_single(reader: FieldReader, version: int) -> Request:
    return PnlRequest(reader.integer(), reader.text(), reader.text(), reader.integer())


def _start_api(reader: FieldReader, version: int) -> Request:
    reader.integer()
    client_id = reader.integer()
    capabilities = reader.text() if reader.remaining else ""
    return StartApi(client_id, capabilities)


def _place_order(reader: FieldReader, version: int) -> PlaceOrder:
    return read_place_order(reader, version)


def _with_id(name: str, versioned: bool = True) -> Callable[[FieldReader, int], Request]:
    def decode(reader: FieldReader, version: int) -> Request:
        if versioned:
            reader.integer()
        return RequestWithId(name, reader.integer())

    return decode


def _simple(name: str, has_argument: bool, versioned: bool = True,
            numeric: bool = False) -> Callable[[FieldReader, int], Request]:
    def decode(reader: FieldReader, version: int) -> Request:
        if versioned:
            reader.integer()
        if numeric:
            return SimpleRequest(name, str(reader.integer(1)))
        return SimpleRequest(name, reader.text() if has_argument else "")

    return decode


_DECODERS: dict[int, Callable[[FieldReader, int], Request | PlaceOrder]] = {
    1: _market_data,
    2: _with_id("cancelMktData"),
    3: _place_order,
    4: _cancel_order,
    5: _simple("reqOpenOrders", False),
    6: _account_updates,
    7: _executions,
    8: _simple("reqIds", True, numeric=True),
    9: _contract_details,
    15: _simple("reqAutoOpenOrders", True),
    16: _simple("reqAllOpenOrders", False),
    17: _simple("reqManagedAccts", False),
    20: _historical,
    25: _with_id("cancelHistoricalData"),
    49: _simple("reqCurrentTime", False),
    58: _simple("reqGlobalCancel", False),
    59: _simple("reqMarketDataType", True, numeric=True),
    61: _simple("reqPositions", False),
    62: _account_summary,
    63: _with_id("cancelAccountSummary"),
    64: _simple("cancelPositions", False),
    71: _start_api,
    76: _account_updates_multi,
    77: _with_id("cancelAccountUpdatesMulti"),
    92: _pnl,
    93: _with_id("cancelPnL", versioned=False),
    94: _pnl_single,
    95: _with_id("cancelPnLSingle", versioned=False),
    96: _historical_ticks,
    97: _tick_by_tick,
    98: _with_id("cancelTickByTickData", versioned=False),
    99: _simple("reqCompletedOrders", True, versioned=False),
}


def decode_request(fields: Sequence[str], version: int) -> Request | PlaceOrder:
    """Decode one client message; raise ProtocolError when it is malformed or has leftovers."""
    if not fields:
        raise ProtocolError("empty message")
    try:
        message_id = int(fields[0])
    except ValueError as exc:
        raise ProtocolError(f"message id {fields[0]!r} is not an integer") from exc
    decoder = _DECODERS.get(message_id)
    if decoder is None:
        return _unsupported(message_id, fields)
    reader = FieldReader(fields, 1)
    request = decoder(reader, version)
    reader.finish()
    return request


def _unsupported(message_id: int, fields: Sequence[str]) -> UnsupportedRequest:
    name = UNSUPPORTED_NAMES.get(message_id, f"message {message_id}")
    request_id = _request_id(message_id, fields) if message_id in UNSUPPORTED_NAMES else None
    return UnsupportedRequest(message_id, name, request_id, tuple(fields))


def _request_id(message_id: int, fields: Sequence[str]) -> int | None:
    """Return the request (or order) id a message carries, when it has one and it is readable."""
    if message_id in _NO_REQUEST_ID:
        return None
    # placeOrder, reqHistoricalData and every request from 78 on have no version field before the id.
    index = 1 if message_id in (3, 20) or message_id >= 78 else 2
    if len(fields) > index and fields[index].lstrip("-").isdigit():
        return int(fields[index])
    return None


def read_error(fields: Sequence[str], problem: ProtocolError) -> tuple[int, str]:
    """Return (reqId, message) of IB's error 320 for a request whose fields cannot be read.

    IB answers a field it cannot parse (a price of 'nan', text where a number belongs) with error
    320 to that request's id and keeps the connection; only broken framing closes it.
    """
    message_id = fields[0] if fields else "?"
    request_id = _request_id(int(message_id), fields) if message_id.lstrip("-").isdigit() else None
    text = f"Error reading request. Message id {message_id}. Unable to parse data. {problem}"
    return (-1 if request_id is None else request_id), text
