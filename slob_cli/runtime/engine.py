"""The live engine: gateway -> tick buffer -> M1 aggregator -> tracker -> risk -> executor -> store.

One TaskGroup owns every task; a signal only sets the stop event. The same code runs against IB
Gateway and the simulated gateway: only the clock and the gateway address differ (wiring).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import MAX_CLOCK_SKEW as WARN_CLOCK_SKEW
from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.market_data import MarketDataFeed
from slob_cli.adapters.ib.orders import IBOrderPort
from slob_cli.adapters.ib.pnl import BrokerPnl
from slob_cli.adapters.store import Store, to_iso
from slob_cli.aio import first_of
from slob_cli.core.aggregator import CandleCompleted, GapDetected, LateTick, M1Aggregator
from slob_cli.core.market_hours import cme_open, is_scheduled_close
from slob_cli.core.models import Candle, Tick
from slob_cli.core.pnl import money_text
from slob_cli.core.risk import RiskManager
from slob_cli.core.sessions import TradingCalendar, session_for, trading_date_of
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import EventType as SetupEventType
from slob_cli.core.strategy.events import SetupEvent
from slob_cli.errors import SlobError, ValidationFailed
from slob_cli.runtime import failpoints
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import Clock, SystemClock, rebase_run_start
from slob_cli.runtime.events import EventType
from slob_cli.runtime.executor import ExecutorOptions, OrderExecutor
from slob_cli.runtime.last_prices import newest_prices
from slob_cli.runtime.minute_gate import MinuteCatchUp
from slob_cli.runtime.minute_timer import MinuteTimer
from slob_cli.runtime.pnl_view import unrealized_view
from slob_cli.runtime.supervision import IB_BUS_EVENTS, Supervised
from slob_cli.runtime.tick_buffer import TickBuffer
from slob_cli.runtime.tracking import LiveTracking
from slob_cli.runtime.views import human_age

UTC = timezone.utc
log = logging.getLogger(__name__)


@dataclass
class EngineOptions:
    """What to trade and the timing knobs (tests shorten them)."""

    symbol: str = "NQ"
    data_type: str = "live"
    until: datetime | None = None  # engine-clock instant to stop at
    grace_seconds: float = 2.0
    timer_interval: float = 0.25  # real seconds between clock checks (minute closes are loop timers)
    clock_speed: float = 1.0  # virtual seconds per real second of the engine clock (the sim runs faster)
    heartbeat_interval: float = 8.0  # real seconds between health rows
    lockstep_heartbeat: float = 900.0  # virtual seconds between health rows of a lockstep run (any speed)
    buffer_size: int = 10_000
    stale_after: float = 30.0  # SLOB_STALE_AFTER
    silence_after: float | None = None  # engine-clock seconds of silence that hold bars (None: stale_after's span)
    drain_timeout: float = 10.0
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    store_ticks: bool = False  # the `record` step of `slob run`
    store_candles: bool = True  # the `aggregate` step (a tracked session stores its candles with their events)
    track: bool = True  # the `track` step; without it candles are stored but no setups tracked
    lockstep: bool = False  # the gateway's clock moves only when this engine asks (runtime/lockstep.py)
    lockstep_patience: float = 30.0  # real seconds without a step before a lockstep run is cut short
    # Seconds the gateway's time may differ from this machine's wall clock (SLOB_MAX_CLOCK_SKEW); None
    # when the engine's clock follows the gateway's (a simulated gateway's own, followed or stepped clock).
    max_clock_skew: float | None = None


@dataclass
class EngineStats:
    """Figures of one engine run."""

    ticks: int = 0
    candles: int = 0
    late_ticks: int = 0
    gaps: int = 0
    dropped_ticks: int = 0
    setup_events: int = 0
    setups_completed: int = 0
    reconnects: int = 0
    safe_mode: bool = False
    data_mode: str = "live"
    first_candle: str | None = None  # label (UTC ISO) of the first live candle of the run
    backfilled_candles: int = 0  # minutes a start or reconnect missed, taken from history
    stopped_by: str | None = None  # SIGINT or SIGTERM when a signal ended the run (a clean stop, exit 0)
    gateway_gone_at: str | None = None  # UTC ISO: the period ended with the gateway away since then (exit 4)

    def as_dict(self) -> dict[str, Any]:
        """Return the stats as a JSON-able dict."""
        return dict(self.__dict__)


class Engine(Supervised):
    """Run the strategy against one gateway until stopped or until options.until."""

    def __init__(self, store: Store, gateway: GatewayConfig, strategy: StrategyConfig, risk: RiskManager,
                 calendar: TradingCalendar, options: EngineOptions, *, clock: Clock | None = None,
                 bus: EventBus | None = None, run_id: int | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.store = store
        self.options = options
        self.clock = clock or SystemClock()
        self.bus = bus or EventBus()
        self.run_id = run_id
        self.calendar = calendar
        self.stats = EngineStats(data_mode=options.data_type)
        super().__init__()
        self._reconcile_wanted = asyncio.Event()  # set by the executor or a 1101/1102: reconcile soon
        symbol = options.symbol
        self.trade_symbol = risk.config.trade_symbol or symbol  # MNQ on NQ's setups: same prices, its own contract
        self.connection = IBConnection(gateway, self._event, policy=options.policy, sleep=sleep, clock=self.clock)
        self.feed = MarketDataFeed(self.connection, [symbol], self._on_tick, data_type=options.data_type,
                                   emit=self._event, on_mode=self._mode_changed, stale_after=options.stale_after,
                                   order_symbols=[self.trade_symbol])
        self.broker_pnl = BrokerPnl(self.connection, self._traded_con_id)
        self.buffer = TickBuffer(options.buffer_size, clock=SystemClock(), on_drop=self._on_drop)
        self.aggregator = M1Aggregator([symbol], grace_seconds=options.grace_seconds)
        self.tracking = LiveTracking(store, symbol, strategy, calendar)
        self.port = IBOrderPort(self.connection.ib, self._contract_for, lambda: self.connection.account)
        self.executor = OrderExecutor(store, self.port, risk, self.clock, self.bus, options.executor, run_id,
                                      orders_allowed=lambda: self.connection.orders_allowed,
                                      request_reconcile=self._reconcile_wanted.set,
                                      market_open=lambda now: cme_open(now, calendar),
                                      last_prices=lambda: newest_prices(self.feed, store, [symbol],
                                                                        {self.trade_symbol: symbol}))
        self.executor.attach(self.port)
        self.connection.add_reconcile_hook(self._reconcile)
        # Lockstep waits on this, never polls: set when what ready_to_step reads may have changed.
        self.changed = asyncio.Event()
        self.connection.add_change_listener(self.changed.set)  # a broker reply, a session begun or ended
        self.catch_up = MinuteCatchUp(self)  # history: warm-up, the start minute, what a reconnect missed
        self.gate = self.catch_up.gate
        self.connection.add_hook(self.catch_up.after_connect)
        self._shifted = getattr(self.clock, "shifted", timedelta(0))  # the clock's footing the run started on
        self.connection.add_hook(self._rebase_run_start)
        self._ready = asyncio.Event()
        self._started = False
        self._last_tick_at: datetime | None = None  # the newest trade's own time: ages read on the session's clock
        self._session_end_done: set[date] = set()
        self.candle_delays: list[float] = []
        self._tick_batch: list[Tick] = []
        self._closed: tuple[list[Candle], datetime] | None = None  # bars the timer published, still to feed
        self._reconciling = 0
        self.steps = 0  # lockstep steps taken
        self._skew_noted = False  # a skew past WARN_CLOCK_SKEW was logged (once per run)

    # ------------------------------------------------------------------ inputs (loop thread, quick)
    def _on_tick(self, tick: Tick, local_symbol: str) -> None:
        if self._last_tick_at is None or tick.ts > self._last_tick_at:
            self._last_tick_at = tick.ts
        self.buffer.enqueue(tick)

    async def _rebase_run_start(self, reason: str) -> None:
        """A followed or stepped clock moved onto the gateway's time: so does the run's stored start, at once."""
        self._shifted = rebase_run_start(self.store, self.run_id, self.clock, self._shifted)

    def _on_drop(self, symbol: str, ts: datetime, count: int) -> None:
        self.stats.dropped_ticks += count
        self.aggregator.note_dropped(symbol, ts, count)

    def _event(self, kind: str, payload: dict[str, Any]) -> None:
        when = self.clock.now()
        bus_type = IB_BUS_EVENTS.get(kind)
        if bus_type is not None:
            self.bus.emit(bus_type, payload, when)
        if kind == "IB_RECONNECTED":
            self.stats.reconnects += 1
        if kind == "SAFE_MODE_ENTERED":
            self.stats.safe_mode = True
        if kind == "CONNECTIVITY_RESTORED":
            self._reconcile_wanted.set()  # fills or cancels during 1100 may not have reached us
        if kind == "IB_DISCONNECTED" and self._started:
            self.catch_up.cut(when)  # the bar in progress lost its ticks from here on
        if kind == "FEED_RESUMED" and payload.get("reason") == "stale" and payload.get("last_before") \
                and payload.get("symbol") == self.options.symbol:
            # A silence the resubscription ended: its minutes come from history like a reconnect's.
            self.catch_up.stalled(datetime.fromisoformat(payload["last_before"]),
                                  datetime.fromisoformat(payload["first_after"]))
        self.store.log_event(kind, when, payload, run_id=self.run_id, symbol=payload.get("symbol"))

    def _mode_changed(self, mode: str) -> None:
        self.stats.data_mode = mode
        if self.run_id is not None:
            self.store.set_run_mode(self.run_id, mode)

    def _traded_con_id(self) -> int | None:
        resolved = self.feed.contracts.get(self.trade_symbol)
        return resolved.future.con_id if resolved is not None else None

    def _contract_for(self, symbol: str) -> Any:
        resolved = self.feed.contracts.get(symbol)
        if resolved is None:
            raise SlobError(f"no resolved contract for {symbol}")
        return resolved.ib_contract

    # ------------------------------------------------------------------ the run
    async def run(self) -> EngineStats:
        """Run until stopped; return the stats (the caller owns the runs row)."""
        with self.store.background_writes(on_error=self.failed_from_thread()):  # events, ticks, health off the loop
            return await self._run()

    async def _run(self) -> EngineStats:
        if self.options.data_type == "delayed":
            log.warning("MARKET DATA IS DELAYED: asked for with SLOB_MARKET_DATA_TYPE=delayed")
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._guard(self.connection.run(self.stop_event, self._ready)))
                group.create_task(self._guard(self.feed.watch(self.stop_event)))
                group.create_task(self._guard(self._start_then_consume()))
                if self.options.lockstep:  # the step loop runs the clock rules and the deadline
                    from slob_cli.runtime.lockstep import follow_steps

                    group.create_task(self._guard(follow_steps(self)))
                else:
                    group.create_task(self._guard(self._timers()))
                    group.create_task(self._guard(self._deadline()))
                group.create_task(self._guard(self._heartbeat()))
                group.create_task(self._guard(self._reconcile_on_request()))
                group.create_task(self._guard(self.catch_up.run()))
        finally:
            self.executor.settle_pending()  # a commission report that never came still books the trade
            await self.bus.stop(timeout=2.0)
        if self.fatal is not None:
            raise self.fatal
        if not self.connection.connections:
            # A session that never connected did not succeed; say what stopped it before the connect window ended.
            stopped = self.stats.stopped_by
            raise self.connection.unreachable(f"{stopped} stopped it" if stopped else "its --duration ended")
        self.stats.reconnects = self.connection.reconnects
        if self.options.lockstep:
            from slob_cli.runtime.lockstep import check_completed

            check_completed(self, self.clock.now())
        return self.stats

    async def _deadline(self) -> None:
        until = self.options.until
        while until is not None and not self.stop_event.is_set():
            left = (until - self.clock.now()).total_seconds()
            if left <= 0:
                log.info("run period ended at %s", to_iso(until))
                self.stats.gateway_gone_at = to_iso(self.connection.gone_since())
                self.stop_event.set()
                return
            await self._wait_stop(min(self.options.timer_interval, left / self.options.clock_speed))

    async def _start_then_consume(self) -> None:
        if not await self._set_before_stop(self._ready):
            return
        self._check_clock()
        await self.catch_up.warm_up()
        if self.stop_event.is_set():
            return
        # Replay the stored day only up to where stored data ends, never to a later clock reading:
        # live bars of the minutes since then are still to come through the buffer.
        now = self.catch_up.live_from or self.clock.now()
        report = self.tracking.restore(now)
        log.info("tracker restored for %s: %d candles replayed", report.trading_date, report.replayed_candles)
        await self._reconcile_safely()
        self._started = True
        self.changed.set()
        await self._consume()

    async def _consume(self) -> None:
        buffer = self.buffer
        if self.options.lockstep:  # ticks are consumed by the step loop, at the time of their step
            await self.stop_event.wait()
        while not self.stop_event.is_set():
            tick = await buffer.dequeue(timeout=0.1)
            if tick is None:
                continue
            self._process_tick(tick)
            # Keep the loop responsive under a flood of ticks.
            for _ in range(500):
                tick = buffer.dequeue_nowait()
                if tick is None:
                    break
                self._process_tick(tick)
            await asyncio.sleep(0)
        # Shutdown: take what is already buffered, then stop.
        self._feed_closed()
        while (tick := buffer.dequeue_nowait()) is not None:
            self._process_tick(tick)
        self._flush_ticks()

    def _process_tick(self, tick: Tick) -> None:
        failpoints.delay("process_tick")
        self.stats.ticks += 1
        if self.options.store_ticks:
            self._tick_batch.append(tick)
        for event in self.aggregator.on_tick(tick):
            self._aggregator_event(event)

    def _aggregator_event(self, event: Any) -> None:
        if isinstance(event, CandleCompleted):
            self._candle(event.candle)
        elif isinstance(event, GapDetected):
            if self.catch_up.fetches(event.start):
                return  # the pending backfill fetches these minutes from history
            if is_scheduled_close(event.start, event.end, self.calendar):
                # The CME halt, a weekend or a holiday close: expected, logged, never counted as a gap.
                self.store.log_event("SCHEDULED_CLOSE", self.clock.now(), {"start": to_iso(event.start),
                                     "end": to_iso(event.end), "minutes": event.minutes}, self.run_id, event.symbol)
                return
            self.stats.gaps += 1
            self.bus.emit(EventType.GAP_DETECTED, event, event.start)
            self.store.log_event("GAP_DETECTED", self.clock.now(), {"start": to_iso(event.start),
                                 "end": to_iso(event.end), "minutes": event.minutes}, self.run_id, event.symbol)
        elif isinstance(event, LateTick):
            self.stats.late_ticks += 1
            count = self.stats.late_ticks
            if count & (count - 1) == 0:  # 1, 2, 4, 8 ...: warned, never a log line per tick
                log.warning("%d late tick(s) so far (a tick for a minute already closed is counted, not applied); "
                            "latest %s at %s", count, event.tick.symbol, to_iso(event.tick.ts))
                self.store.log_event("LATE_TICKS", self.clock.now(), {"count": count, "ts": to_iso(event.tick.ts)},
                                     self.run_id, event.tick.symbol)

    def _candle(self, candle: Candle) -> None:
        if self._admit(candle):
            self._deliver(candle)

    def _admit(self, candle: Candle) -> bool:
        if candle.tick_count == 0:
            return False  # no synthetic bars reach the tracker (STRATEGY.md §4.7)
        # history has this minute, or the bar is held until the backfill before it is done
        return self.catch_up.admit(candle)

    def _deliver(self, candle: Candle, source: str = "live") -> None:
        """Hand a final bar (live or history) to the bus, then to the tracker, the executor and the store."""
        self._feed_closed()  # bars the timer closed go to the tracker first
        self._publish(candle, source)
        self._feed(candle, source)

    def _publish(self, candle: Candle, source: str = "live") -> None:
        if source == "live":
            self.stats.candles += 1
            if self.stats.first_candle is None:
                self.stats.first_candle = to_iso(candle.ts)
            self.candle_delays.append((self.clock.now() - candle.end).total_seconds())
            del self.candle_delays[:-10_000]
        self.bus.emit(EventType.CANDLE_COMPLETED, candle, candle.ts)

    def _feed(self, candle: Candle, source: str = "live") -> None:
        self._flush_ticks()
        if not self.options.track:
            if self.options.store_candles:
                self.store.upsert_candles([candle], source=source)
            return
        self._setup_events(self.tracking.on_candle(candle))
        self.executor.on_candle_closed(candle.end)

    def _setup_events(self, events: list[SetupEvent]) -> None:
        for event in events:
            self.stats.setup_events += 1
            self.bus.emit(EventType.SETUP_EVENT, event, event.bar_time)
            if event.type is SetupEventType.SETUP_COMPLETE:
                self.stats.setups_completed += 1
                view = next((c for c in self.tracking.candidates() if c.id == event.candidate_id), None)
                if view is not None:
                    self.bus.emit(EventType.SETUP_DETECTED, view, event.bar_time)
                    self.executor.on_setup_complete(view)
            elif event.type is SetupEventType.SETUP_INVALIDATED:
                self.bus.emit(EventType.SETUP_INVALIDATED, event, event.bar_time)

    async def _timers(self) -> None:
        """Close each minute at its end plus the grace from a loop timer; re-aim it and watch for a crash."""
        timer = MinuteTimer(self.clock, self.aggregator.grace, self.options.clock_speed, self._on_minute)
        try:
            while not self.stop_event.is_set():
                timer.aim()  # the clock may have been moved (a followed clock adjusts on connect)
                await self._wait_stop(self.options.timer_interval)
                failpoints.check()
                if self._started:
                    self.executor.on_clock(self.clock.now())  # a flatten to retry is due within seconds
        finally:
            timer.stop()

    def _on_minute(self, now: datetime) -> bool:
        """The minute timer fired: run the clock rules at `now`; return False to be called again at once."""
        if not self._started or self.stop_event.is_set():
            return True  # nothing is open before the start; a stopping engine's consumer has shut down
        # The clock may only pass data the consumer has seen: with a backlog of ticks in the
        # buffer, closing minutes or freezing levels now would run ahead of the data.
        if len(self.buffer):
            return False
        self.on_time(now, feed_later=True)
        return True

    def ready_to_step(self) -> bool:
        """Return True when nothing is in flight that the next lockstep step could overtake."""
        return (self._started and not self._reconcile_wanted.is_set() and not self._reconciling
                and not self.port.in_flight() and not self.catch_up.due())

    def step_held_by(self) -> str:
        """Return in words what keeps the next lockstep step waiting (for a run cut short meanwhile)."""
        if not self.connection.in_session:
            return "the connection to the simulated gateway (down, reconnecting)"
        if not self._started:
            return "its start (history warm-up, the first reconciliation)"
        if self._reconcile_wanted.is_set() or self._reconciling:
            return "a reconciliation with the broker"
        if self.port.in_flight():
            return "the broker's acknowledgement of an order"
        if self.catch_up.due():
            pacing = self.catch_up.pacer.pausing
            held = f", held by IB's history pacing ({pacing:.0f}s)" if pacing else ""
            return f"the history of the minutes it missed{held}"
        return "nothing"

    def settle(self) -> None:
        """Consume every buffered tick, then run the clock rules at the current time (lockstep)."""
        while (tick := self.buffer.dequeue_nowait()) is not None:
            self._process_tick(tick)
        self.on_time(self.clock.now())
        self.executor.on_clock(self.clock.now())

    def _flush_ticks(self) -> None:
        if self._tick_batch:
            batch, self._tick_batch = self._tick_batch, []
            self.store.insert_ticks(batch, run_id=self.run_id)

    def on_time(self, now: datetime, feed_later: bool = False) -> None:
        """Drive every clock-based rule at `now`.

        feed_later (the minute timer): the bars that close go to the bus at once; feeding them to
        the tracker and the store, and the rest of the clock rules, follow in a loop callback, so
        nothing but the close itself stands between the timer and the bus.
        """
        self._feed_closed()
        self.catch_up.on_time(now)  # a feed silent too long: hold the bars that close from here on
        if feed_later:
            closed = [event.candle for event in self.aggregator.on_time(now)
                      if isinstance(event, CandleCompleted) and self._admit(event.candle)]
            for candle in closed:
                self._publish(candle)
            self._closed = (closed, now)
            asyncio.get_running_loop().call_soon(self._feed_closed)
            return
        self._flush_ticks()
        for event in self.aggregator.on_time(now):
            self._aggregator_event(event)
        self._clock_rules(now)

    def _feed_closed(self) -> None:
        """Feed the bars the minute timer published, then run the clock rules of its instant."""
        if self._closed is None:
            return
        closed, now = self._closed
        self._closed = None
        self._flush_ticks()
        for candle in closed:
            self._feed(candle)
        self._clock_rules(now)

    def _clock_rules(self, now: datetime) -> None:
        if not self.options.track:
            return
        # Every candle final before now - grace has been fed: the tracker's clock may not pass that.
        settled = now - self.aggregator.grace
        if self.gate.fill_from is not None:  # a backfill is pending: the minutes from there come from history
            settled = min(settled, self.gate.fill_from)
        self._setup_events(self.tracking.on_time(settled))
        day = trading_date_of(settled)
        session = session_for(day, self.calendar)
        if session is not None and settled >= session.session_end and day not in self._session_end_done:
            self._session_end_done.add(day)
            self.executor.on_session_end()

    async def _heartbeat(self) -> None:
        await self._show_life(self.store.path, self.options.heartbeat_interval, self._beat)

    def _beat(self, stopping: bool) -> None:
        if self.options.lockstep and not stopping:
            return  # its health rows follow virtual time (runtime/lockstep.py); the last one is here
        self.write_health()
        if self._started:
            self._check_clock()  # the connection measures the skew again on every heartbeat

    def _check_clock(self) -> None:
        """Stop a wall-clock session whose gateway keeps another time: ticks carry its time, minutes close on ours.

        A few seconds apart, the ticks at each minute's edge arrive after their minute closed and are
        counted late (so a skew past WARN_CLOCK_SKEW is logged once); past `max_clock_skew` the candles
        and every decision on them would be wrong, so the session ends with exit 5. That is also what a
        simulated gateway running at another speed looks like to a session that does not follow it.
        """
        limit, skew = self.options.max_clock_skew, self.connection.clock_skew
        if limit is None or skew is None or abs(skew) <= WARN_CLOCK_SKEW:
            return
        side = "ahead of" if skew > 0 else "behind"
        said = (f"the gateway's clock is {human_age(abs(skew))} {side} this machine's")
        if abs(skew) > limit:
            self._event("CLOCK_SKEW", {"skew_seconds": round(skew, 1), "limit": limit, "stopped": True})
            raise ValidationFailed(
                f"{said} (limit SLOB_MAX_CLOCK_SKEW={limit:g}s): ticks carry its time and minutes close on "
                f"this machine's, so candles would be wrong; set this machine's clock (NTP), or follow a "
                f"simulated gateway's clock with `slob trade --follow-sim-clock SPEED`")
        if not self._skew_noted:
            self._skew_noted = True
            log.warning("%s: ticks near a minute's end may arrive after it closed (counted late)", said)
            self._event("CLOCK_SKEW", {"skew_seconds": round(skew, 1), "limit": limit, "stopped": False})

    def write_health(self) -> dict[str, Any]:
        """Log and store one health row; return it."""
        now = self.clock.now()
        age = None if self._last_tick_at is None else round(max((now - self._last_tick_at).total_seconds(), 0.0), 3)
        open_orders = self.store.live_order_count()
        positions = self.store.open_position_count()
        utilization = round(self.buffer.utilization(), 4)
        row = {
            "connected": self.connection.connected, "last_tick_age": age,
            "buffer_utilization": utilization, "open_orders": open_orders,
            "positions": positions, "data_mode": self.stats.data_mode, "safe_mode": self.connection.safe_mode,
            "ticks": self.stats.ticks, "candles": self.stats.candles,
            **unrealized_view(self.store, self.trade_symbol, self.feed.last_price.get(self.options.symbol),
                              self.broker_pnl.unrealized()),
        }
        log.info("health: %s | last tick %s | buffer %.1f%% | %d open orders | %d positions"
                 " | unrealized %s (broker %s)%s",
                 "connected" if row["connected"] else "DISCONNECTED",
                 "none yet" if age is None else f"{age:.1f}s ago", 100 * utilization,
                 open_orders, positions, money_text(row["unrealized_pnl"]), money_text(row["broker_unrealized_pnl"]),
                 " | DELAYED DATA" if self.stats.data_mode == "delayed" else "")
        self.store.record_health(self.run_id, now, row)
        self.bus.emit(EventType.HEALTH, row, now)
        return row

    async def _reconcile(self) -> None:
        if self._started:
            await self._reconcile_safely()

    async def _reconcile_on_request(self) -> None:
        """Reconcile whenever the executor asks (a partly filled entry was cancelled), one at a time."""
        while await self._set_before_stop(self._reconcile_wanted):
            self._reconcile_wanted.clear()
            await self._reconcile()
            self.changed.set()

    async def _set_before_stop(self, event: asyncio.Event) -> bool:
        """Wait until event is set or the engine stops; return True when the engine goes on."""
        await first_of(event.wait(), self.stop_event.wait())
        return not self.stop_event.is_set()

    async def _reconcile_safely(self) -> None:
        """Reconcile with the broker; a lost connection postpones it to the next reconnect."""
        self._reconciling += 1
        try:
            await self.executor.reconcile()
        except (ConnectionError, asyncio.TimeoutError, TimeoutError) as exc:
            log.warning("reconciliation with the broker postponed: %s", exc)
            self._event("RECONCILE_POSTPONED", {"error": str(exc)})
        finally:
            self._reconciling -= 1
            self.changed.set()
