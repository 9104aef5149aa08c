"""Encode openOrder, orderStatus, execDetails, commissionReport and completedOrder per server version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from slob_cli.sim.contracts import CENTRAL, TIME_ZONE_ID, FutureContract
from slob_cli.sim.encoders import Message, contract_block

if TYPE_CHECKING:
    from slob_cli.sim.broker import SimExecution, SimOrder

UNSET_DOUBLE_TEXT = "1.7976931348623157E308"  # how TWS writes an unset double (e.g. realizedPNL on an opening fill)


def _prices(order: SimOrder) -> tuple[float | None, float | None]:
    """Return (lmtPrice, auxPrice) as IB reports them for the order type."""
    if order.order_type == "LMT":
        return order.limit_price, None
    if order.order_type == "STP":
        return None, order.stop_price
    if order.order_type == "STP LMT":
        return order.limit_price, order.stop_price
    return None, None


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The margin and commission preview a what-if order returns instead of being placed."""

    margins: tuple[str, ...]  # init/maint/equityWithLoan x before, change, after (9 strings)
    commission: float


def open_order(version: int, order: SimOrder, contract: FutureContract, what_if: WhatIf | None = None) -> Message:
    """Return openOrder(5): 120 fields at v157, 123 at 163-164, 128 at 170-176, 127 at 177-178."""
    limit_price, aux_price = _prices(order)
    fields: Message = [5, order.order_id, *contract_block(contract, "CME")]
    fields += [order.action, order.quantity, order.order_type, limit_price, aux_price, order.tif, order.oca_group,
               order.account, "", 0, order.order_ref, order.client_id, order.perm_id, order.outside_rth, False,
               0, "", "", "", "", ""]  # hidden, discretionaryAmt, goodAfterTime, deprecated, faGroup/Method/%
    if version < 177:
        fields.append("")  # faProfile
    fields += ["", "", "", "", "", 0, "", -1, None, None, None, None, None, None, None, False, False, False, None,
               order.oca_type, False, False, None, order.parent_id, 0]  # modelCode .. triggerMethod
    fields += [None, None, "", None, False, None, None, None, None, None]  # volatility .. basisPointsType
    fields += ["", 0, 0, 0]  # comboLegsDescrip, legs, order legs, smart combo params
    fields += [None, None, None, "", False, "", "", False, False, "", False, what_if is not None]  # scale .. whatIf
    margins = what_if.margins if what_if is not None else ("",) * 9
    commission = what_if.commission if what_if is not None else None
    fields += [order.status, *margins, commission, None, None, "USD" if what_if else "", "", False, False, 0]
    fields += ["None", None, None, None, None, None, None, 0, "", "", "", None, False, False, False, None]
    if version >= 158:
        fields.append("")  # duration
    if version >= 160:
        fields.append(None)  # postToAts
    if version >= 162:
        fields.append(False)  # autoCancelParent
    if version >= 170:
        fields += [None, None, None, None, None]  # minTradeQty .. midOffsetAtHalf
    return fields


def order_status(order: SimOrder) -> Message:
    """Return orderStatus(3) (no version field)."""
    return [3, order.order_id, order.status, order.filled, order.remaining, order.avg_fill_price, order.perm_id,
            order.parent_id, order.last_fill_price, order.client_id, "", None]


def execution_time(moment: datetime) -> str:
    """Return an execution time as 'YYYYMMDD HH:MM:SS US/Central'."""
    return f"{moment.astimezone(CENTRAL):%Y%m%d %H:%M:%S} {TIME_ZONE_ID}"


def exec_details(version: int, request_id: int, execution: SimExecution, contract: FutureContract) -> Message:
    """Return execDetails(11): reqId -1 for live fills; pendingPriceRevision from v178."""
    fields: Message = [11, request_id, execution.order_id, *contract_block(contract, "CME"), execution.exec_id,
                       execution_time(execution.time), execution.account, "CME", execution.side, execution.shares,
                       execution.price, execution.perm_id, execution.client_id, 0, execution.cum_qty,
                       execution.avg_price, execution.order_ref, "", None, "", 1]
    if version >= 178:
        fields.append(False)
    return fields


def commission_report(execution: SimExecution) -> Message:
    """Return commissionReport(59): exactly 8 fields; realizedPNL unset on opening fills."""
    realized = UNSET_DOUBLE_TEXT if execution.realized_pnl is None else execution.realized_pnl
    return [59, 1, execution.exec_id, execution.commission, "USD", realized, UNSET_DOUBLE_TEXT, ""]


def completed_order(version: int, order: SimOrder, contract: FutureContract, completed_time: datetime) -> Message:
    """Return completedOrder(101): like openOrder without orderId and margins, completion fields near the end."""
    limit_price, aux_price = _prices(order)
    fields: Message = [101, *contract_block(contract, "CME")]
    fields += [order.action, order.quantity, order.order_type, limit_price, aux_price, order.tif, order.oca_group,
               order.account, "", 0, order.order_ref, order.perm_id, order.outside_rth, False, 0, "", "", "", ""]
    if version < 177:
        fields.append("")  # faProfile
    fields += ["", "", "", "", "", 0, "", -1, None, None, None, None, None, None, False, False, None,
               order.oca_type, 0, None, None, "", None]  # modelCode .. deltaNeutralAuxPrice
    fields += [False, None, None, None, "", 0, 0, 0]  # continuousUpdate .. smart combo params
    fields += [None, None, None, "", "", "", False, False, ""]  # scale, hedgeType, clearing, notHeld, dnc, algo
    fields += [False, order.status, False, False, 0]  # solicited, status, randomize x2, conditions
    fields += [None, None, None, False, False, "", order.filled, 0, False, "", False, False, 0,
               f"{completed_time.astimezone(CENTRAL):%Y%m%d %H:%M:%S} {TIME_ZONE_ID}", order.status]
    if version >= 170:
        fields += [None, None, None, None, None]
    return fields
