"""`slob record` wiring: gateway -> tick batcher -> the store's writer thread, under one TaskGroup.

Trades land as plain values in a bounded in-memory batch (no Tick objects: the feed's `on_trade`);
every `flush_interval` seconds the batch goes to the store's writer thread, which commits it in one
transaction while the loop goes on decoding (so a crash loses at most that much). Events go through
the same writer, in order. Signals only set the stop event; shutdown stops input, drains the batch,
waits for the writer, and writes the `runs` row.

Like a trading session it shows life every `heartbeat_interval` real seconds, off the tick path: a
pulse on its lock record and a health row on its clock (`slob status`, `--check`, dashboard, web).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.history import HistoryPacer, fetch_minute_bars
from slob_cli.adapters.ib.market_data import MarketDataFeed
from slob_cli.adapters.ib.rolls import session_start, trading_date
from slob_cli.adapters.store import Store, from_us, to_iso, to_us
from slob_cli.aio import first_of
from slob_cli.core.models import Tick
from slob_cli.core.pnl import price_text
from slob_cli.errors import SlobError, UsageError
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import Clock, SystemClock, rebase_run_start
from slob_cli.runtime.supervision import IB_BUS_EVENTS, Supervised
from slob_cli.runtime.tick_backfill import Gap, fetch_trades, historical_request, missed_trades

UTC = timezone.utc
SECOND = timedelta(seconds=1)
log = logging.getLogger(__name__)


def parse_until(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """Return the next UTC instant at HH:MM in zone after now (on now's clock); raise UsageError otherwise."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise UsageError(f"--until {text!r} is not a time like 22:00")
    local_now = now.astimezone(zone)
    target = local_now.replace(hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0)
    if target <= local_now:
        target = (local_now + timedelta(days=1)).replace(hour=target.hour, minute=target.minute)
        target = target.replace(tzinfo=zone)
    return target.astimezone(UTC)


@dataclass
class RecorderOptions:
    """What to record, until when, and the knobs tests and benches turn."""

    symbols: list[str]
    until: datetime | None = None  # real time: --duration's end, read on the wall clock at the start
    stop_at: str | None = None  # --until HH:MM: a time of day on the recording's clock (a sim's, once it answers)
    zone: ZoneInfo | None = None  # stop_at's zone (the display zone)
    data_type: str = "live"
    flush_interval: float = 0.25
    buffer_capacity: int = 500_000
    warm_up: bool = True
    stale_after: float = 30.0  # SLOB_STALE_AFTER
    status_interval: float = 0.5
    drain_timeout: float = 10.0
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    measure_latency: bool = False
    backfill: bool = True  # fetch the trades an outage missed (reqHistoricalTicks)
    heartbeat_interval: float = 8.0  # real seconds between pulses and health rows, as a trading session's


@dataclass
class RecorderStatus:
    """One status-line snapshot."""

    ticks_per_second: float
    ticks_stored: int
    last_price: dict[str, float]
    buffer_used: int
    buffer_capacity: int
    dropped: int
    reconnects: int
    connected: bool
    mode: str
    local_symbols: dict[str, str]

    def line(self) -> str:
        """Return the one-line text form."""
        prices = " ".join(f"{self.local_symbols.get(s) or s} {price_text(p)}" for s, p in self.last_price.items()) or "-"
        state = "connected" if self.connected else "RECONNECTING"
        mode = {"live": "LIVE", "sim": "SIMULATED DATA"}.get(self.mode, "DELAYED DATA")
        use = 100.0 * self.buffer_used / max(1, self.buffer_capacity)
        return (f"[{mode}] {state} | {self.ticks_per_second:,.0f} ticks/s | stored {self.ticks_stored:,} | last {prices}"
                f" | buffer {use:.1f}% | drops {self.dropped:,} | reconnects {self.reconnects}")


HISTORY_SETTLES = timedelta(seconds=2)  # after a minute ends, before its history bar is asked for


class Recorder(Supervised):
    """Record trade ticks of some symbols into the store until stopped."""

    def __init__(self, store: Store, config: GatewayConfig, options: RecorderOptions, *, run_id: int | None = None,
                 clock: Clock | None = None, on_status: Callable[[RecorderStatus], None] | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep, bus: EventBus | None = None) -> None:
        self.store = store
        self.options = options
        self.clock = clock or SystemClock()
        self.on_status = on_status
        super().__init__()
        self.connection = IBConnection(config, self._event, policy=options.policy, sleep=sleep, clock=self.clock)
        self.feed = MarketDataFeed(self.connection, options.symbols, self._tick, data_type=options.data_type,
                                   emit=self._event, on_mode=self._mode_changed, stale_after=options.stale_after,
                                   on_trade=self._trade)
        self.bus = bus
        self.run_id = run_id
        self.stored = 0
        self.dropped = 0
        self.latencies: list[float] = []
        # (symbol, local symbol) -> [ts_us, price, size, ts_us, ...] waiting for the next flush
        self._batch: dict[tuple[str, str], list[Any]] = {}
        self._batched = 0
        self._arrivals: list[float] | None = [] if options.measure_latency else None
        self._ready = asyncio.Event()
        self._gaps: asyncio.Queue[Gap] = asyncio.Queue()
        self._unfinished: list[Gap] = []  # outages whose backfill has not finished
        self._attempts: dict[Gap, int] = {}
        self.backfills = 0  # outages backfilled (wholly or partly)
        self.gaps = 0  # DATA_GAPs reported: spans no backfill recovered
        self.backfilled = 0
        self.pacer = HistoryPacer.kept_in(store, lambda: self.clock.now())
        self._shifted = getattr(self.clock, "shifted", timedelta(0))
        self._gone_at: datetime | None = None  # the gateway was away when the period ended, since then
        self._sim_clock = False  # the runs row says sim_clock (its gateway is simulated and the clock follows it)
        self.connection.add_hook(self._rebase_run_start)

    async def _rebase_run_start(self, reason: str) -> None:
        """The clock moved onto a simulated gateway's time: so does the run's stored start, at once.

        A clock that follows a simulated gateway makes it a run on a simulated clock: its args say so
        (`sim_clock`, as `trade` and `run` say it from the start), for status and the report.
        """
        self._shifted = rebase_run_start(self.store, self.run_id, self.clock, self._shifted)
        if self.run_id is not None and not self._sim_clock and self.connection.clock_name == "sim":
            self._sim_clock = True
            self.store.set_run_arg(self.run_id, "sim_clock", True)

    # ------------------------------------------------------------------ inputs (loop thread, quick)
    def _trade(self, symbol: str, ts_us: int, price: float, size: float, local_symbol: str) -> None:
        if self._batched >= self.options.buffer_capacity:
            self._drop(symbol, ts_us)
            return
        self._batched += 1
        values = self._batch.get((symbol, local_symbol))
        if values is None:
            values = self._batch[symbol, local_symbol] = []
        values += (ts_us, price, size)
        if self._arrivals is not None:
            self._arrivals.append(time.perf_counter())

    def _tick(self, tick: Tick, local_symbol: str) -> None:
        self._trade(tick.symbol, to_us(tick.ts), tick.price, tick.size, local_symbol)

    def _drop(self, symbol: str, ts_us: int) -> None:
        if not self.dropped:
            log.warning("tick batch full (%d ticks waiting for the store); dropping ticks", self.options.buffer_capacity)
            self._event("TICKS_DROPPED", {"symbol": symbol, "ts": from_us(ts_us), "count": 1,
                                          "capacity": self.options.buffer_capacity})
        self.dropped += 1

    def _event(self, kind: str, payload: dict[str, Any]) -> None:
        when, run_id = self.clock.now(), self.run_id
        bus_type = IB_BUS_EVENTS.get(kind)
        if self.bus is not None and bus_type is not None:
            self.bus.emit(bus_type, payload, when)
        symbol = payload.get("symbol")
        self.store.log_event(kind, when, payload, run_id=run_id, symbol=symbol)  # queued to the writer thread
        if kind == "FEED_RESUMED":
            gap = Gap(str(symbol), datetime.fromisoformat(payload["last_before"]),
                      datetime.fromisoformat(payload["first_after"]))
            if self.options.backfill:
                self._unfinished.append(gap)
                self._gaps.put_nowait(gap)
            else:
                self._report_gap(gap.symbol, gap.last_before, gap.first_after, "backfill is off")

    def _mode_changed(self, mode: str) -> None:
        if self.run_id is not None:
            self.store.set_run_mode(self.run_id, mode)

    # ------------------------------------------------------------------ the run
    async def run(self) -> dict[str, Any]:
        """Record until stopped or until options.until; return the run's stats (the caller owns the runs row)."""
        if self.run_id is not None:
            self.store.set_run_mode(self.run_id, self.feed.data_kind)
        if self.feed.mode == "delayed":
            log.warning("MARKET DATA IS DELAYED: asked for with SLOB_MARKET_DATA_TYPE=delayed")
        with self.store.background_writes(on_error=self.failed_from_thread()):
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._guard(self.connection.run(self.stop_event, self._ready)))
                    group.create_task(self._guard(self.feed.watch(self.stop_event)))
                    group.create_task(self._guard(self._writer()))
                    group.create_task(self._guard(self._deadline()))
                    group.create_task(self._guard(self._status_loop()))
                    group.create_task(self._guard(self._heartbeat()))
                    group.create_task(self._guard(self._backfills()))
                    if self.options.warm_up:
                        group.create_task(self._guard(self._warm_up()))
            finally:
                for gap in self._unfinished:
                    self._report_gap(gap.symbol, gap.last_before, gap.first_after,
                                     "recording stopped before the backfill")
                self._unfinished.clear()
                await self._flush()
        if self.fatal is not None:
            raise self.fatal
        if not self.connection.connections:
            raise self.connection.unreachable("the recording stopped")
        self._catch_up_with_the_trades()
        return self.stats()

    def _catch_up_with_the_trades(self) -> datetime | None:
        """On a clock following a simulated gateway: end no earlier than the last trade stored; return that trade's time.

        The gateway's clock may run faster than ours between the skews measured on connect; the run
        must not end (in `status`) before the ticks it stored.
        """
        catch_up = getattr(self.clock, "catch_up", None)
        newest = max(filter(None, map(self.feed.latest, self.options.symbols)), default=None)
        if catch_up is not None and self.connection.simulated and newest is not None:
            catch_up(newest)
        return newest

    async def _backfills(self) -> None:
        """Fetch the trades each outage missed once its boundary seconds are over and stored."""
        while not self.stop_event.is_set():
            gap = await self._unless_stopped(self._gaps.get())
            if gap is None:
                return
            # The second the feed came back in must be complete (and flushed) before it is counted,
            # and history can only be asked while connected.
            await self._unless_stopped(self._ready_for(gap))
            if self.stop_event.is_set():
                return
            await self._flush()
            # A stop cancels a history request in flight (it stays an unfinished gap): a disconnect may never answer it.
            await self._unless_stopped(self._backfill(gap))

    async def _ready_for(self, gap: Gap, patience: float = 5.0) -> None:
        """Return once the feed is past the second it came back in (or after `patience` s), and connected.

        Never a poll: it looks again after each batch of gateway messages (trades, the connection
        back) and when a session starts or ends, and once when the patience runs out.
        """
        after = gap.first_after.replace(microsecond=0) + SECOND
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience

        # Trades arrive in exchange order: once a later one is in, that second is whole.
        def ready() -> bool:
            latest = self.feed.latest(gap.symbol)
            return self.connection.connected and (loop.time() >= deadline or latest is None or latest >= after)

        changed = asyncio.Event()
        stop_listening = self.connection.add_change_listener(changed.set)
        try:
            while not ready():
                changed.clear()
                left = deadline - loop.time()
                await first_of(changed.wait(), *([asyncio.sleep(left)] if left > 0 else []))
        finally:
            stop_listening()

    async def _backfill(self, gap: Gap) -> None:
        resolved = self.feed.contracts.get(gap.symbol)
        if resolved is None:
            return
        first, last = gap.last_before.replace(microsecond=0), gap.first_after.replace(microsecond=0)
        request = historical_request(self.connection.ib, resolved.ib_contract, gap.symbol)
        contract_key = f"{getattr(resolved.ib_contract, 'conId', gap.symbol)}|TRADES"

        async def paced(start: datetime) -> list[Tick]:
            await self.pacer.pace(f"{contract_key}|ticks|{start.isoformat()}", contract_key, asyncio.sleep)
            return await request(start)

        error = None
        try:
            history, reached = await fetch_trades(paced, first, last)
        except (SlobError, ConnectionError, asyncio.TimeoutError, ValueError) as exc:
            self._attempts[gap] = self._attempts.get(gap, 0) + 1
            if not self.connection.connected and self._attempts[gap] < 3:
                log.info("backfill of %s %s..%s interrupted by the connection; asking again after the reconnect",
                         gap.symbol, first, last)
                self._gaps.put_nowait(gap)
                return
            log.warning("backfill of %s %s..%s failed: %s", gap.symbol, first, last, exc)
            history, reached, error = [], first, str(exc)
        counts = [self.store.tick_count_between(gap.symbol, to_us(second), to_us(second + SECOND))
                  for second in (first, last)]
        merge = missed_trades(gap, history, counts[0], counts[1])
        self.store.merge_ticks(merge.ticks, (merge.replace, merge.replace + SECOND) if merge.replace else None,
                               run_id=self.run_id, local_symbol=resolved.future.local_symbol or None)
        self.stored += merge.new
        self.backfilled += merge.new
        log.info("backfilled %d %s trades missed between %s and %s", merge.new, gap.symbol, first, last)
        self._event("DATA_BACKFILLED", {"symbol": gap.symbol, "from": first.isoformat(), "to": last.isoformat(),
                                        "ticks": merge.new})
        if reached < last:
            self._report_gap(gap.symbol, reached, last, error or "history ends before the feed came back")
        self._unfinished.remove(gap)
        self.backfills += 1

    @property
    def pending_backfills(self) -> int:
        """Return how many outages wait for their backfill."""
        return len(self._unfinished)

    def _report_gap(self, symbol: str, start: datetime, end: datetime, reason: str) -> None:
        """Report trades between start and end (exclusive) as lost: what no backfill could supply."""
        seconds = round((end - start).total_seconds(), 3)
        log.warning("%s trades between %s and %s are missing (%s): %s", symbol, start, end,
                    self.connection.span_text(seconds), reason)
        self.gaps += 1
        self._event("DATA_GAP", {"symbol": symbol, "start": start.isoformat(), "end": end.isoformat(),
                                 "seconds": seconds, "clock": self.connection.clock_name, "reason": reason})

    async def _deadline(self) -> None:
        deadlines = []
        if self.options.until is not None:
            deadlines.append(self._real_deadline((self.options.until - datetime.now(UTC)).total_seconds()))
        if self.options.stop_at is not None:
            deadlines.append(self._clock_deadline(self.options.stop_at))
        await asyncio.gather(*deadlines)  # each returns once the run stops (or stops it)

    async def _real_deadline(self, remaining: float) -> None:
        """--duration: real seconds, whatever clock the recording runs on."""
        try:
            await asyncio.wait_for(self.stop_event.wait(), max(0.0, remaining))
        except (asyncio.TimeoutError, TimeoutError):
            log.info("recording period ended")
            self._period_ended()

    def _period_ended(self) -> None:
        """Stop: the period is over. A gateway away at its end cut the recording short (stats: gateway_gone_at)."""
        self._gone_at = self.connection.gone_since()
        self.stop_event.set()

    async def _clock_deadline(self, stop_at: str) -> None:
        """--until HH:MM: the next such time of day on the recording's clock once connected (a sim's, if it is one)."""
        if not await self._unless_stopped(self._ready.wait()):
            return
        target = parse_until(stop_at, self.clock.now(), self.options.zone or ZoneInfo("UTC"))
        while not self.stop_event.is_set():
            self._catch_up_with_the_trades()  # a sim's time runs at its own speed: its ticks carry it
            if self.clock.now() >= target:
                log.info("recording period ended at %s", target.isoformat())
                self._period_ended()
                return
            await self._wait_stop(0.25)

    async def _writer(self) -> None:
        while not self.stop_event.is_set():
            try:
                await asyncio.wait_for(self.stop_event.wait(), self.options.flush_interval)
            except (asyncio.TimeoutError, TimeoutError):
                pass
            await self._flush()

    async def _flush(self) -> None:
        """Hand the batch to the store's writer thread and wait, the loop going on, until it is committed.

        The thread commits each symbol's ticks as multi-row INSERTs, during which SQLite runs without
        the GIL, so decoding goes on meanwhile (bench/record.py). Raises the writer's error.
        """
        self._catch_up_with_the_trades()  # a faster simulated gateway's time: a drop is stamped where trades stopped
        batch, self._batch = self._batch, {}
        count, self._batched = self._batched, 0
        arrivals, self._arrivals = self._arrivals, [] if self._arrivals is not None else None
        for (symbol, local_symbol), values in batch.items():
            self.store.insert_tick_values(symbol, local_symbol or None, self.run_id, values)
        await self.store.writes_flushed()
        self.stored += count
        if arrivals:
            committed = time.perf_counter()
            self.latencies.extend(committed - arrived for arrived in arrivals)

    async def _unless_stopped(self, work: Any) -> Any:
        """Await work, or cancel it and return None once the stop event is set."""
        task, _stopped = await first_of(work, self.stop_event.wait())
        if task.cancelled():
            return None
        return task.result()

    async def _warm_up(self) -> None:
        """Store today's bars up to the subscription, then, once it is over, the bar of the minute subscribed in.

        That minute's ticks before the subscription never reached the recording: `candles aggregate` leaves
        it out as partial, so without its history bar the day keeps a hole there (as the engine fetches it).
        """
        if not await self._unless_stopped(self._ready.wait()):
            return
        now = self.connection.gateway_now()
        if not await self._store_history(session_start(trading_date(now)), now):
            return
        subscribed_in = now.replace(second=0, microsecond=0)
        # The next minute too: a subscription made a moment after `now` may fall in it. Its bar, once the
        # minute is over, is the one its ticks give (aggregate keeps an equal bar as it is).
        over = subscribed_in + timedelta(minutes=2)
        while self.connection.gateway_now() < over + HISTORY_SETTLES:
            await self._unless_stopped(asyncio.sleep(0.25))
            if self.stop_event.is_set():
                return
        await self._store_history(subscribed_in, over)

    async def _store_history(self, start: datetime, end: datetime) -> bool:
        """Store each symbol's 1-minute bars of [start, floor(end)) as `ib_history`; False when stopped meanwhile."""
        for symbol, resolved in list(self.feed.contracts.items()):
            try:
                candles = await self._unless_stopped(fetch_minute_bars(
                    self.connection.ib, resolved.ib_contract, symbol, start, end, guard=self.feed.guard,
                    pacer=self.pacer))
                if candles is None:
                    return False
            except (SlobError, ConnectionError) as exc:
                log.warning("historical warm-up for %s failed: %s", symbol, exc)
                self._event("WARM_UP_FAILED", {"symbol": symbol, "error": str(exc)})
                continue
            self.store.upsert_candles(candles, "ib_history", resolved.future.local_symbol)
            self._event("WARM_UP", {"symbol": symbol, "bars": len(candles), "from": start.isoformat(),
                                    "to": end.isoformat()})
        return True

    async def _heartbeat(self) -> None:
        """Show life every heartbeat_interval real seconds: a pulse on the lock record, then a health row."""
        await self._show_life(self.store.path, self.options.heartbeat_interval, self._beat)

    def _beat(self, stopping: bool) -> None:
        if not stopping:
            self.write_health()

    def write_health(self) -> dict[str, Any]:
        """Store one health row on the recorder's clock (queued to the writer); return it.

        The figures a trading session's row has, where a recorder has them: no book (open orders and
        positions are None), the ticks it received and stored instead. On a simulated gateway's clock it is
        written once the clock has caught up with the trades it counts (the gateway may run faster).
        """
        newest = self._catch_up_with_the_trades()
        now = self.clock.now()
        row = {
            "connected": self.connection.connected,
            "last_tick_age": None if newest is None else round(max((now - newest).total_seconds(), 0.0), 3),
            "buffer_utilization": round(self._batched / max(1, self.options.buffer_capacity), 4),
            "open_orders": None, "positions": None, "data_mode": self.feed.data_kind,
            "safe_mode": self.connection.safe_mode, "ticks": self.feed.ticks, "ticks_stored": self.stored,
            "dropped": self.dropped, "reconnects": self.connection.reconnects,
        }
        self.store.record_health(self.run_id, now, row)
        return row

    async def _status_loop(self) -> None:
        previous, previous_time = 0, time.monotonic()
        while not self.stop_event.is_set():
            try:
                await asyncio.wait_for(self.stop_event.wait(), self.options.status_interval)
            except (asyncio.TimeoutError, TimeoutError):
                pass
            now = time.monotonic()
            rate = (self.feed.ticks - previous) / max(1e-6, now - previous_time)
            previous, previous_time = self.feed.ticks, now
            if self.on_status is not None:
                self.on_status(self.status(rate))

    def status(self, rate: float = 0.0) -> RecorderStatus:
        """Return the current status snapshot."""
        return RecorderStatus(
            ticks_per_second=rate, ticks_stored=self.stored, last_price=dict(self.feed.last_price),
            buffer_used=self._batched, buffer_capacity=self.options.buffer_capacity, dropped=self.dropped,
            reconnects=self.connection.reconnects, connected=self.connection.connected, mode=self.feed.data_kind,
            local_symbols={s: r.future.local_symbol for s, r in self.feed.contracts.items()},
        )

    def stats(self) -> dict[str, Any]:
        """Return the run's counters (stored in its runs row)."""
        return {
            "ticks_received": self.feed.ticks, "ticks_stored": self.stored, "dropped": self.dropped,
            "duplicates_skipped": self.feed.duplicates, "rejected": self.feed.guard.total,
            "backfilled": self.backfilled, "gaps": self.gaps,
            "reconnects": self.connection.reconnects, "failed_attempts": self.connection.failed_attempts,
            "safe_mode": self.connection.safe_mode, "data_mode": self.feed.data_kind,
            "local_symbols": {s: r.future.local_symbol for s, r in self.feed.contracts.items()},
            "gateway_gone_at": to_iso(self._gone_at),
        }
