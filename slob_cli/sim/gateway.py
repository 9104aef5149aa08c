"""The public harness: SimGateway (async context manager) and SimGatewayThread (a `with` block for sync code)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from slob_cli.aio import cancel_until_done
from slob_cli.sim.protocol import MAX_SERVER_VERSION, MIN_SERVER_VERSION

if TYPE_CHECKING:
    from slob_cli.sim.broker import SimBroker
    from slob_cli.sim.clock import VirtualClock
    from slob_cli.sim.control import ControlServer
    from slob_cli.sim.market import MarketSource
    from slob_cli.sim.server import GatewayServer

log = logging.getLogger("slob.sim")
UTC = timezone.utc
T = TypeVar("T")
Speed = float | str | None


def parse_speed(speed: Speed, name: str = "speed") -> float | None:
    """Return the clock speed: a positive factor, or None for 'max'; the one parser of every --speed.

    Raise ValueError naming it (`--speed 'fast' is not a positive number or 'max'`) for anything else,
    infinity too (a clock cannot run at it: 'max' is as fast as it goes).
    """
    if speed is None or (isinstance(speed, str) and speed.strip().lower() == "max"):
        return None
    try:
        value = float(speed)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value < math.inf:  # also NaN
        raise ValueError(f"{name} {speed!r} is not a positive number or 'max'")
    return value


def parse_start(start: datetime | str | None) -> datetime | None:
    """Return an aware UTC start time from a datetime or an ISO string such as 2026-03-10T13:25Z."""
    if start is None:
        return None
    if isinstance(start, str):
        text = start.strip().replace("Z", "+00:00").replace("z", "+00:00")
        start = datetime.fromisoformat(text)
    if start.tzinfo is None:
        raise ValueError(f"start time {start.isoformat()} needs a time zone (e.g. 2026-03-10T13:25Z)")
    return start.astimezone(UTC)


class SimGateway:
    """A simulated IB Gateway on 127.0.0.1, run in-process on the current event loop."""

    def __init__(self, port: int = 0, ctrl_port: int | None = None, seed: int = 0, scenario: str | None = None,
                 start: datetime | str | None = None, speed: Speed = 1.0, replay: Path | str | None = None,
                 delayed: bool = False, server_version: int = MAX_SERVER_VERSION, live_account: bool = False,
                 accounts: Sequence[str] = ("DU1234567",), market: MarketSource | None = None,
                 lockstep: bool = False) -> None:
        if not MIN_SERVER_VERSION <= server_version <= MAX_SERVER_VERSION:
            raise ValueError(f"server version must be {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}, "
                             f"got {server_version}")
        if not accounts:
            raise ValueError("the gateway needs at least one account")
        self.host = "127.0.0.1"
        self.port = port
        self.ctrl_port = ctrl_port
        self.seed = seed
        self.scenario = scenario
        self.start_time = parse_start(start)
        self.speed = parse_speed(speed)
        self.replay = Path(replay) if replay is not None else None
        self.delayed = delayed
        self.server_version = server_version
        self.live_account = live_account
        self.accounts = list(accounts)
        self.market = market
        self.lockstep = lockstep
        self._server: GatewayServer | None = None
        self._control: ControlServer | None = None
        self.clock: VirtualClock
        self.broker: SimBroker

    async def __aenter__(self) -> SimGateway:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build the clock, market and broker, then listen (and open the control channel if asked)."""
        from slob_cli.sim.broker import SimBroker
        from slob_cli.sim.clock import VirtualClock
        from slob_cli.sim.market import build_market
        from slob_cli.sim.server import GatewayServer

        start = self.start_time
        if start is None and (self.speed != 1.0 or self.lockstep):
            start = datetime.now(UTC)  # only a 1x clock can follow the wall clock
        lockstep = None
        if self.lockstep:
            from slob_cli.sim.lockstep import Lockstep

            lockstep = Lockstep(self.speed)  # the speed only paces the steps; the clock moves by them
        self.clock = VirtualClock(start, None if lockstep else self.speed)
        if self.market is None:
            self.market = build_market(seed=self.seed, scenario=self.scenario, replay=self.replay,
                                       trading_date=start.date() if start else None)
        self.broker = SimBroker(self.accounts, allow_live_accounts=self.live_account)
        self._server = GatewayServer(clock=self.clock, market=self.market, broker=self.broker,
                                     accounts=self.accounts, server_version=self.server_version,
                                     delayed=self.delayed, host=self.host, port=self.port, lockstep=lockstep)
        await self._server.start()
        self.port = self._server.port
        if self.ctrl_port is not None:
            from slob_cli.sim.control import ControlServer

            self._control = ControlServer(self, self.host, self.ctrl_port)
            await self._control.start()
            self.ctrl_port = self._control.port

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._control is not None:
            await self._control.stop()
            self._control = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    @property
    def server(self) -> GatewayServer:
        """Return the running server (raises before start)."""
        if self._server is None:
            raise RuntimeError("the simulated gateway is not running")
        return self._server

    @property
    def client_count(self) -> int:
        """Return how many API clients are connected and started."""
        return sum(1 for session in self.server.sessions if session.started)

    # ------------------------------------------------------------------ faults
    def drop_connections(self, rst: bool = False) -> None:
        """Close every client connection: FIN, or RST when rst is True."""
        self.server.drop_connections(reset=rst)

    def set_silent(self, on: bool) -> None:
        """Accept connections and requests but answer nothing while on."""
        self.server.set_silent(on)

    def set_muted(self, on: bool) -> None:
        """Answer requests but stream no market data while on (the market goes on printing)."""
        self.server.muted = on

    def mute_between(self, start: datetime, end: datetime) -> None:
        """Stream none of the trades printed from start to end (exclusive): a stall at set virtual instants."""
        self.server.mute_span = (start, end)

    def send_error(self, code: int, req_id: int = -1, message: str | None = None) -> None:
        """Send an error or notice (1100, 1101, 1102, 2103..2158, 321, 326, 354, 10167, 10197, ...) to every client."""
        self.server.send_error(code, req_id, message)

    def reject_next_order(self, reason: str = "simulated rejection") -> None:
        """Reject the next order placed."""
        self.broker.reject_next_order(reason)

    def partial_fill_next(self, qty: float, hold_rest: bool = False) -> None:
        """Fill only qty of the next fill (with hold_rest, the rest of that order never fills)."""
        self.broker.partial_fill_next(qty, hold_rest)

    def withhold_fills(self, on: bool = True) -> None:
        """While on, orders work but nothing fills (the market trades on)."""
        self.broker.withhold_fills(on)

    def pause_market(self) -> None:
        """Freeze the clock: no ticks, no fills, until resume_market()."""
        self.clock.pause()
        self.server.wake()

    def resume_market(self) -> None:
        """Let the clock and the market run again."""
        self.clock.resume()
        if self.server.lockstep is not None:
            self.server.lockstep.reset_pace()
        self.server.wake()

    def jump_price(self, points: float) -> None:
        """Shift every price from now on by points."""
        self.market.shift_prices(points, self.server.delivered_until)  # type: ignore[union-attr]

    async def advance_market(self, until: datetime) -> datetime:
        """Let the market run to `until` while no client drives the clock; return the new time."""
        return await self.server.advance(until)

    async def restart(self, down_for_seconds: float) -> None:
        """Drop every client, refuse connections for down_for_seconds, then accept again with state kept."""
        server = self.server
        server.drop_connections()
        await server.stop_listening()
        log.info("simulated gateway restarting: down for %.1f s", down_for_seconds)
        await asyncio.sleep(down_for_seconds)
        await server.listen()


class SimGatewayThread:
    """The same gateway on its own event loop in a background thread, for sync code and foreign loops."""

    def __init__(self, **options: Any) -> None:
        self.gateway = SimGateway(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-gateway", daemon=True)
        self._restarts: set[asyncio.Future[None]] = set()  # restarts begun with wait=False; stop() ends them

    def __enter__(self) -> SimGatewayThread:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    async def _end_restarts(self) -> None:
        for task in list(self._restarts):
            await cancel_until_done(task)

    def start(self) -> None:
        """Start the loop thread and the gateway in it."""
        self._thread.start()
        self._call(self.gateway.start())

    def stop(self) -> None:
        """Stop the gateway and the loop thread."""
        if not self._thread.is_alive():
            return
        try:
            self._call(self._end_restarts())
            self._call(self.gateway.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def _run(self, method: str, *args: Any) -> Any:
        async def call() -> Any:
            return getattr(self.gateway, method)(*args)

        return self._call(call())

    @property
    def host(self) -> str:
        """Return the listening host."""
        return self.gateway.host

    @property
    def port(self) -> int:
        """Return the listening port."""
        return self.gateway.port

    @property
    def ctrl_port(self) -> int | None:
        """Return the control channel's port, if open."""
        return self.gateway.ctrl_port

    @property
    def clock(self) -> VirtualClock:
        """Return the gateway's virtual clock."""
        return self.gateway.clock

    @property
    def broker(self) -> SimBroker:
        """Return the simulated broker (thread-safe)."""
        return self.gateway.broker

    @property
    def client_count(self) -> int:
        """Return how many API clients are connected and started."""
        async def count() -> int:
            return self.gateway.client_count

        return self._call(count())

    def drop_connections(self, rst: bool = False) -> None:
        """Close every client connection (FIN, or RST)."""
        self._run("drop_connections", rst)

    def set_silent(self, on: bool) -> None:
        """Stop or resume answering."""
        self._run("set_silent", on)

    def set_muted(self, on: bool) -> None:
        """Stop or resume streaming market data (requests are still answered)."""
        self._run("set_muted", on)

    def mute_between(self, start: datetime, end: datetime) -> None:
        """Stream none of the trades printed from start to end (exclusive)."""
        self._run("mute_between", start, end)

    def send_error(self, code: int, req_id: int = -1, message: str | None = None) -> None:
        """Send an error or notice to every client."""
        self._run("send_error", code, req_id, message)

    def reject_next_order(self, reason: str = "simulated rejection") -> None:
        """Reject the next order placed."""
        self._run("reject_next_order", reason)

    def partial_fill_next(self, qty: float, hold_rest: bool = False) -> None:
        """Fill only qty of the next fill (with hold_rest, the rest of that order never fills)."""
        self._run("partial_fill_next", qty, hold_rest)

    def withhold_fills(self, on: bool = True) -> None:
        """While on, orders work but nothing fills (the market trades on)."""
        self._run("withhold_fills", on)

    def pause_market(self) -> None:
        """Freeze the clock and the market."""
        self._run("pause_market")

    def resume_market(self) -> None:
        """Let the clock and the market run again."""
        self._run("resume_market")

    def jump_price(self, points: float) -> None:
        """Shift every price from now on by points."""
        self._run("jump_price", points)

    def advance_market(self, until: datetime) -> datetime:
        """Let the market run to `until` while slob is down: orders fill at the broker meanwhile."""
        return self._call(self.gateway.advance_market(until), timeout=120)

    def restart(self, down_for_seconds: float, wait: bool = True) -> None:
        """Restart the gateway; with wait=False return as soon as it refuses connections."""
        if wait:
            self._call(self.gateway.restart(down_for_seconds), timeout=down_for_seconds + 30)
            return
        down = threading.Event()

        async def begin() -> None:
            task = asyncio.ensure_future(self.gateway.restart(down_for_seconds))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)
            while self.gateway.server.listening and not task.done():  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.001)
            down.set()

        self._call(begin())
        down.wait(10)
