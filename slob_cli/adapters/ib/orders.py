"""Orders through ib_async: send intents, cancel, read the broker's view, report status and fills.

Everything here converts at the border: ib_async's Trade/Fill/Position objects become the plain
records of core/broker_view.py, and nothing camelCase leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from slob_cli.core.broker_view import BrokerExecution, BrokerOrder, BrokerPosition, BrokerView
from slob_cli.core.orders import OCA_TYPE_REDUCE_WITH_BLOCK, OrderIntent
from slob_cli.errors import BrokerError

UTC = timezone.utc
log = logging.getLogger(__name__)

_UNSET = 1.7e308  # IB prints unset doubles as 1.7976931348623157E308


@dataclass(frozen=True, slots=True)
class CommissionReport:
    """The commission (and realized P&L on a closing fill) of one execution."""

    exec_id: str
    commission: float
    realized_pnl: float | None


StatusListener = Callable[[BrokerOrder], None]
ExecutionListener = Callable[[BrokerExecution], None]
CommissionListener = Callable[[CommissionReport], None]
ErrorListener = Callable[[int, int, str], None]  # (order id, code, text)


def _price(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    if not math.isfinite(number) or number >= _UNSET or number == 0.0:
        return None
    return number


_ACCEPTED = frozenset({"PreSubmitted", "Submitted", "Filled"})
_AWAITING_BROKER = frozenset({"PendingSubmit", "PendingCancel", "ApiPending"})


def _status(trade: Any) -> str:
    """Return the trade's IB status, with a refused new order reported as IB's 'Inactive'.

    ib_async marks an order the broker refused on arrival (error 201, or 321 as a validation
    warning) 'Cancelled' or 'ValidationError'; to us that is a rejection, not a cancel.
    """
    status = trade.orderStatus.status
    if status not in ("Cancelled", "ValidationError"):
        return str(status)
    entries = list(getattr(trade, "log", None) or [])
    accepted = any(entry.status in _ACCEPTED for entry in entries)
    refused = bool(entries) and bool(entries[-1].errorCode)
    return "Inactive" if refused and not accepted else str(status)


def broker_order(trade: Any) -> BrokerOrder:
    """Convert an ib_async Trade to a BrokerOrder."""
    order, status = trade.order, trade.orderStatus
    quantity = round(float(order.totalQuantity or 0))
    return BrokerOrder(
        order_ref=order.orderRef or None,
        order_id=int(order.orderId),
        symbol=trade.contract.symbol,
        action=order.action,
        order_type=order.orderType,
        quantity=quantity,
        status=_status(trade),
        filled=round(float(status.filled or 0)),
        avg_fill_price=_price(status.avgFillPrice),
        stop_price=_price(order.auxPrice),
        limit_price=_price(order.lmtPrice),
        perm_id=int(order.permId or 0),
    )


def broker_execution(fill: Any, report: Any = None) -> BrokerExecution:
    """Convert an ib_async Fill to a BrokerExecution (time in UTC), with its commission report if one came."""
    execution = fill.execution
    when = execution.time if isinstance(execution.time, datetime) else fill.time
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    report = report if report is not None else getattr(fill, "commissionReport", None)
    reported = getattr(report, "execId", None) == execution.execId  # an empty report has no execId
    return BrokerExecution(
        exec_id=execution.execId,
        order_ref=execution.orderRef or None,
        order_id=int(execution.orderId),
        symbol=fill.contract.symbol,
        side=execution.side,
        shares=round(float(execution.shares)),
        price=float(execution.price),
        time=when.astimezone(UTC),
        perm_id=int(execution.permId or 0),
        commission=float(report.commission or 0.0) if reported else None,
        realized_pnl=(_price(report.realizedPNL) if report.realizedPNL else None) if reported else None,
    )


def ib_order(intent: OrderIntent, order_id: int, parent_id: int, account: str | None) -> Any:
    """Build the ib_async Order for an intent."""
    from ib_async import Order

    order = Order(
        orderId=order_id,
        action=intent.action,
        totalQuantity=float(intent.quantity),
        orderType=intent.order_type,
        tif=intent.tif,
        orderRef=intent.order_ref,
        transmit=intent.transmit,
        parentId=parent_id,
        outsideRth=True,
    )
    if intent.limit_price is not None:
        order.lmtPrice = intent.limit_price
    if intent.stop_price is not None:
        order.auxPrice = intent.stop_price
    if intent.oca_group:
        order.ocaGroup = intent.oca_group
        order.ocaType = intent.oca_type or OCA_TYPE_REDUCE_WITH_BLOCK  # a partial fill must not cancel the stop
    if account:
        order.account = account
    return order


class IBOrderPort:
    """Send and watch our orders over one IBConnection (ib_async `IB` object)."""

    def __init__(self, ib: Any, contract_for: Callable[[str], Any], account: Callable[[], str | None]) -> None:
        self.ib = ib
        self.contract_for = contract_for
        self.account = account
        self._status: list[StatusListener] = []
        self._executions: list[ExecutionListener] = []
        self._commissions: list[CommissionListener] = []
        self._errors: list[ErrorListener] = []
        ib.orderStatusEvent += self._on_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.errorEvent += self._on_error
        self._unsynced = False  # a command was sent whose replies may not all have been read yet

    # ------------------------------------------------------------------ listeners
    def on_status(self, listener: StatusListener) -> None:
        """Call listener with every order status change of any order."""
        self._status.append(listener)

    def on_execution(self, listener: ExecutionListener) -> None:
        """Call listener with every execution as it arrives."""
        self._executions.append(listener)

    def on_commission(self, listener: CommissionListener) -> None:
        """Call listener with every commission report."""
        self._commissions.append(listener)

    def on_error(self, listener: ErrorListener) -> None:
        """Call listener(order_id, code, text) for errors tied to an order id."""
        self._errors.append(listener)

    def in_flight(self) -> bool:
        """Return True while an order placed or cancelled here awaits the broker's acknowledgement."""
        return any(trade.orderStatus.status in _AWAITING_BROKER for trade in self.ib.trades())

    @property
    def unsynced(self) -> bool:
        """Return True when an order command was sent since the last `sync` (its replies may be unread)."""
        return self._unsynced

    async def sync(self, timeout: float = 10.0) -> None:
        """Return once every reply to the commands sent so far has been read.

        An acknowledgement is only the first of an order's replies: the fill of a marketable order,
        its children's statuses and the position follow in later messages, which a reader may take
        in later reads. The gateway answers requests in order, so the answer to one more round trip
        (contract details, which touch no order, fill or position) comes after all of them.
        """
        self._unsynced = False
        trade = next(iter(self.ib.trades()), None)
        if trade is not None:
            await asyncio.wait_for(self.ib.reqContractDetailsAsync(trade.contract), timeout)

    def _on_status(self, trade: Any) -> None:
        view = broker_order(trade)
        for listener in self._status:
            listener(view)

    def _on_exec(self, trade: Any, fill: Any) -> None:
        view = broker_execution(fill)
        for listener in self._executions:
            listener(view)

    def _on_commission(self, trade: Any, fill: Any, report: Any) -> None:
        realized = _price(report.realizedPNL) if report.realizedPNL else None
        view = CommissionReport(report.execId, float(report.commission or 0.0), realized)
        for listener in self._commissions:
            listener(view)

    def _on_error(self, request_id: int, code: int, text: str, contract: Any) -> None:
        if request_id > 0:
            for listener in self._errors:
                listener(request_id, code, text)

    # ------------------------------------------------------------------ commands
    def place(self, intents: Sequence[OrderIntent]) -> dict[str, int]:
        """Send intents in order (parents before children); return orderRef -> broker order id."""
        if not self.ib.isConnected():
            raise BrokerError("not connected to the gateway; order not sent")
        ids: dict[str, int] = {}
        for intent in intents:
            contract = self.contract_for(intent.symbol)
            parent_id = ids.get(intent.parent_ref, 0) if intent.parent_ref else 0
            if intent.parent_ref and not parent_id:
                raise BrokerError(f"{intent.order_ref}: parent {intent.parent_ref} was not sent first")
            order_id = self.ib.client.getReqId()
            self.ib.placeOrder(contract, ib_order(intent, order_id, parent_id, self.account()))
            self._unsynced = True
            ids[intent.order_ref] = order_id
        return ids

    def cancel(self, order_id: int) -> bool:
        """Ask the broker to cancel an order by id; return False when we do not know it."""
        for trade in self.ib.trades():
            if trade.order.orderId == order_id:
                self.ib.cancelOrder(trade.order)
                self._unsynced = True
                return True
        return False

    async def snapshot(self, timeout: float = 10.0) -> BrokerView:
        """Return open and completed orders, executions and positions as the broker reports them."""
        open_trades = await asyncio.wait_for(self.ib.reqAllOpenOrdersAsync(), timeout)
        completed = await asyncio.wait_for(self.ib.reqCompletedOrdersAsync(True), timeout)
        fills = await asyncio.wait_for(self.ib.reqExecutionsAsync(), timeout)
        positions = await asyncio.wait_for(self.ib.reqPositionsAsync(), timeout)
        known = {trade.order.orderId: trade for trade in self.ib.trades()}
        # A repeated reqExecutions answers with fresh Fill objects; the commission reports go to the first ones.
        reports = {f.execution.execId: f.commissionReport for f in self.ib.fills()}
        # Only what the gateway itself reports as open counts as open: an order ib_async still holds
        # as PendingSubmit may have been lost in flight at a disconnect and must not pass for a stop.
        open_views = {broker_order(t).order_id: broker_order(t) for t in open_trades}
        done = [broker_order(t) for t in completed] + [broker_order(t) for t in known.values() if t.isDone()]
        return BrokerView(
            open_orders=tuple(open_views.values()),
            completed_orders=tuple({o.order_id: o for o in done}.values()),
            executions=tuple({e.exec_id: e for e in (broker_execution(f, reports.get(f.execution.execId))
                                                     for f in fills)}.values()),
            positions=tuple(
                BrokerPosition(p.contract.symbol, round(float(p.position)), float(p.avgCost),
                               p.contract.localSymbol or None)
                for p in positions if float(p.position) != 0.0
            ),
        )

    def resize(self, order_id: int, quantity: int) -> bool:
        """Change a working order's total quantity (IB modifies an order by re-placing its id)."""
        for trade in self.ib.trades():
            if trade.order.orderId == order_id and not trade.isDone():
                trade.order.totalQuantity = float(quantity)
                self.ib.placeOrder(trade.contract, trade.order)
                self._unsynced = True
                return True
        return False

    def equity(self) -> float | None:
        """Return the account's net liquidation value in USD, when the gateway reported it."""
        account = self.account() or ""
        for value in self.ib.accountValues(account):
            if value.tag == "NetLiquidation" and value.currency in ("USD", "BASE"):
                try:
                    return float(value.value)
                except ValueError:
                    return None
        return None
