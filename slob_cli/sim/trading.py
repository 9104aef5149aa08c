"""Orders and account requests: route them to the SimBroker and fan its events out as TWS messages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from slob_cli.sim import encoders, order_encoders
from slob_cli.sim.contracts import UnknownContract, contract_by_con_id, resolve
from slob_cli.sim.encoders import Message
from slob_cli.sim.order_request import PlaceOrder
from slob_cli.sim.pnl import PnlBook
from slob_cli.sim.requests import (
    AccountSummaryRequest,
    AccountUpdatesMultiRequest,
    AccountUpdatesRequest,
    ExecutionsRequest,
    PnlRequest,
)
from slob_cli.sim.session import ClientSession, PnlSubscription

if TYPE_CHECKING:
    from slob_cli.sim.broker import SimBroker, SimExecution, SimOrder
    from slob_cli.sim.market import MarketTick

log = logging.getLogger("slob.sim")
NO_SECURITY = "No security definition has been found for the request"
SUMMARY_TAGS = ("AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash", "BuyingPower",
                "EquityWithLoanValue", "PreviousEquityWithLoanValue", "GrossPositionValue", "RegTEquity",
                "RegTMargin", "SMA", "InitMarginReq", "MaintMarginReq", "AvailableFunds", "ExcessLiquidity",
                "Cushion", "FullInitMarginReq", "FullMaintMarginReq", "FullAvailableFunds", "FullExcessLiquidity",
                "LookAheadNextChange", "LookAheadInitMarginReq", "LookAheadMaintMarginReq",
                "LookAheadAvailableFunds", "LookAheadExcessLiquidity", "HighestSeverity", "DayTradesRemaining",
                "Leverage", "UnrealizedPnL", "RealizedPnL")


class Trading:
    """The order and account half of the gateway, shared by every client session."""

    def __init__(self, broker: SimBroker, accounts: list[str], now: Callable[[], datetime],
                 sessions: Callable[[], Iterable[ClientSession]], last_tick: Callable[[], MarketTick | None]) -> None:
        self.broker = broker
        self.accounts = accounts
        self._now = now
        self._sessions = sessions
        self._last_tick = last_tick
        self.next_order_id = 1
        self.pnl = PnlBook(now)

    # ------------------------------------------------------------------ orders
    def place(self, session: ClientSession, request: PlaceOrder) -> None:
        """Validate the contract, hand the order to the broker and send what it reports."""
        from slob_cli.sim.broker import SimOrder

        assert session.client_id is not None
        self.next_order_id = max(self.next_order_id, request.order_id + 1)
        if request.contract.sec_type == "CONTFUT":
            session.send(encoders.error(session.version, request.order_id, 200, NO_SECURITY))
            return
        try:
            matches = resolve(request.contract, self._now())
        except UnknownContract:
            matches = []
        if len(matches) != 1:
            session.send(encoders.error(session.version, request.order_id, 200, NO_SECURITY))
            return
        contract = matches[0]
        order = SimOrder(
            order_id=request.order_id, client_id=session.client_id, perm_id=0,
            account=request.account or self.accounts[0], con_id=contract.con_id, symbol=contract.symbol,
            local_symbol=contract.local_symbol, multiplier=contract.multiplier, action=request.action,
            quantity=request.quantity, order_type=request.order_type, limit_price=request.limit_price,
            stop_price=request.aux_price, tif=request.tif or "DAY", oca_group=request.oca_group,
            oca_type=request.oca_type, order_ref=request.order_ref, transmit=request.transmit,
            parent_id=request.parent_id, outside_rth=request.outside_rth,
        )
        if request.what_if:
            session.send(order_encoders.open_order(session.version, replace(order, status="PreSubmitted"), contract,
                                                   self._preview(order)))
            return
        self.dispatch(self.broker.place_order(order, self._now(), self._last_tick()))

    def _preview(self, order: SimOrder) -> order_encoders.WhatIf:
        """Return a what-if order's margin and commission preview (nothing is placed)."""
        from slob_cli.sim.ledger import DEFAULT_MARGINS
        from slob_cli.sim.orders import DEFAULT_COMMISSIONS

        values = self.broker.account_values(order.account, self._now())
        initial, maintenance = DEFAULT_MARGINS.get(order.symbol, DEFAULT_MARGINS["NQ"])
        before = [float(values.get(key, 0.0)) for key in ("InitMarginReq", "MaintMarginReq", "EquityWithLoanValue")]
        change = [order.quantity * initial, order.quantity * maintenance, 0.0]
        after = [first + second for first, second in zip(before, change, strict=True)]
        margins = tuple(f"{value:.2f}" for value in (*before, *change, *after))
        return order_encoders.WhatIf(margins, order.quantity * DEFAULT_COMMISSIONS.get(order.symbol, 2.25))

    def cancel(self, session: ClientSession, order_id: int) -> None:
        """Cancel one of this client's orders."""
        assert session.client_id is not None
        self.dispatch(self.broker.cancel_order(session.client_id, order_id, self._now()))

    def global_cancel(self) -> None:
        """Cancel every open order of every client."""
        self.dispatch(self.broker.global_cancel(self._now()))

    def open_orders(self, session: ClientSession, all_clients: bool) -> None:
        """Answer reqOpenOrders / reqAllOpenOrders: openOrder + orderStatus each, then openOrderEnd."""
        client = None if all_clients else session.client_id  # no manual TWS orders here, so client 0 is no special
        messages: list[Message] = []
        for order in self.broker.open_orders(client):
            messages += self._order_messages(session, order)
        messages.append(encoders.open_order_end())
        session.send_many(messages)

    # ------------------------------------------------------------------ P&L
    def subscribe_pnl(self, session: ClientSession, request: PnlRequest) -> None:
        """Answer reqPnL / reqPnLSingle with the current numbers, then push them as they change."""
        if request.account not in self.accounts:
            session.send(encoders.error(session.version, request.request_id, 321,
                                        f"Error validating request:-'{request.account}' is not a managed account"))
            return
        line = PnlSubscription(request.request_id, request.account, request.con_id)
        session.pnl[request.request_id] = line
        self.broker.with_ledger(lambda ledger: self.pnl.publish(ledger, [session], new=line))

    def publish_pnl(self) -> None:
        """Push changed P&L lines to their subscribers."""
        sessions = list(self._sessions())
        if any(session.pnl for session in sessions):
            self.broker.with_ledger(lambda ledger: self.pnl.publish(ledger, sessions))

    def push_open_orders(self, session: ClientSession) -> None:
        """Send openOrder + orderStatus for the client's working orders, as IB does when a client (re)connects."""
        messages: list[Message] = []
        for order in self.broker.open_orders(session.client_id):
            messages += self._order_messages(session, order)
        if messages:
            session.send_many(messages)

    def completed_orders(self, session: ClientSession) -> None:
        """Answer reqCompletedOrders with every finished order, then completedOrdersEnd."""
        messages: list[Message] = []
        for order in self.broker.completed_orders():
            contract = contract_by_con_id(order.con_id)
            if contract is not None:
                finished = getattr(order, "completed_at", None) or self._now()
                messages.append(order_encoders.completed_order(session.version, order, contract, finished))
        messages.append(encoders.completed_orders_end())
        session.send_many(messages)

    def executions(self, session: ClientSession, request: ExecutionsRequest) -> None:
        """Answer reqExecutions with the filtered fills (execDetails + commissionReport), then the end."""
        since = _parse_filter_time(request.time)
        side = {"BUY": "BOT", "SELL": "SLD"}.get(request.side.upper(), request.side.upper())
        messages: list[Message] = []
        for execution in self.broker.executions(client_id=request.client_id or None, account=request.account or None,
                                                since=since, symbol=request.symbol or None, side=side or None):
            contract = contract_by_con_id(execution.con_id)
            if contract is None or (request.sec_type and request.sec_type != "FUT"):
                continue
            messages.append(order_encoders.exec_details(session.version, request.request_id, execution, contract))
            messages.append(order_encoders.commission_report(execution))
        messages.append(encoders.exec_details_end(request.request_id))
        session.send_many(messages)

    def _order_messages(self, session: ClientSession, order: SimOrder) -> list[Message]:
        contract = contract_by_con_id(order.con_id)
        if contract is None:
            return []
        return [order_encoders.open_order(session.version, order, contract), order_encoders.order_status(order)]

    # ------------------------------------------------------------------ broker events
    def dispatch(self, events: Iterable[object]) -> None:
        """Turn broker events into messages for the clients they concern, in IB's order."""
        from slob_cli.sim.broker import AccountUpdate, Fill, OrderRejected, OrderUpdate, PositionUpdate

        for event in events:
            if isinstance(event, OrderUpdate):
                for session in self._order_watchers(event.order.client_id):
                    session.send_many(self._order_messages(session, event.order))
            elif isinstance(event, Fill):
                for session in self._order_watchers(event.order.client_id):
                    self._send_fill(session, event.order, event.execution)
            elif isinstance(event, PositionUpdate):
                self._send_position(event.account, event.con_id, event.position, event.avg_cost)
            elif isinstance(event, AccountUpdate):
                self._send_account_values(event.account, event.values)
            elif isinstance(event, OrderRejected):
                for session in self._order_watchers(event.client_id):
                    session.send(encoders.error(session.version, event.order_id, event.code, event.message))
            else:
                log.warning("unknown broker event %r", event)
        self.publish_pnl()

    def _order_watchers(self, client_id: int) -> list[ClientSession]:
        return [session for session in self._sessions() if session.client_id == client_id]

    def _send_fill(self, session: ClientSession, order: SimOrder, execution: SimExecution) -> None:
        contract = contract_by_con_id(order.con_id)
        if contract is None:
            return
        session.send_many([
            order_encoders.exec_details(session.version, -1, execution, contract),
            order_encoders.order_status(order),
            order_encoders.open_order(session.version, order, contract),
            order_encoders.commission_report(execution),
        ])

    def _send_position(self, account: str, con_id: int, quantity: float, average_cost: float) -> None:
        contract = contract_by_con_id(con_id)
        if contract is None:
            return
        for session in self._sessions():
            if session.positions_subscribed:
                session.send(encoders.position(account, contract, quantity, average_cost))
            if session.account_subscription == account:
                session.send(self._portfolio_message(account, con_id, quantity, average_cost))

    def _portfolio_message(self, account: str, con_id: int, quantity: float, average_cost: float) -> Message:
        contract = contract_by_con_id(con_id)
        assert contract is not None
        tick = self._last_tick()
        price = tick.price if tick is not None else average_cost / contract.multiplier
        market_value = quantity * price * contract.multiplier
        unrealized = market_value - quantity * average_cost if quantity else 0.0
        realized = self.broker.realized_on(account, con_id, self._now())
        return encoders.update_portfolio(contract, quantity, price, round(market_value, 2), average_cost,
                                         round(unrealized, 2), round(realized, 2), account)

    def _send_account_values(self, account: str, values: dict[str, str]) -> None:
        for session in self._sessions():
            if session.account_subscription == account:
                session.send_many(encoders.update_account_value(key, value, "USD", account)
                                  for key, value in values.items())
            for request_id, tags in session.account_summaries.items():
                session.send_many(self._summary_messages(request_id, account, values, tags))
            for request_id, wanted in session.account_multi.items():
                if wanted in ("", "All", account):
                    session.send_many(encoders.account_update_multi(request_id, account, key, value, "USD")
                                      for key, value in values.items())

    # ------------------------------------------------------------------ account requests
    def positions(self, session: ClientSession) -> None:
        """Answer reqPositions with every position, then positionEnd, and keep the client posted."""
        session.positions_subscribed = True
        messages: list[Message] = []
        for account, con_id, quantity, average_cost in self.broker.positions():
            contract = contract_by_con_id(con_id)
            if contract is not None:
                messages.append(encoders.position(account, contract, quantity, average_cost))
        messages.append(encoders.position_end())
        session.send_many(messages)

    def account_updates(self, session: ClientSession, request: AccountUpdatesRequest) -> None:
        """Answer reqAccountUpdates: values, portfolio, time, accountDownloadEnd; keep it posted."""
        account = request.account or self.accounts[0]
        if not request.subscribe:
            session.account_subscription = None
            return
        if account not in self.accounts:
            session.send(encoders.error(session.version, -1, 321, f"Error validating request:-'{account}' "
                                                                   "is not a managed account"))
            return
        session.account_subscription = account
        values = self.broker.account_values(account, self._now())
        messages: list[Message] = [encoders.update_account_value(key, value, "USD", account)
                                   for key, value in values.items()]
        messages.append(encoders.update_account_value("AccountCode", account, "", account))
        for holder, con_id, quantity, average_cost in self.broker.positions(account):
            if contract_by_con_id(con_id) is not None:
                messages.append(self._portfolio_message(holder, con_id, quantity, average_cost))
        messages.append(encoders.update_account_time(self._now()))
        messages.append(encoders.account_download_end(account))
        session.send_many(messages)

    def account_updates_multi(self, session: ClientSession, request: AccountUpdatesMultiRequest) -> None:
        """Answer reqAccountUpdatesMulti for one account (or all), then its end marker."""
        session.account_multi[request.request_id] = request.account
        messages: list[Message] = []
        for account in self.accounts:
            if request.account in ("", "All", account):
                messages += [encoders.account_update_multi(request.request_id, account, key, value, "USD")
                             for key, value in self.broker.account_values(account, self._now()).items()]
        messages.append(encoders.account_update_multi_end(request.request_id))
        session.send_many(messages)

    def account_summary(self, session: ClientSession, request: AccountSummaryRequest) -> None:
        """Answer reqAccountSummary with the asked tags of every account, then its end marker."""
        session.account_summaries[request.request_id] = request.tags
        messages: list[Message] = []
        for account in self.accounts:
            messages += self._summary_messages(request.request_id, account, self.broker.account_values(account, self._now()),
                                               request.tags)
        messages.append(encoders.account_summary_end(request.request_id))
        session.send_many(messages)

    def _summary_messages(self, request_id: int, account: str, values: dict[str, str], tags: str) -> list[Message]:
        wanted = {tag.strip() for tag in tags.split(",") if tag.strip()}
        everything = not wanted or "All" in wanted
        messages: list[Message] = []
        for tag, value in values.items():
            if everything or tag in wanted or (tag == "AccountType" and "AccountType" in wanted):
                messages.append(encoders.account_summary(request_id, account, tag, value,
                                                         "" if tag == "AccountType" else "USD"))
        return messages


def _parse_filter_time(text: str) -> datetime | None:
    """Return the aware time of an execution filter ('yyyymmdd hh:mm:ss [tz]' or 'yyyymmdd-hh:mm:ss')."""
    from slob_cli.sim.history import HistoryError, parse_end

    if not text.strip():
        return None
    try:
        return parse_end(text, datetime.now())
    except HistoryError:
        return None
