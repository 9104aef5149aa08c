"""The simulated IB Gateway's TCP server: handshake, startApi, request dispatch, market pump, faults."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slob_cli.aio import first_of
from slob_cli.sim import encoders, market_feed
from slob_cli.sim.contracts import CENTRAL, TIME_ZONE_ID
from slob_cli.sim.encoders import NOTICES
from slob_cli.sim.market_data import DELAYED_BY, MarketData
from slob_cli.sim.order_request import PlaceOrder
from slob_cli.sim.protocol import (
    HANDSHAKE_PREFIX,
    MAX_SERVER_VERSION,
    Field,
    ProtocolError,
    choose_server_version,
    decode_payload,
    message_length,
    parse_version_range,
)
from slob_cli.sim.requests import (
    AccountSummaryRequest,
    AccountUpdatesMultiRequest,
    AccountUpdatesRequest,
    CancelOrder,
    ContractDetailsRequest,
    ExecutionsRequest,
    HistoricalDataRequest,
    HistoricalTicksRequest,
    MarketDataRequest,
    PnlRequest,
    RequestWithId,
    SimpleRequest,
    StartApi,
    TickByTickRequest,
    UnsupportedRequest,
    decode_request,
    read_error,
)
from slob_cli.sim.session import ClientSession
from slob_cli.sim.trading import Trading

if TYPE_CHECKING:
    from slob_cli.sim.broker import SimBroker
    from slob_cli.sim.clock import VirtualClock
    from slob_cli.sim.lockstep import Lockstep
    from slob_cli.sim.market import MarketSource, MarketTick

log = logging.getLogger("slob.sim")
REAL_TIME_INTERVAL = 0.02  # seconds between market pumps when the clock runs in (scaled) real time
MAX_SPEED_STEP = timedelta(seconds=5)  # market time delivered per pump at max speed
DRAIN_PATIENCE = 30.0  # real seconds a client may read nothing at all before it is dropped (slow consumer)
LARGE_JUMP = timedelta(hours=6)  # a clock jump beyond this restarts delivery at the new time
UNSUPPORTED_CODE = 322
READ_ERROR_CODE = 320
CANNED_ANSWERS: dict[int, list[Field]] = {80: [78, 0], 82: [80, 0], 85: [85, 0], 24: [19, 1, "<ScanParameterResponse/>"]}
# A cancel request's name -> the session's subscriptions it ends (cancelMktData also answers 300).
_CANCELLED_SUBSCRIPTIONS: dict[str, Callable[[ClientSession], dict[int, Any]]] = {
    "cancelTickByTickData": lambda session: session.tick_by_tick,
    "cancelHistoricalData": lambda session: session.bars,
    "cancelAccountSummary": lambda session: session.account_summaries,
    "cancelAccountUpdatesMulti": lambda session: session.account_multi,
    "cancelPnL": lambda session: session.pnl,
    "cancelPnLSingle": lambda session: session.pnl,
}


class GatewayServer:
    """Serve the TWS API on 127.0.0.1 from a market source, a virtual clock and a simulated broker."""

    def __init__(self, *, clock: VirtualClock, market: MarketSource, broker: SimBroker, accounts: list[str],
                 server_version: int = MAX_SERVER_VERSION, delayed: bool = False, host: str = "127.0.0.1",
                 port: int = 0, lockstep: Lockstep | None = None) -> None:
        from slob_cli.sim.lockstep import ServedTicks

        self.clock = clock
        self.lockstep = lockstep
        self.served = ServedTicks()
        self.market = market
        self.broker = broker
        self.accounts = accounts
        self.server_version = server_version
        self.host = host
        self.port = port
        self.silent = False
        self.muted = False  # requests answered, but no market data streamed (a stalled data farm)
        self.mute_span: tuple[datetime, datetime] | None = None  # trades printed in [start, end) are not streamed
        self.sessions: set[ClientSession] = set()
        self.drain_patience = DRAIN_PATIENCE
        self.connections_accepted = 0  # every TCP connection ever accepted (tests: "no client came")
        self._server: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.delivered_until = clock.now()
        self.last_tick: MarketTick | None = None
        self.trading = Trading(broker, accounts, clock.now, lambda: self.sessions, self._current_tick)
        self.market_data = MarketData(self, delayed=delayed, monotonic=time.monotonic)
        self._routes = self._request_routes()
        self._simple_routes = self._simple_request_routes()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen (on the configured port; 0 picks a free one) and start the market pump."""
        await self.listen()
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="sim-market-pump")

    async def listen(self) -> None:
        """Open the listening socket (again, after a simulated restart)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("simulated IB Gateway listening on %s:%d (server version <= %d)", self.host, self.port,
                 self.server_version)

    async def stop_listening(self) -> None:
        """Refuse new connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        """Close every client, stop listening and stop the pump."""
        self.drop_connections()
        await self.stop_listening()
        task, self._pump_task = self._pump_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    @property
    def listening(self) -> bool:
        """Return True while new connections are accepted."""
        return self._server is not None

    # ------------------------------------------------------------------ faults
    def drop_connections(self, reset: bool = False) -> None:
        """Close every client connection with FIN, or RST when reset is True."""
        for session in list(self.sessions):
            session.close(reset=reset)
        self.sessions.clear()

    def set_silent(self, silent: bool) -> None:
        """Stop (or resume) answering anything on every connection, present and future."""
        self.silent = silent
        for session in self.sessions:
            session.silent = silent

    def send_error(self, code: int, request_id: int = -1, message: str | None = None) -> None:
        """Send an error or notice to every started client, with IB's side effects."""
        text = message or NOTICES.get(code, f"simulated error {code}")
        for session in list(self.sessions):
            if not session.started:
                continue
            session.send(encoders.error(session.version, request_id, code, text))
            if code == 1101:
                session.clear_market_data()
            elif code == 354 and request_id in session.quotes:
                del session.quotes[request_id]
            elif code == 326:
                self._forget(session)
                session.close()

    def wake(self) -> None:
        """Wake the pump (a subscription appeared, or the clock changed)."""
        self._wake.set()

    # ------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = "%s:%s" % writer.get_extra_info("peername")[:2]
        session = ClientSession(reader, writer, peer, silent=self.silent)
        self.connections_accepted += 1
        self.sessions.add(session)
        try:
            await self._handshake(session)
            while not session.closed:
                fields = await self._read_message(session)
                if not session.silent:
                    self._handle(session, fields)
        except (asyncio.IncompleteReadError, ConnectionError):
            log.info("%s disconnected", session.describe())
        except ProtocolError as exc:
            log.warning("closing %s: malformed input: %s", session.describe(), exc)
        except Exception:  # noqa: BLE001 - one client's bug must not take the gateway down
            log.exception("closing %s after an internal error", session.describe())
        finally:
            self._forget(session)
            session.close()

    def _forget(self, session: ClientSession) -> None:
        self.sessions.discard(session)
        if self.lockstep is not None:
            self.lockstep.forget(session)
            self.wake()  # the remaining followers may all be waiting now

    async def _handshake(self, session: ClientSession) -> None:
        prefix = await session.reader.readexactly(len(HANDSHAKE_PREFIX))
        if prefix != HANDSHAKE_PREFIX:
            raise ProtocolError(f"handshake must start with 'API\\0', got {prefix!r}")
        length = message_length(await session.reader.readexactly(4))
        payload = await session.reader.readexactly(length)  # clients send this one without a trailing NUL
        try:
            offered = parse_version_range(payload.decode().rstrip("\0").split("\0"))
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"handshake is not text: {exc}") from exc
        session.version = choose_server_version(offered, self.server_version)
        connect_time = f"{self.clock.now().astimezone(CENTRAL):%Y%m%d %H:%M:%S} {TIME_ZONE_ID}"
        session.send([session.version, connect_time])

    async def _read_message(self, session: ClientSession) -> list[str]:
        length = message_length(await session.reader.readexactly(4))
        return decode_payload(await session.reader.readexactly(length))

    def _handle(self, session: ClientSession, fields: list[str]) -> None:
        try:
            request = decode_request(fields, session.version)
        except ProtocolError as exc:
            if not session.started:
                raise
            log.info("%s sent an unreadable request: %s", session.describe(), exc)
            request_id, text = read_error(fields, exc)
            session.send(encoders.error(session.version, request_id, READ_ERROR_CODE, text))
            return
        if isinstance(request, StartApi):
            self._start_api(session, request)
            return
        if not session.started:
            log.debug("ignoring %s from %s before startApi", fields[0], session.describe())
            return
        route = self._routes.get(type(request))
        if route is not None:
            route(session, request)

    def _request_routes(self) -> dict[type, Callable[[ClientSession, Any], None]]:
        """Return who answers each kind of decoded request (after startApi)."""
        trading, market_data = self.trading, self.market_data
        return {
            PlaceOrder: trading.place,
            CancelOrder: lambda session, request: trading.cancel(session, request.order_id),
            MarketDataRequest: market_data.subscribe_quotes,
            TickByTickRequest: market_data.subscribe_tick_by_tick,
            HistoricalDataRequest: market_data.historical,
            HistoricalTicksRequest: market_data.historical_ticks,
            ContractDetailsRequest: market_data.contract_details,
            ExecutionsRequest: trading.executions,
            AccountUpdatesRequest: trading.account_updates,
            AccountUpdatesMultiRequest: trading.account_updates_multi,
            AccountSummaryRequest: trading.account_summary,
            PnlRequest: trading.subscribe_pnl,
            RequestWithId: self._cancel,
            SimpleRequest: self._simple,
            UnsupportedRequest: self._unsupported,
        }

    def _simple_request_routes(self) -> dict[str, Callable[[ClientSession, SimpleRequest], None]]:
        """Return the answer to each request that carries no more than one argument, by name."""
        trading = self.trading

        def market_data_type(session: ClientSession, request: SimpleRequest) -> None:
            session.market_data_type = int(request.argument or 1)

        def cancel_positions(session: ClientSession, request: SimpleRequest) -> None:
            session.positions_subscribed = False

        def auto_open_orders(session: ClientSession, request: SimpleRequest) -> None:
            session.auto_open_orders = request.argument == "1"

        return {
            "reqCurrentTime": lambda session, request: self._current_time(session),
            "reqIds": lambda session, request: session.send(encoders.next_valid_id(trading.next_order_id)),
            "reqManagedAccts": lambda session, request: session.send(encoders.managed_accounts(self.accounts)),
            "reqMarketDataType": market_data_type,
            "reqPositions": lambda session, request: trading.positions(session),
            "cancelPositions": cancel_positions,
            "reqOpenOrders": lambda session, request: trading.open_orders(session, all_clients=False),
            "reqAllOpenOrders": lambda session, request: trading.open_orders(session, all_clients=True),
            "reqAutoOpenOrders": auto_open_orders,
            "reqCompletedOrders": lambda session, request: trading.completed_orders(session),
            "reqGlobalCancel": lambda session, request: trading.global_cancel(),
        }

    def _start_api(self, session: ClientSession, request: StartApi) -> None:
        if session.started:
            return
        if any(other.client_id == request.client_id and other.started for other in self.sessions):
            log.warning("refusing %s: clientId %d is already in use", session.peer, request.client_id)
            session.send(encoders.error(session.version, -1, 326, NOTICES[326]))
            self._forget(session)
            session.close()
            return
        session.client_id = request.client_id
        session.started = True
        log.info("%s started the API at server version %d", session.describe(), session.version)
        session.send_many([
            encoders.managed_accounts(self.accounts),
            encoders.next_valid_id(self.trading.next_order_id),
            *(encoders.error(session.version, -1, code, NOTICES[code]) for code in (2104, 2106, 2158)),
        ])
        self.trading.push_open_orders(session)

    def _cancel(self, session: ClientSession, request: RequestWithId) -> None:
        request_id = request.request_id
        if request.name == "cancelMktData":
            if session.quotes.pop(request_id, None) is None:
                session.send(encoders.error(session.version, request_id, 300,
                                            f"Can't find EId with tickerId:{request_id}"))
            return
        subscriptions = _CANCELLED_SUBSCRIPTIONS.get(request.name)
        if subscriptions is not None:
            subscriptions(session).pop(request_id, None)

    def _simple(self, session: ClientSession, request: SimpleRequest) -> None:
        route = self._simple_routes.get(request.name)
        if route is not None:
            route(session, request)

    def _current_time(self, session: ClientSession) -> None:
        if self.lockstep is not None and self.lockstep.ask(session):  # answered once the step is served
            self.wake()
            return
        session.send(encoders.current_time(self.clock.now()))

    def _unsupported(self, session: ClientSession, request: UnsupportedRequest) -> None:
        canned = CANNED_ANSWERS.get(request.message_id)
        if canned is not None:
            session.send(canned)
            return
        if request.message_id == 91 and len(request.fields) > 1:  # reqMarketRule: one 0.25 increment
            session.send([93, request.fields[1], 1, 0, 0.25])
            return
        if request.name.startswith("cancel") or request.message_id in (12, 13, 14):
            return
        log.info("%s sent unsupported %s", session.describe(), request.name)
        session.send(encoders.error(session.version, -1 if request.request_id is None else request.request_id,
                                    UNSUPPORTED_CODE, f"Error processing request:-'sim' : cause - {request.name} "
                                                      "is not supported by the simulated gateway"))

    # ------------------------------------------------------------------ market pump
    def _current_tick(self) -> MarketTick | None:
        if self.last_tick is None:
            self.last_tick = self.market.last_tick_before(self.delivered_until)
        return self.last_tick

    async def _pump(self) -> None:
        """Deliver the market to subscribers and the broker, following the virtual clock."""
        while self._pump_task is not None:
            try:
                await self._pump_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep serving; the log says what broke
                log.exception("market pump failed; retrying")
                await asyncio.sleep(0.5)

    async def _wait_for_wake(self) -> None:
        self._wake.clear()
        # first_of, not wait_for: 3.11's wait_for can swallow a cancel racing the wake-up.
        await first_of(self._wake.wait(), asyncio.sleep(1.0))

    async def _pump_once(self) -> None:
        if self.lockstep is not None:
            await self._step()
            return
        start = self.delivered_until
        if self.clock.is_max_speed:
            if self.clock.paused or not self._max_speed_demand():
                await self._wait_for_wake()
                return
            start = max(start, self.clock.now())
            end = start + MAX_SPEED_STEP
            expiry = self.broker.next_expiry()  # stop at a DAY close until every client has read up to it
            if expiry is not None and start < expiry < end:
                end = expiry
        else:
            await asyncio.sleep(REAL_TIME_INTERVAL)
            end = self.clock.now()
            if end <= start:
                if start - end > LARGE_JUMP:
                    self.delivered_until = end
                return
            if end - start > LARGE_JUMP:
                start = end - REAL_TIME_INTERVAL * timedelta(seconds=1)
        ticks = self.market.ticks_between(start, end)
        delayed: list[MarketTick] = []
        if any(quote.delayed for session in self.sessions for quote in session.quotes.values()):
            delayed = self.market.ticks_between(start - DELAYED_BY, end - DELAYED_BY)
        if self.clock.is_max_speed:
            self.clock.advance_to(end)
        self.delivered_until = end
        if ticks:
            self.last_tick = ticks[-1]
            self._match(ticks)
            self.trading.publish_pnl()
        self._deliver(ticks, delayed)
        await self._drain(fully=end == self.broker.next_expiry())

    def _deliver(self, ticks: list[MarketTick], delayed: list[MarketTick]) -> None:
        if self.mute_span is not None:  # a stall at set instants of the market's clock
            start, end = self.mute_span
            ticks = [tick for tick in ticks if not start <= tick.ts < end]
        if not (ticks or delayed) or self.muted:
            return
        streaming = [session for session in list(self.sessions) if session.started and session.streaming]
        for session in streaming:
            market_feed.deliver(session, ticks, delayed)
        if streaming:
            self.served.add(ticks)

    async def _step(self) -> None:
        """Serve one lockstep step once every follower has asked, then answer them (see sim/lockstep.py)."""
        lockstep = self.lockstep
        assert lockstep is not None
        if self.clock.paused or not lockstep.ready():
            await self._wait_for_wake()
            return
        start = self.clock.now()
        end, served, events = self._serve_step(start, lockstep.step_end(start))
        pause = lockstep.pause_for(end)
        if pause > 0:
            await asyncio.sleep(pause)
        self._end_step(start, end, served, events)
        lockstep.steps += 1
        answer = encoders.current_time(self.clock.now())
        for session in lockstep.answered():
            session.send(answer)
        await self._drain()

    def _serve_step(self, start: datetime, end: datetime) -> tuple[datetime, list[MarketTick], list[object]]:
        """Match the trades from start to end; return where the step ends (cut after a fill), its trades and events."""
        served: list[MarketTick] = []
        events: list[object] = []  # sent once the clock shows the step's end, so followers see that time
        con_ids = {order.con_id for order in self.broker.open_orders()}
        for tick in self.market.ticks_between(start, end):
            if tick.ts >= end:
                break
            happened: list[object] = []
            for con_id in con_ids:
                happened += self.broker.on_tick(con_id, tick, tick.ts)
            served.append(tick)
            self.last_tick = tick
            if happened:
                events += happened
                con_ids = {order.con_id for order in self.broker.open_orders()}
            cut = self.lockstep.cut(tick, bool(happened)) if self.lockstep is not None else None
            if cut is not None and cut < end:
                end = cut
        return end, served, events

    def _end_step(self, start: datetime, end: datetime, served: list[MarketTick], events: list[object]) -> None:
        """Move the clock to the step's end and send what the step produced."""
        delayed: list[MarketTick] = []
        if any(quote.delayed for session in self.sessions for quote in session.quotes.values()):
            delayed = self.market.ticks_between(start - DELAYED_BY, end - DELAYED_BY)
        self.clock.advance_to(end)
        self.delivered_until = end
        self.trading.dispatch(events + self.broker.expire(end))
        if served:
            self.trading.publish_pnl()
        self._deliver(served, delayed)

    async def advance(self, until: datetime) -> datetime:
        """Let the market run to `until` with no client driving the clock (time passing while slob is down).

        Orders keep filling at the broker as they would have; only a max-speed or lockstep clock
        can be driven, and not while a lockstep follower is connected (it drives the clock itself).
        """
        if not self.clock.is_max_speed:
            raise ValueError("only a max-speed or lockstep clock can be advanced; this one follows real time")
        if self.lockstep is not None and self.lockstep.followers:
            raise ValueError("a lockstep client is connected and drives the clock; advance only while none is")
        while (start := self.clock.now()) < until:
            step_end = self.lockstep.step_end(start) if self.lockstep is not None else start + MAX_SPEED_STEP
            end, served, events = self._serve_step(start, min(step_end, until))
            self._end_step(start, end, served, events)
            await asyncio.sleep(0)
        if self.lockstep is not None:
            self.lockstep.reset_pace()
        return self.clock.now()

    def _max_speed_demand(self) -> bool:
        """Return True when a max-speed clock should run: a client streams data or has working orders."""
        started = [session for session in self.sessions if session.started]
        return any(session.streaming for session in started) or (bool(started) and bool(self.broker.open_orders()))

    def _match(self, ticks: list[MarketTick]) -> None:
        con_ids = self.broker.active_con_ids()  # held positions too: their marks move unrealized P&L
        if not con_ids:
            return
        for tick in ticks:
            for con_id in con_ids:
                self.trading.dispatch(self.broker.on_tick(con_id, tick, tick.ts))

    async def _drain(self, *, fully: bool = False) -> None:
        """Wait until every client has taken its data (back-pressure per client, see docs/sim-market.md).

        drain() returns without yielding while a socket buffer is below its high-water mark, so
        yield once per pump as well: an in-process client on the same loop then reads its data
        before the next batch is made. Clients are waited for together; one that reads nothing for
        `drain_patience` seconds is dropped, so it cannot stall the others for ever.
        """
        await asyncio.sleep(0)
        sessions = [session for session in list(self.sessions) if session.backlogged(fully=fully)]
        if not sessions:
            return
        drained = await asyncio.gather(*(session.drained(self.drain_patience, fully=fully) for session in sessions))
        for session, ok in zip(sessions, drained, strict=False):
            if ok or session.closed:
                continue
            if not session.writer.transport.is_closing():
                log.warning("dropping %s: it read nothing for %gs (slow consumer)", session.describe(),
                            self.drain_patience)
            self._forget(session)
            session.close()
