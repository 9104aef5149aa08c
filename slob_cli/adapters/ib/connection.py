"""The gateway connection: connect with a timeout, reconnect with backoff, heartbeat, IB notices.

`IBConnection.run(stop)` keeps one ib_async `IB` connected until `stop` is set. After every
(re)connect it runs the registered hooks in order (market data resubscribes, executions since the
last one known are fetched, the reconcile hook runs). Ten failed attempts in a row enter safe mode:
no new orders for the rest of the run, protective orders at the broker stay untouched.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.clock import SystemClock
from slob_cli.adapters.ib.backoff import BackoffPolicy, CircuitBreaker
from slob_cli.adapters.ib.codes import ORDER_ERROR_CODES, IBCode, Notice, NoticeKind, classify, plain_message
from slob_cli.adapters.ib.config import GatewayConfig, describe_os_error, limit_reads, trading_mode
from slob_cli.adapters.ib.conversions import ExecutionReport, Rejected, execution_report
from slob_cli.adapters.ib.executions import fetch_executions_since
from slob_cli.aio import cancel_until_done, first_of
from slob_cli.core.clock import Clock
from slob_cli.core.models import SIMULATED_FARM
from slob_cli.errors import BrokerError, BrokerUnavailable

UTC = timezone.utc
MAX_CLOCK_SKEW = 3.0  # seconds the gateway's time may be off ours unremarked (currentTime has one-second resolution)
log = logging.getLogger(__name__)
__all__ = ["EventSink", "GatewayConfig", "IBConnection", "describe_os_error", "trading_mode"]

EventSink = Callable[[str, dict[str, Any]], None]
Hook = Callable[[str], Awaitable[None]]  # receives the reason: connect | reconnect | restored
SleepFunction = Callable[[float], Awaitable[None]]




class IBConnection:
    """One supervised ib_async connection; the only owner of the `IB` object."""

    def __init__(
        self,
        config: GatewayConfig,
        emit: EventSink | None = None,
        *,
        policy: BackoffPolicy | None = None,
        sleep: SleepFunction = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        from ib_async import IB

        self.config = config
        self.policy = policy or BackoffPolicy()
        self.breaker = CircuitBreaker(self.policy.breaker_after)
        self._emit = emit or (lambda kind, payload: None)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.clock = clock or SystemClock()
        self.ib = IB()
        self.ib.RaiseRequestErrors = True
        _quiet_raw_ib_async_lines()
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.client.apiError += self._on_api_error
        self.ib.execDetailsEvent += self._on_exec_details
        self.ib.updateEvent += self._heard
        self.client_id = config.client_id
        self.account: str | None = config.account
        self.connections = 0
        self.reconnects = 0
        self.failed_attempts = 0
        self.delays: list[float] = []
        self.safe_mode = False
        self.connectivity_lost = False
        self._lost_because: str | None = None  # the socket's last word before a disconnect (ib_async's apiError)
        self._in_session = False
        self._change_listeners: list[Callable[[], None]] = []  # add_change_listener
        self.broken_farms: set[str] = set()
        self.simulated = False  # the gateway named the simulated gateway's data farm (core.models.SIMULATED_FARM)
        self.last_heartbeat: datetime | None = None
        self.clock_skew: float | None = None
        self.disconnected_at: datetime | None = None
        self._disconnected_real: float | None = None  # time.monotonic() of the same moment: real seconds down
        self._last_heard: tuple[datetime, float] | None = None  # the last data from the gateway: clock, monotonic
        self.last_execution_time: datetime | None = None
        self.notices: list[Notice] = []
        self._hooks: list[Hook] = []
        self._notice_listeners: list[Callable[[Notice], None]] = []
        self._execution_listeners: list[Callable[[list[ExecutionReport]], None]] = []
        self._reconcile_hooks: list[Callable[[], Awaitable[None]]] = []
        self._disconnected: asyncio.Event | None = None
        self._connect_abort: asyncio.Event | None = None
        self._abort_notice: Notice | None = None
        self._connecting = False
        self.last_failure: str | None = None
        self._background: set[asyncio.Future[None]] = set()  # hook runs started by IB notices

    @property
    def in_session(self) -> bool:
        """Return True while connected with every after-connect hook done (lockstep may ask the time)."""
        return self._in_session

    @in_session.setter
    def in_session(self, value: bool) -> None:
        self._in_session = value
        for listener in list(self._change_listeners):
            listener()

    # ------------------------------------------------------------------ registration
    def add_change_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener()` after each batch of gateway messages is handled and when a session starts or ends.

        For a waiter that re-checks some state of the connection (an order acknowledged, the
        connection back) instead of polling it. Returns the function that removes the listener.
        """
        self.ib.updateEvent += listener
        self._change_listeners.append(listener)

        def remove() -> None:
            self.ib.updateEvent -= listener
            self._change_listeners.remove(listener)

        return remove

    def add_hook(self, hook: Hook) -> None:
        """Run `hook(reason)` after every connect, reconnect and 1101 restore, in registration order."""
        self._hooks.append(hook)

    def add_notice_listener(self, listener: Callable[[Notice], None]) -> None:
        """Call `listener(notice)` for every IB error or notice."""
        self._notice_listeners.append(listener)

    def add_execution_listener(self, listener: Callable[[list[ExecutionReport]], None]) -> None:
        """Call `listener(reports)` with executions re-requested after a reconnect."""
        self._execution_listeners.append(listener)

    def add_reconcile_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook()` after every reconnect, once executions are re-requested (issue 7 plugs in)."""
        self._reconcile_hooks.append(hook)

    # ------------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        """Return True while the API connection is up."""
        return self.ib.isConnected()

    def gone_since(self) -> datetime | None:
        """Return when the gateway went away, while it is away after a first connection (else None).

        Asked when a run's period ends: a session that ends without its gateway was cut short (exit 4).
        """
        return self.disconnected_at if self.connections else None

    @property
    def orders_allowed(self) -> bool:
        """Return True when a new order may be sent (connected, IB reachable, not in safe mode)."""
        return self.connected and not self.connectivity_lost and not self.safe_mode

    @property
    def data_stale(self) -> bool:
        """Return True while IB reports a broken data farm or lost connectivity."""
        return bool(self.broken_farms) or self.connectivity_lost

    @property
    def server_version(self) -> int:
        """Return the negotiated server version (0 when not connected)."""
        return int(self.ib.client.serverVersion() or 0)

    def managed_accounts(self) -> list[str]:
        """Return the accounts this login manages."""
        return list(self.ib.managedAccounts())

    # ------------------------------------------------------------------ one attempt
    async def connect(self) -> None:
        """Connect once, moving to the next client id when IB says 326.

        Raise BrokerUnavailable when nothing answers, BrokerError when the gateway refuses us
        for a reason a retry cannot fix (wrong account, every client id taken).
        """
        host, port = self.config.host, self.config.port
        for _ in range(self.config.client_id_attempts):
            self._connect_abort = asyncio.Event()
            self._abort_notice = None
            self._connecting = True
            try:
                await self._attempt(host, port)
            except _ClientIdInUse:
                notice = plain_message(NoticeKind.CLIENT_ID_IN_USE, IBCode.CLIENT_ID_IN_USE, "", client_id=self.client_id)
                log.warning("%s; retrying with client id %d", notice, self.client_id + 1)
                self._emit("CLIENT_ID_IN_USE", {"client_id": self.client_id, "next": self.client_id + 1})
                self.client_id += 1
                continue
            finally:
                self._connecting = False
            self._check_account()
            return
        raise BrokerError(
            f"client ids {self.config.client_id}..{self.client_id - 1} are all in use on {host}:{port}; "
            "pass a free --client-id"
        )

    async def _attempt(self, host: str, port: int) -> None:
        from ib_async import StartupFetchALL, StartupFetchNONE

        assert self._connect_abort is not None
        fetch = StartupFetchALL if self.config.sync_orders else StartupFetchNONE
        connecting = self.ib.connectAsync(
            host, port, clientId=self.client_id, timeout=self.config.connect_timeout,
            readonly=self.config.readonly, account=self.account or "", fetchFields=fetch,
        )
        wrong_account: list[str] = []

        def on_api_start() -> None:
            # The accounts are known before ib_async's start-up sync, which would wait out its
            # timeout for updates of an account this login does not have.
            accounts = list(self.ib.client.getAccounts())
            if self.account and self.account not in accounts:
                wrong_account.extend(accounts or ["none"])
                self._connect_abort.set()  # type: ignore[union-attr]

        self.ib.client.apiStart += on_api_start
        try:
            task, abort = await first_of(connecting, self._connect_abort.wait())
        finally:
            self.ib.client.apiStart -= on_api_start
        if task.cancelled() and not abort.cancelled():  # aborted mid-handshake
            self.ib.disconnect()
        notice = self._abort_notice
        if notice is not None and notice.kind is NoticeKind.CLIENT_ID_IN_USE:
            raise _ClientIdInUse()
        if wrong_account:
            raise BrokerError(_wrong_account_message(self.account, wrong_account))
        if not task.done() or task.cancelled():
            raise BrokerUnavailable(f"IB gateway at {host}:{port} closed the connection during the handshake")
        error = task.exception()
        if error is None:
            limit_reads(self.ib)
            if self._disconnected is None:
                self._disconnected = asyncio.Event()
            self._disconnected.clear()
            return
        if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
            raise BrokerUnavailable(
                f"IB gateway at {host}:{port} did not finish the API handshake within "
                f"{self.config.connect_timeout:g}s (is the API enabled and this client id free?)"
            )
        if isinstance(error, OSError):
            reason = describe_os_error(error)
            raise BrokerUnavailable(f"cannot reach IB gateway at {host}:{port}: {reason}")
        raise BrokerUnavailable(f"IB gateway at {host}:{port}: {error}")

    def _check_account(self) -> None:
        accounts = self.managed_accounts()
        if self.account and self.account not in accounts:
            self.ib.disconnect()
            raise BrokerError(_wrong_account_message(self.account, accounts))
        if not self.account and len(accounts) == 1:
            self.account = accounts[0]

    # ------------------------------------------------------------------ supervision
    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Stay connected until stop is set: backoff between attempts, heartbeat, hooks, safe mode."""
        attempt = 0
        started = asyncio.get_running_loop().time()
        window = self.config.first_connect_within
        try:
            while not stop.is_set():
                try:
                    await self.connect()
                except BrokerUnavailable as exc:
                    attempt += 1
                    self.failed_attempts += 1
                    self.last_failure = str(exc)
                    delay = self.policy.delay(attempt, self._rng)
                    if not self.connections and window is not None:
                        left = window - (asyncio.get_running_loop().time() - started)
                        if left <= 0:
                            raise self.unreachable() from None
                        delay = min(delay, left)  # the last retry comes at the end of the window
                    self.delays.append(delay)
                    log.warning("connection attempt %d failed: %s; retrying in %.1fs", attempt, exc, delay)
                    self._emit("IB_CONNECT_FAILED", {"attempt": attempt, "error": str(exc), "retry_in": round(delay, 3)})
                    if self.breaker.failure():
                        self._enter_safe_mode(f"{attempt} connection attempts failed in a row: {exc}")
                    await self._sleep_unless(stop, delay)
                    continue
                attempt = 0
                self.breaker.success()
                await self._after_connect()
                if ready is not None:
                    ready.set()
                self.in_session = True
                try:
                    await self._serve(stop)
                finally:
                    self.in_session = False
        finally:
            for task in list(self._background):
                await cancel_until_done(task)
            self.ib.disconnect()

    def unreachable(self, stopped: str | None = None) -> BrokerUnavailable:
        """Return the one-line error of a session that never made its first connection.

        `stopped` says what ended a session before its connect window did ("SIGTERM stopped it").
        """
        host, port = self.config.host, self.config.port
        cause = self.last_failure or f"no answer from {host}:{port}"
        window = self.config.first_connect_within
        within = f"within {window:g}s, " if window is not None else ""
        if stopped is not None:
            within = f"before {stopped}, "
        return BrokerUnavailable(
            f"{cause} (no connection {within}{self.failed_attempts} attempts); check that IB Gateway or TWS "
            f"runs on {host} with the API enabled on port {port} and this machine as a trusted IP")

    async def _after_connect(self) -> None:
        reason = "reconnect" if self.connections else "connect"
        await self.measure_skew()  # first: a followed clock moves onto the gateway's time before anything is logged
        now = self.clock.now()  # then: an outage is measured on that time, as it was stamped
        self._last_heard = (now, time.monotonic())  # on the moved clock: a hang from here starts here
        self.connections += 1
        self.connectivity_lost = False
        self.broken_farms.clear()  # a new session reports its farms afresh
        if reason == "reconnect":
            self.reconnects += 1
            gap_start, down_real = self.disconnected_at or now, self._disconnected_real
            self.disconnected_at = self._disconnected_real = None
            gap = (now - gap_start).total_seconds()
            log.warning("reconnected to the gateway after %s", self.span_text(gap, down_real))
            self._emit("IB_RECONNECTED", {"client_id": self.client_id, "since": gap_start.isoformat(),
                                          "gap_seconds": round(gap, 3), "clock": self.clock_name})
        else:
            self.disconnected_at = self._disconnected_real = None
            log.info("connected to %s:%d as client %d (server version %d, accounts %s)", self.config.host,
                     self.config.port, self.client_id, self.server_version, ",".join(self.managed_accounts()))
            self._emit("IB_CONNECTED", {"client_id": self.client_id, "server_version": self.server_version,
                                        "accounts": self.managed_accounts()})
        await self._run_hooks(reason)
        if reason == "reconnect":
            await self._catch_up_executions()
            for hook in self._reconcile_hooks:
                try:
                    await hook()
                except (ConnectionError, asyncio.TimeoutError) as exc:
                    log.warning("reconcile after reconnect failed: %s", exc)

    async def _serve(self, stop: asyncio.Event) -> None:
        assert self._disconnected is not None
        heartbeat = asyncio.ensure_future(self._heartbeat())
        try:
            await first_of(self._disconnected.wait(), stop.wait())
        finally:
            await cancel_until_done(heartbeat)
        if not stop.is_set():
            down = self._mark_down()
            cause, self._lost_because = self._lost_because, None
            log.warning("lost the gateway connection%s; reconnecting", f" ({cause})" if cause else "")
            self._emit("IB_DISCONNECTED", {"at": down.isoformat()})

    async def _run_hooks(self, reason: str) -> None:
        for hook in self._hooks:
            try:
                await hook(reason)
            except (ConnectionError, asyncio.TimeoutError) as exc:
                log.warning("after-%s hook %s failed: %s", reason, getattr(hook, "__qualname__", hook), exc)

    def _in_background(self, work: Awaitable[None]) -> None:
        """Run work as a task this connection owns: `run` cancels what is left when it ends."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sleep_unless(self, stop: asyncio.Event, delay: float) -> None:
        await first_of(self._sleep(delay), stop.wait())

    async def _heartbeat(self) -> None:
        """Ask the gateway for its time every interval; a missing answer means a dead or silent socket."""
        while self.connected:
            await asyncio.sleep(self.config.heartbeat_interval)
            sent = self.clock.now().timestamp()
            try:
                server_time = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.heartbeat_timeout)
            except (asyncio.TimeoutError, TimeoutError):
                log.error("gateway did not answer the heartbeat within %.1fs; reconnecting",
                          self.config.heartbeat_timeout)
                self._emit("HEARTBEAT_MISSED", {"timeout": self.config.heartbeat_timeout})
                self.request_reconnect("heartbeat missed")
                return
            except ConnectionError:
                return
            received = self.clock.now().timestamp()
            self.last_heartbeat = self.clock.now()
            self.clock_skew = server_time.timestamp() - (sent + received) / 2

    async def measure_skew(self) -> None:
        """Ask the gateway for its time and remember how far it is from ours."""
        sent = self.clock.now().timestamp()
        try:
            server_time = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.heartbeat_timeout)
        except (asyncio.TimeoutError, TimeoutError, ConnectionError):
            return
        self.clock_skew = server_time.timestamp() - (sent + self.clock.now().timestamp()) / 2
        adjust = getattr(self.clock, "adjust", None)  # a FollowedClock moves onto the gateway's time
        if getattr(self.clock, "simulated_only", False) and not self.simulated:
            adjust = None
        if adjust is not None and abs(self.clock_skew) > 1.0:
            adjust(self.clock_skew)
            self.clock_skew = 0.0

    @property
    def clock_name(self) -> str:
        """Return whose clock this session's times and spans are on: "sim" (a simulated gateway's) or "wall"."""
        return "sim" if self.simulated and not isinstance(self.clock, SystemClock) else "wall"

    def span_text(self, seconds: float, real_since: float | None = None) -> str:
        """Return a span on the session's clock that says so: `6.7s`, or `403.0s on the simulated clock (6.7s real)`."""
        if self.clock_name == "wall":
            return f"{seconds:.1f}s"
        real = "" if real_since is None else f" ({time.monotonic() - real_since:.1f}s real)"
        return f"{seconds:.1f}s on the simulated clock{real}"

    def _heard(self) -> None:
        """Stamp the last data from the gateway (ib_async's updateEvent: a batch of messages handled)."""
        self._last_heard = (self.clock.now(), time.monotonic())

    def _mark_down(self, since: tuple[datetime, float] | None = None) -> datetime:
        """Remember when the connection went down, on the session's clock and in real time.

        A closed socket went down now (the first sign of it); a silent one (`since`: a hung gateway
        whose socket stays open) at the last data heard from it, however late the silence was noticed.
        """
        if self.disconnected_at is None:
            self.disconnected_at, self._disconnected_real = since or (self.clock.now(), time.monotonic())
        return self.disconnected_at

    def gateway_now(self) -> datetime:
        """Return the gateway's current time: our clock corrected by the last measured skew."""
        now = self.clock.now()
        return now + timedelta(seconds=self.clock_skew) if self.clock_skew else now

    def request_reconnect(self, reason: str) -> None:
        """Drop the socket on purpose so that run() reconnects (stale data, missed heartbeat).

        The gateway fell silent: the outage began at the last data heard from it, not now.
        """
        log.warning("dropping the gateway connection: %s", reason)
        self._mark_down(self._last_heard)
        if self.ib.isConnected() or self.ib.client.isConnected():
            self.ib.disconnect()
        if self._disconnected is not None:
            self._disconnected.set()

    async def close(self) -> None:
        """Disconnect (idempotent)."""
        self.ib.disconnect()

    def _enter_safe_mode(self, reason: str) -> None:
        if self.safe_mode:
            return
        self.safe_mode = True
        log.critical("SAFE MODE: %s. No new orders will be sent; protective orders at the broker stay.", reason)
        self._emit("SAFE_MODE_ENTERED", {"reason": reason, "failures": self.breaker.failures})

    # ------------------------------------------------------------------ executions after reconnect
    async def _catch_up_executions(self) -> None:
        since = self.last_execution_time
        try:
            reports = await fetch_executions_since(self.ib, self.account, since, self.config.connect_timeout)
        except (asyncio.TimeoutError, TimeoutError, ConnectionError) as exc:
            log.warning("could not re-request executions after reconnect: %s", exc)
            return
        self._note_executions(reports)
        self._emit("EXECUTIONS_RESYNCED", {"count": len(reports), "since": since.isoformat() if since else None})
        for listener in self._execution_listeners:
            listener(reports)

    def _note_executions(self, reports: list[ExecutionReport]) -> None:
        for report in reports:
            if self.last_execution_time is None or report.ts > self.last_execution_time:
                self.last_execution_time = report.ts

    def _on_exec_details(self, trade: Any, fill: Any) -> None:
        try:
            self._note_executions([execution_report(fill)])
        except Rejected:
            pass

    # ------------------------------------------------------------------ IB callbacks
    def _on_disconnected(self) -> None:
        self._mark_down()
        if self._disconnected is not None:
            self._disconnected.set()

    def _on_api_error(self, message: str) -> None:
        if _SOCKET_LOSS_LINE.match(message) and not self._connecting:
            self._lost_because = " ".join(message.split())  # said in slob's line on the loss (_serve)
        if self._connecting and self._connect_abort is not None and "already in use" in message:
            self._abort_notice = Notice(int(IBCode.CLIENT_ID_IN_USE), NoticeKind.CLIENT_ID_IN_USE, message)
            self._connect_abort.set()

    def _on_error(self, request_id: int, code: int, text: str, contract: Any) -> None:
        notice = classify(code, text, request_id)
        self.notices.append(notice)
        del self.notices[:-200]
        kind = notice.kind
        if kind is NoticeKind.CLIENT_ID_IN_USE and self._connecting and self._connect_abort is not None:
            self._abort_notice = notice
            self._connect_abort.set()
        elif kind is NoticeKind.CONNECTIVITY_LOST:
            self.connectivity_lost = True
            log.error(notice.plain)
            self._emit("CONNECTIVITY_LOST", {"code": code, "text": text})
        elif kind in (NoticeKind.RESTORED_DATA_LOST, NoticeKind.RESTORED_DATA_KEPT):
            self.connectivity_lost = False
            log.warning("IB %d: connectivity restored (%s)", code,
                        "data lost, resubscribing" if kind is NoticeKind.RESTORED_DATA_LOST else "data kept")
            self._emit("CONNECTIVITY_RESTORED", {"code": code, "data_lost": kind is NoticeKind.RESTORED_DATA_LOST})
            if kind is NoticeKind.RESTORED_DATA_LOST:
                self._in_background(self._run_hooks("restored"))
        elif kind is NoticeKind.FARM_BROKEN:
            self.simulated = self.simulated or _farm_name(text) == SIMULATED_FARM
            self.broken_farms.add(_farm_name(text))
            log.warning("IB %d: data farm broken (%s); treating market data as stale", code, text)
            self._emit("DATA_STALE", {"code": code, "farm": _farm_name(text)})
        elif kind is NoticeKind.FARM_OK:
            self.simulated = self.simulated or _farm_name(text) == SIMULATED_FARM
            self.broken_farms.discard(_farm_name(text))
            log.debug("IB %d: %s", code, text)
        elif kind is NoticeKind.READ_ONLY:
            log.error(notice.plain)
            self._emit("API_READ_ONLY", {"code": code, "text": text})
        for listener in self._notice_listeners:
            listener(notice)


# ib_async's word on a socket that went away (reset, refused, closed by the peer): slob's own line says it
_SOCKET_LOSS = r"\[Errno \d+\] |Peer closed connection\.$"
_SOCKET_LOSS_LINE = re.compile(f"^({_SOCKET_LOSS})")


class _ReportedBySlob(logging.Filter):
    """Keep ib_async's own lines to one calm line each; drop (or lower to DEBUG) what slob reports itself.

    A historical request's error (162 no data or pacing, 366) is raised to the code that asked, which
    turns it into an empty answer, a paced retry or one `Error:` line; a failed connection attempt is
    logged by IBConnection with the host, port and what to check; a lost connection by IBConnection's
    "lost the gateway connection (<ib_async's reason>); reconnecting". ib_async's raw lines would only
    repeat them (with a contract dump, or as a bare `[Errno 104] Connection reset by peer`): dropped.
    An order's error or warning (202 cancelled, 201 rejected, 110, 321, ...) is logged by the executor
    with the orderRef, a connection notice (1100, 1101, 1102, a broken farm) by IBConnection: ib_async's
    line is lowered to DEBUG. What is left of ib_async's lines that dump a
    whole `Trade(...)` or contract becomes one line naming the order (orderRef, orderId) or the contract.
    """

    RAW = re.compile(r"^(Error (162|366), reqId -?\d+: |API connection failed: |Make sure API port on TWS/IBG is open"
                     f"|{_SOCKET_LOSS})")
    ORDER_ERROR = re.compile(r"^(?:Error|Warning) (\d+), reqId [1-9]\d*: ")
    NOTICE = re.compile(r"^(?:Error|Warning) (\d+), reqId -1: ")
    # The connection notices IBConnection._on_error logs in its own words: ib_async's line would say them twice.
    NOTICES_LOGGED = frozenset({NoticeKind.CONNECTIVITY_LOST, NoticeKind.RESTORED_DATA_LOST,
                                NoticeKind.RESTORED_DATA_KEPT, NoticeKind.FARM_BROKEN})
    TRADE_DUMP = re.compile(r"^(IBKR API validation warning|Canceled order): Trade\(")
    CONTRACT_DUMP = re.compile(r"\b(?:Contract|Future|ContFuture)\([^()]*\)")  # a futures contract's repr

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.RAW.match(message):
            return False
        error = self.ORDER_ERROR.match(message)
        code = int(error.group(1)) if error else None
        notice = self.NOTICE.match(message)
        if notice and classify(int(notice.group(1)), message).kind in self.NOTICES_LOGGED:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        dump = self.TRADE_DUMP.match(message)
        if dump:
            message, code = _trade_line(dump.group(1), message)
        else:
            message = _contracts_named(message)
        record.msg, record.args = message, None
        if code in ORDER_ERROR_CODES:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"  # the executor logs it, with the orderRef
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def _field(dump: str, *names: str) -> str:
    """Return the first of these fields found in an ib_async object's repr (`name='value'` or `name=5`)."""
    for name in names:
        found = re.search(rf"\b{name}=(?:'([^']*)'|\"([^\"]*)\"|(-?\d+))", dump)
        if found and any(found.groups()):
            return next(g for g in found.groups() if g)
    return "?"


def _contracts_named(message: str) -> str:
    """Replace each futures contract's repr in a line by its local symbol (or symbol)."""
    return _ReportedBySlob.CONTRACT_DUMP.sub(lambda dump: _field(dump.group(0), "localSymbol", "symbol"), message)


def _trade_line(what: str, dump: str) -> tuple[str, int | None]:
    """Condense ib_async's `Trade(...)` dump to its order and newest log entry's text; return it and the code."""
    entries = re.findall(r"message=(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"), errorCode=(\d+)\)", dump)
    text, code = "", None
    if entries:
        single, double, number = entries[-1]
        text = re.sub(r"^(?:Error|Warning) \d+, reqId -?\d+: ", "", single or double)
        text = re.sub(r", contract: .*$", "", text)
        code = int(number) or None
    ref = _field(dump, "orderRef")
    order = f"{ref} (order {_field(dump, 'orderId')})" if ref != "?" else f"order {_field(dump, 'orderId')}"
    return f"{what}: {order}" + (f": {code} {text}" if code else (f": {text}" if text else "")), code


_REPORTED_BY_SLOB = _ReportedBySlob()


def _quiet_raw_ib_async_lines() -> None:
    for name in ("ib_async.wrapper", "ib_async.client", "ib_async.ib"):
        logger = logging.getLogger(name)
        if _REPORTED_BY_SLOB not in logger.filters:
            logger.addFilter(_REPORTED_BY_SLOB)


class _ClientIdInUse(Exception):
    """IB answered 326 during the handshake."""


def _wrong_account_message(account: str | None, accounts: list[str]) -> str:
    return (f"account {account} is not managed by this IB login (managed: {', '.join(accounts) or 'none'}); "
            "pass --account with one of those")


def _farm_name(text: str) -> str:
    return text.rsplit(":", 1)[-1].strip() if ":" in text else text.strip()
