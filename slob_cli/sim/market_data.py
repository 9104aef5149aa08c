"""Market-data requests: reqMktData, reqTickByTickData, reqHistoricalData and reqContractDetails."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from slob_cli.sim import encoders, history, market_feed
from slob_cli.sim.contracts import CENTRAL, FutureContract, UnknownContract, resolve, trading_hours
from slob_cli.sim.encoders import NOTICES, Message
from slob_cli.sim.requests import (
    ContractDetailsRequest,
    HistoricalDataRequest,
    HistoricalTicksRequest,
    MarketDataRequest,
    TickByTickRequest,
)
from slob_cli.sim.session import BarSubscription, ClientSession, QuoteSubscription, TickByTickSubscription
from slob_cli.sim.wire_types import ContractSpec

if TYPE_CHECKING:
    from slob_cli.sim.server import GatewayServer

log = logging.getLogger("slob.sim")
NO_SECURITY = "No security definition has been found for the request"
TICK_BY_TICK_TYPES = ("Last", "AllLast", "BidAsk", "MidPoint")
MAX_TICK_BY_TICK_LINES = 10
DELAYED_TYPES = (3, 4)
DELAYED_BY = timedelta(minutes=10)  # IB's delayed data for CME futures lags by ten minutes
BBO_EXCHANGE = "CME"  # tickReqParams names the exchange whose best bid/offer the quotes are


class MarketData:
    """Answer market-data requests from the server's market source and clock."""

    def __init__(self, server: GatewayServer, delayed: bool, monotonic: Callable[[], float]) -> None:
        self.server = server
        self.delayed = delayed
        self.pacing = history.HistoricalPacing(monotonic)

    def _single_contract(self, session: ClientSession, request_id: int, spec: ContractSpec) -> FutureContract | None:
        try:
            matches = resolve(spec, self.server.clock.now())
        except UnknownContract:
            matches = []
        if len(matches) != 1:
            session.send(encoders.error(session.version, request_id, 200, NO_SECURITY))
            return None
        return matches[0]

    def _line_is_delayed(self, session: ClientSession, request_id: int) -> bool | None:
        """Return whether a new line gets delayed data, or None (after error 354) when it gets none."""
        if not self.delayed:
            return False
        if session.market_data_type in DELAYED_TYPES:
            session.send(encoders.error(session.version, request_id, 10167, NOTICES[10167]))
            return True
        session.send(encoders.error(session.version, request_id, 354, NOTICES[354]))
        return None

    def subscribe_quotes(self, session: ClientSession, request: MarketDataRequest) -> None:
        """Answer reqMktData: tickReqParams, marketDataType, the current quote, then live changes."""
        contract = self._single_contract(session, request.request_id, request.contract)
        if contract is None:
            return
        delayed = self._line_is_delayed(session, request.request_id)
        if delayed is None:
            return
        line = QuoteSubscription(request.request_id, contract, delayed)
        messages: list[Message] = [
            encoders.tick_req_params(request.request_id, 0.25, BBO_EXCHANGE, 3),
            encoders.market_data_type(request.request_id, 3 if delayed else 1),
            *self._quote_snapshot(line),
        ]
        if request.snapshot or request.regulatory_snapshot:
            messages.append(encoders.tick_snapshot_end(request.request_id))
        else:
            session.quotes[request.request_id] = line
            self.server.wake()
        session.send_many(messages)

    def _quote_snapshot(self, line: QuoteSubscription) -> list[Message]:
        """Return the current quote plus the Globex session's open, high, low, volume and prior close."""
        until = self.server.delivered_until - (DELAYED_BY if line.delayed else timedelta(0))
        local = until.astimezone(CENTRAL)
        opened = local.replace(hour=17, minute=0, second=0, microsecond=0)
        if local.hour < 17:
            opened -= timedelta(days=1)
        market = self.server.market
        session = market.candles_between(opened.astimezone(timezone.utc), until)
        before = market.last_tick_before(opened.astimezone(timezone.utc))
        return market_feed.quote_snapshot(line, market.last_tick_before(until), session,
                                          before.price if before is not None else None)

    def subscribe_tick_by_tick(self, session: ClientSession, request: TickByTickRequest) -> None:
        """Answer reqTickByTickData: optional recent ticks, then every tick of the chosen type."""
        if request.tick_type not in TICK_BY_TICK_TYPES:
            session.send(encoders.error(session.version, request.request_id, 10189,
                                        f"Failed to request tick-by-tick data: unknown tick type {request.tick_type}"))
            return
        contract = self._single_contract(session, request.request_id, request.contract)
        if contract is None:
            return
        if self.delayed:
            session.send(encoders.error(session.version, request.request_id, 354, NOTICES[354]))
            return
        if len(session.tick_by_tick) >= MAX_TICK_BY_TICK_LINES:
            session.send(encoders.error(session.version, request.request_id, 10190,
                                        "Max number of tick-by-tick requests has been reached."))
            return
        if request.number_of_ticks > 0 and request.tick_type in ("Last", "AllLast"):
            until = self.server.delivered_until
            recent = self.server.market.ticks_between(until - timedelta(hours=1), until)[-request.number_of_ticks:]
            session.send(encoders.historical_ticks_last(
                request.request_id, [(int(tick.ts.timestamp()), tick.price, tick.size) for tick in recent]))
        session.tick_by_tick[request.request_id] = TickByTickSubscription(request.request_id, contract,
                                                                          request.tick_type)
        self.server.wake()

    def historical(self, session: ClientSession, request: HistoricalDataRequest) -> None:
        """Answer reqHistoricalData with bars from the source's candles; keepUpToDate streams the last bar."""
        contract = self._single_contract(session, request.request_id, request.contract)
        if contract is None:
            return
        if contract.last_trade_moment < self.server.clock.now() and not request.include_expired:
            # IB: an expired contract's bars need includeExpired on the request's contract.
            session.send(encoders.error(session.version, request.request_id, 200, NO_SECURITY))
            return
        request_key = (contract.con_id, request.end, request.bar_size, request.duration, request.use_rth,
                       request.what_to_show)
        if not self.pacing.check(request_key, (contract.con_id, request.what_to_show)):
            session.send(encoders.error(session.version, request.request_id, 162, history.PACING_MESSAGE))
            return
        try:
            bars, start, end, bar_seconds = self._bars(request)
        except history.HistoryError as exc:
            session.send(encoders.error(session.version, request.request_id, 162, str(exc)))
            return
        if not bars and not request.keep_up_to_date:
            session.send(encoders.error(session.version, request.request_id, 162,
                                        "Historical Market Data Service error message:HMDS query returned no data"))
            return
        session.send(encoders.historical_data(request.request_id, history.format_range_date(start, request.format_date),
                                              history.format_range_date(end, request.format_date), bars))
        if request.keep_up_to_date:
            live = BarSubscription(request.request_id, contract, bar_seconds, request.format_date)
            live.bar = self._open_bar(bar_seconds, end)
            session.bars[request.request_id] = live
            self.server.wake()

    def historical_ticks(self, session: ClientSession, request: HistoricalTicksRequest) -> None:
        """Answer reqHistoricalTicks (TRADES) from the source's ticks, as IB does.

        With a start: the first numberOfTicks trades from it; with an end instead: the last ones
        before it. Never more than 1000, never a second cut in two (its remaining trades come too),
        never beyond what the feed has delivered.
        """
        contract = self._single_contract(session, request.request_id, request.contract)
        if contract is None:
            return
        key = (contract.con_id, "ticks", request.start, request.end, request.number_of_ticks, request.what_to_show)
        if not self.pacing.check(key, (contract.con_id, request.what_to_show)):
            session.send(encoders.error(session.version, request.request_id, 162, history.PACING_MESSAGE))
            return
        now = self.server.delivered_until
        try:
            if request.what_to_show.upper() != "TRADES":
                raise history.HistoryError("Historical Market Data Service error message:"
                                           f"No data of type {request.what_to_show} is available (only TRADES)")
            if bool(request.start.strip()) == bool(request.end.strip()):
                raise history.HistoryError("Historical Market Data Service error message:"
                                           "exactly one of startDateTime and endDateTime must be given")
            count = max(1, min(1000, request.number_of_ticks))
            if request.start.strip():
                start = history.parse_end(request.start, now)
                ticks = self.server.market.ticks_between(start, now)
                chosen = ticks[:count]
                while chosen and len(chosen) < len(ticks) and \
                        int(ticks[len(chosen)].ts.timestamp()) == int(chosen[-1].ts.timestamp()):
                    chosen.append(ticks[len(chosen)])
            else:
                end = min(history.parse_end(request.end, now), now)
                ticks = self.server.market.ticks_between(end - timedelta(hours=1), end)
                chosen = ticks[-count:]
        except history.HistoryError as exc:
            session.send(encoders.error(session.version, request.request_id, 162, str(exc)))
            return
        session.send(encoders.historical_ticks_last(
            request.request_id, [(int(tick.ts.timestamp()), tick.price, tick.size) for tick in chosen]))

    def _bars(self, request: HistoricalDataRequest) -> tuple[list[history.Bar], datetime, datetime, int]:
        if request.what_to_show.upper() != "TRADES":
            raise history.HistoryError("Historical Market Data Service error message:"
                                       f"No data of type {request.what_to_show} is available (only TRADES)")
        if request.keep_up_to_date and request.end.strip():
            raise history.HistoryError("Historical Market Data Service error message:"
                                       "keepUpToDate needs an empty endDateTime")
        bar_seconds = history.parse_bar_size(request.bar_size)
        now = self.server.delivered_until
        end = min(history.parse_end(request.end, now), now)
        step = bar_seconds if bar_seconds < 86400 else 60
        start = datetime.fromtimestamp(int(history.duration_start(request.duration, end).timestamp()) // step * step,
                                       timezone.utc)
        candles = self.server.market.candles_between(start, end)
        bars = history.aggregate(candles, bar_seconds, request.format_date, request.use_rth)
        return bars, start, end, bar_seconds

    def _open_bar(self, bar_seconds: int, until: datetime) -> list[float] | None:
        """Return the live bar so far (its start, o, h, l, c, volume, count), built from the source's ticks."""
        bar_start = int(until.timestamp()) // bar_seconds * bar_seconds
        ticks = self.server.market.ticks_between(datetime.fromtimestamp(bar_start, timezone.utc), until)
        if not ticks:
            return None
        prices = [tick.price for tick in ticks]
        return [bar_start, prices[0], max(prices), min(prices), prices[-1], float(sum(t.size for t in ticks)),
                len(ticks)]

    def contract_details(self, session: ClientSession, request: ContractDetailsRequest) -> None:
        """Answer reqContractDetails: one message per matching expiry, then the end marker; else error 200."""
        now = self.server.clock.now()
        try:
            matches = resolve(request.contract, now, request.include_expired)
        except UnknownContract as exc:
            log.info("%s asked for an unknown contract: %s", session.describe(), exc)
            session.send(encoders.error(session.version, request.request_id, 200, NO_SECURITY))
            return
        hours = trading_hours(now)
        continuous = request.contract.sec_type == "CONTFUT"
        messages = [encoders.contract_details(session.version, request.request_id, contract, continuous, hours)
                    for contract in matches]
        messages.append(encoders.contract_details_end(request.request_id))
        session.send_many(messages)

