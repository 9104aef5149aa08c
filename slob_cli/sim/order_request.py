"""Decode placeOrder (message 3) field by field, for server versions 157..178, to its last field."""

from __future__ import annotations

from dataclasses import dataclass

from slob_cli.sim.protocol import UNSET_DOUBLE, FieldReader, ProtocolError
from slob_cli.sim.wire_types import ContractSpec

# Fields each order condition carries after its condType (price, time, margin, execution, volume, %change).
_CONDITION_FIELDS = {1: 6, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5}


def read_contract(reader: FieldReader, with_primary_exchange: bool) -> ContractSpec:
    """Read the request contract block (12 fields, or 11 without primaryExchange)."""
    con_id = reader.integer()
    symbol = reader.text()
    sec_type = reader.text()
    last_trade_date = reader.text()
    strike = reader.number()
    right = reader.text()
    multiplier = reader.text()
    exchange = reader.text()
    primary_exchange = reader.text() if with_primary_exchange else ""
    return ContractSpec(con_id, symbol, sec_type, last_trade_date, strike or None, right, multiplier, exchange,
                        primary_exchange, reader.text(), reader.text(), reader.text())


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """The parts of a placeOrder request the simulated broker acts on."""

    order_id: int
    contract: ContractSpec
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    oca_type: int
    good_till_date: str
    what_if: bool
    field_count: int


def read_place_order(reader: FieldReader, version: int) -> PlaceOrder:
    """Read a whole placeOrder message; the caller checks nothing is left over."""
    order_id = reader.integer()
    contract = read_contract(reader, with_primary_exchange=True)
    reader.skip(2)  # secIdType, secId
    action = reader.text()
    quantity = reader.number() or 0.0
    order_type = reader.text()
    limit_price = reader.number()
    aux_price = reader.number()
    tif = reader.text()
    oca_group = reader.text()
    account = reader.text()
    reader.skip(2)  # openClose, origin
    order_ref = reader.text()
    transmit = reader.flag()
    parent_id = reader.integer()
    reader.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth = reader.flag()
    reader.text()  # hidden
    if contract.sec_type == "BAG":
        reader.skip(8 * reader.integer())
        reader.skip(reader.integer())
        reader.skip(2 * reader.integer())
    reader.skip(3)  # deprecated sharesAllocation, discretionaryAmt, goodAfterTime
    good_till_date = reader.text()
    reader.skip(3)  # faGroup, faMethod, faPercentage
    if version < 177:
        reader.text()  # faProfile
    reader.skip(4)  # modelCode, shortSaleSlot, designatedLocation, exemptCode
    oca_type = reader.integer()
    reader.skip(17)  # rule80A .. volatilityType
    delta_neutral_type = reader.text()
    reader.text()  # deltaNeutralAuxPrice
    if delta_neutral_type:
        reader.skip(8)
    reader.skip(6)  # continuousUpdate .. scaleSubsLevelSize
    increment = reader.number()
    if increment is not None and 0 < increment < UNSET_DOUBLE:
        reader.skip(7)
    reader.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if reader.text():  # hedgeType
        reader.text()
    reader.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if reader.flag():  # delta-neutral contract
        reader.skip(3)
    if reader.text():  # algoStrategy
        reader.skip(2 * reader.integer())
    reader.text()  # algoId
    what_if = reader.flag()
    reader.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in {"PEG BENCH", "PEGBENCH"}:
        reader.skip(5)
    conditions = reader.integer()
    for _ in range(conditions):
        condition_type = reader.integer()
        if condition_type not in _CONDITION_FIELDS:
            raise ProtocolError(f"placeOrder has unknown condition type {condition_type}")
        reader.skip(_CONDITION_FIELDS[condition_type])
    if conditions:
        reader.skip(2)  # conditionsIgnoreRth, conditionsCancelOrder
    reader.skip(19)  # adjustedOrderType .. usePriceMgmtAlgo
    _read_version_tail(reader, version, contract, order_type)
    return PlaceOrder(order_id, contract, action, quantity, order_type, limit_price, aux_price, tif, oca_group,
                      account, order_ref, transmit, parent_id, outside_rth, oca_type, good_till_date, what_if,
                      len(reader.fields))


def _read_version_tail(reader: FieldReader, version: int, contract: ContractSpec, order_type: str) -> None:
    for threshold in (158, 160, 162, 166, 169):  # duration, postToAts, autoCancelParent, override, manualTime
        if version >= threshold:
            reader.text()
    if version < 170:
        return
    if contract.exchange == "IBKRATS":
        reader.text()  # minTradeQty
    if order_type in {"PEG BEST", "PEGBEST"}:
        reader.skip(1)  # minCompeteSize
        if reader.number() == float("inf"):
            reader.skip(2)
    elif order_type in {"PEG MID", "PEGMID"}:
        reader.skip(2)
