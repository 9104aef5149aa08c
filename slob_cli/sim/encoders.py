"""Encode server->client TWS messages (market data, contracts, account, misc) for server versions 157..178."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slob_cli.core.models import SIMULATED_FARM
from slob_cli.sim.contracts import ORDER_TYPES, TIME_ZONE_ID, UNDERLYING_CON_ID, FutureContract
from slob_cli.sim.protocol import Field

Message = list[Field]

# Tick types (https://interactivebrokers.github.io/tws-api/tick_types.html); delayed ones add 65 or so.
BID, ASK, LAST, HIGH, LOW, VOLUME, CLOSE, OPEN = 1, 2, 4, 6, 7, 8, 9, 14
BID_SIZE, ASK_SIZE, LAST_SIZE = 0, 3, 5
LAST_TIMESTAMP = 45
DELAYED = {BID: 66, ASK: 67, LAST: 68, BID_SIZE: 69, ASK_SIZE: 70, LAST_SIZE: 71, HIGH: 72, LOW: 73,
           VOLUME: 74, CLOSE: 75, OPEN: 76, LAST_TIMESTAMP: 88}

# Standard texts of the notices and errors the gateway sends on its own or as injected faults.
NOTICES = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    # The market data farm's name says the gateway is a simulation (IB's own is usfarm, cashfarm, ...).
    2103: f"Market data farm connection is broken:{SIMULATED_FARM}",
    2104: f"Market data farm connection is OK:{SIMULATED_FARM}",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefil",
    321: "Error validating request.-'bN' : cause - simulated validation error",
    326: "Unable to connect as the client id is already in use. Retry with a unique client id.",
    354: "Requested market data is not subscribed.",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10197: "No market data during competing live session",
}


def error(version: int, request_id: int, code: int, message: str, advanced_json: str = "") -> Message:
    """Return error(4): reqId -1 for notices not tied to a request."""
    fields: Message = [4, 2, request_id, code, message]
    if version >= 166:
        fields.append(advanced_json)
    return fields


def managed_accounts(accounts: Sequence[str]) -> Message:
    """Return managedAccounts(15)."""
    return [15, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> Message:
    """Return nextValidId(9)."""
    return [9, 1, order_id]


def current_time(now: datetime) -> Message:
    """Return currentTime(49) in epoch seconds."""
    return [49, 1, int(now.timestamp())]


def tick_price(request_id: int, tick_type: int, price: float, size: float, mask: int = 0) -> Message:
    """Return tickPrice(1): a price with its size (the client derives the size tick)."""
    return [1, 6, request_id, tick_type, price, size, mask]


def tick_size(request_id: int, tick_type: int, size: float) -> Message:
    """Return tickSize(2)."""
    return [2, 6, request_id, tick_type, size]


def tick_string(request_id: int, tick_type: int, value: str) -> Message:
    """Return tickString(46)."""
    return [46, 6, request_id, tick_type, value]


def tick_generic(request_id: int, tick_type: int, value: float) -> Message:
    """Return tickGeneric(45)."""
    return [45, 6, request_id, tick_type, value]


def tick_req_params(request_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int) -> Message:
    """Return tickReqParams(81)."""
    return [81, request_id, min_tick, bbo_exchange, snapshot_permissions]


def market_data_type(request_id: int, data_type: int) -> Message:
    """Return marketDataType(58): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return [58, 1, request_id, data_type]


def tick_snapshot_end(request_id: int) -> Message:
    """Return tickSnapshotEnd(57)."""
    return [57, 1, request_id]


def tick_by_tick_last(request_id: int, all_last: bool, epoch: int, price: float, size: float,
                      exchange: str = "CME") -> Message:
    """Return tickByTick(99) of type Last (1) or AllLast (2)."""
    return [99, request_id, 2 if all_last else 1, epoch, price, size, 0, exchange, ""]


def tick_by_tick_bid_ask(request_id: int, epoch: int, bid: float, ask: float, bid_size: float,
                         ask_size: float) -> Message:
    """Return tickByTick(99) of type BidAsk (3)."""
    return [99, request_id, 3, epoch, bid, ask, bid_size, ask_size, 0]


def tick_by_tick_mid_point(request_id: int, epoch: int, mid: float) -> Message:
    """Return tickByTick(99) of type MidPoint (4)."""
    return [99, request_id, 4, epoch, mid]


def historical_ticks_last(request_id: int, ticks: Sequence[tuple[int, float, float]]) -> Message:
    """Return historicalTicksLast(98): (epoch, price, size) ticks, done."""
    fields: Message = [98, request_id, len(ticks)]
    for epoch, price, size in ticks:
        fields += [epoch, 0, price, size, "CME", ""]
    fields.append(True)
    return fields


def historical_data(request_id: int, start: str, end: str, bars: Sequence[Sequence[Field]]) -> Message:
    """Return historicalData(17); each bar is (date, open, high, low, close, volume, wap, count)."""
    fields: Message = [17, request_id, start, end, len(bars)]
    for bar in bars:
        fields.extend(bar)
    return fields


def historical_data_update(request_id: int, bar: Sequence[Field]) -> Message:
    """Return historicalDataUpdate(90) from (date, open, high, low, close, volume, wap, count)."""
    date, open_, high, low, close, volume, wap, count = bar
    return [90, request_id, count, date, open_, close, high, low, wap, volume]


def contract_details(version: int, request_id: int, contract: FutureContract, continuous: bool,
                     hours: tuple[str, str]) -> Message:
    """Return contractDetails(10): 40 fields at >= 164, the older layout below (39 at 157, 40 at 163)."""
    trading, liquid = hours
    head: Message = [10]
    if version < 164:
        head.append(8)
    head += [request_id, contract.symbol, "CONTFUT" if continuous else "FUT",
             f"{contract.last_trade_date} {contract.last_trade_moment:%H:%M} {TIME_ZONE_ID}", 0, "", "CME", "USD",
             contract.local_symbol, contract.symbol, contract.symbol, contract.con_id, 0.25]
    if version < 164:
        head.append("")  # mdSizeMultiplier
    head += [contract.multiplier, ORDER_TYPES, "CME,QBALGO", 1, UNDERLYING_CON_ID, contract.long_name, "",
             contract.contract_month, "", "", "", TIME_ZONE_ID, trading, liquid, "", "", 0,
             2, contract.symbol, "IND", "67,67", contract.last_trade_date, ""]
    if version == 163:
        head.append(1)  # suggestedSizeIncrement
    elif version >= 164:
        head += [1, 1, 1]  # minSize, sizeIncrement, suggestedSizeIncrement
    return head


def contract_details_end(request_id: int) -> Message:
    """Return contractDetailsEnd(52)."""
    return [52, 1, request_id]


def position(account: str, contract: FutureContract, quantity: float, average_cost: float) -> Message:
    """Return position(61): 16 fields, the contract without an exchange as IB sends it."""
    return [61, 3, account, *contract_block(contract, exchange=""), quantity, average_cost]


def position_end() -> Message:
    """Return positionEnd(62)."""
    return [62, 1]


def update_account_value(key: str, value: str, currency: str, account: str) -> Message:
    """Return updateAccountValue(6)."""
    return [6, 2, key, value, currency, account]


def update_portfolio(contract: FutureContract, quantity: float, market_price: float, market_value: float,
                     average_cost: float, unrealized: float, realized: float, account: str) -> Message:
    """Return updatePortfolio(7): 20 fields, primaryExchange in place of exchange."""
    return [7, 8, *contract_block(contract, exchange="CME"), quantity, market_price, market_value, average_cost,
            unrealized, realized, account]


def update_account_time(now: datetime) -> Message:
    """Return updateAccountTime(8) as HH:MM."""
    return [8, 1, f"{now:%H:%M}"]


def account_download_end(account: str) -> Message:
    """Return accountDownloadEnd(54)."""
    return [54, 1, account]


def account_summary(request_id: int, account: str, tag: str, value: str, currency: str) -> Message:
    """Return accountSummary(63)."""
    return [63, 1, request_id, account, tag, value, currency]


def account_summary_end(request_id: int) -> Message:
    """Return accountSummaryEnd(64)."""
    return [64, 1, request_id]


def account_update_multi(request_id: int, account: str, key: str, value: str, currency: str) -> Message:
    """Return accountUpdateMulti(73)."""
    return [73, 1, request_id, account, "", key, value, currency]


def account_update_multi_end(request_id: int) -> Message:
    """Return accountUpdateMultiEnd(74)."""
    return [74, 1, request_id]


def open_order_end() -> Message:
    """Return openOrderEnd(53)."""
    return [53, 1]


def completed_orders_end() -> Message:
    """Return completedOrdersEnd(102)."""
    return [102]


def exec_details_end(request_id: int) -> Message:
    """Return execDetailsEnd(55)."""
    return [55, 1, request_id]


def contract_block(contract: FutureContract, exchange: str) -> Message:
    """Return conId..tradingClass (11 fields) as openOrder, execDetails and position carry them."""
    return [contract.con_id, contract.symbol, "FUT", contract.last_trade_date, 0, "", contract.multiplier,
            exchange, "USD", contract.local_symbol, contract.symbol]


