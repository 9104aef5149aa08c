"""The minute gate: history fills the minutes a (re)start or a reconnect missed, live data the rest.

A live bar of the minute the engine started (or reconnected) in, and of a minute cut by a lost
connection, is partial: the ticks before the subscription never reached us. The gate discards
those live bars, holds the live bars that close after them, and lets the engine fetch the missed
minutes from history once they are over; then the history bars go to the tracker first and the held
live bars after them, so the tracker sees every minute once, in order, and never a partial bar.

A feed that goes silent without a disconnect is treated alike as soon as the silence is longer than
the stale watchdog's threshold (SLOB_STALE_AFTER on the engine's clock, inside trading hours): the
bar of the minute the silence began in, and every later one, is held, and each minute of the silence
is taken from history once it is over, as after a reconnect. A market that did not trade (history
has no bar) lets the clock move on; ticks that resume bring their own minute from history too. A
held live bar of a minute history was to replace is kept as its stand-in: fed as it is when history
cannot bring that minute (the DATA_GAP says how many), so no minute is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slob_cli.adapters.ib.history import HistoryPacer, fetch_minute_bars
from slob_cli.adapters.store import to_iso
from slob_cli.core.models import Candle, floor_minute
from slob_cli.core.sessions import session_for, trading_date_of
from slob_cli.errors import SlobError

if TYPE_CHECKING:
    from slob_cli.runtime.engine import Engine, EngineOptions

log = logging.getLogger(__name__)
ONE_MINUTE = timedelta(minutes=1)


def silence_threshold(options: EngineOptions) -> float:
    """Return the seconds of the engine's clock a silent feed must last before its minutes are held.

    SLOB_STALE_AFTER real seconds' worth of the session's clock (x the clock's speed; a lockstep
    `--speed max` counts as 1000, so a run is the same at 1000 and max), or an explicit
    `silence_after`. Not SLOB_STALE_AFTER virtual seconds: every silence held asks history (IB's,
    and the simulated gateway's, pacing counts real seconds: 60 requests in 10 minutes), so a
    threshold on virtual seconds at 1000x asks a thousand times as often; in a sparse simulated
    market the pacing then waits minutes of real time per request while the lockstep clock stands,
    and whether the run finishes would depend on real time, not on its seed.
    """
    return options.silence_after if options.silence_after is not None else options.stale_after * options.clock_speed


def first_whole_minute(now: datetime) -> datetime:
    """Return the first minute whose every tick a subscription made at `now` receives."""
    minute = floor_minute(now)
    return minute if now == minute else minute + ONE_MINUTE


@dataclass
class MinuteGate:
    """Which live candles the engine may use while history fills the minutes it missed."""

    history_through: datetime | None = None  # minutes to here come from history (their live bars may be partial)
    fill_from: datetime | None = None  # first minute the pending backfill fetches (None: nothing pending)
    held: list[Candle] = field(default_factory=list)
    discarded: int = 0

    @property
    def pending(self) -> bool:
        """Return True while a backfill is due: live bars are held, the tracker's clock waits at fill_from."""
        return self.fill_from is not None

    @property
    def fill_until(self) -> datetime | None:
        """Return the end (exclusive) of the minutes the pending backfill fetches."""
        return None if self.history_through is None else self.history_through + ONE_MINUTE

    def cut(self, since: datetime | None, now: datetime) -> None:
        """Hold live bars from now on: the feed was cut at `now`; history refetches from `since`."""
        self._extend(since or floor_minute(now), floor_minute(now))

    def resume(self, since: datetime | None, now: datetime) -> bool:
        """Live data resumed (or started) at `now`; return True when there are minutes to fetch."""
        through = first_whole_minute(now) - ONE_MINUTE
        start = since or floor_minute(now)
        if start > through and not self.pending:
            return False
        self._extend(start, through)
        return True

    def refetch(self, start: datetime, through: datetime) -> None:
        """Take the minutes start..through (inclusive) from history: their live bars may lack ticks."""
        self._extend(start, through)

    def hold_silence(self, now: datetime, last_tick: datetime | None, threshold: float, *, after: datetime | None,
                     grace: timedelta, trading: Callable[[datetime], bool] = lambda _now: True) -> bool:
        """Take the minutes of a suspect silence from history: hold their live bars; return True when it began.

        Suspect means silent since last_tick for longer than `threshold` seconds at `now` while
        `trading(now)`; a quieter minute is never held. The span runs from the minute of last_tick
        (or `after`, the first the tracker lacks, or the first after what history brought) to the
        minute in progress, or to the last one over: it is fetched once over, and while the silence
        lasts the next hold takes the next minute. None begins while a backfill is pending.
        """
        if self.pending or last_tick is None or (now - last_tick).total_seconds() <= threshold or not trading(now):
            return False
        start = floor_minute(last_tick)
        taken = None if self.history_through is None else self.history_through + ONE_MINUTE
        start = max([start] + [minute for minute in (after, taken) if minute is not None])
        self._extend(start, max(start, floor_minute(now - grace) - ONE_MINUTE))
        return True

    def _extend(self, start: datetime, through: datetime) -> None:
        self.fill_from = start if self.fill_from is None else min(self.fill_from, start)
        self.history_through = through if self.history_through is None else max(self.history_through, through)

    def admit(self, candle: Candle) -> bool:
        """Return True when a live bar may go to the tracker now; else it is held, or dropped as history's."""
        if self.pending:
            self.held.append(candle)  # after the backfill, or in place of a minute history cannot bring
            return False
        if self.history_through is not None and candle.ts <= self.history_through:
            self.discarded += 1  # history brought this minute already
            return False
        return True

    def release(self, fetched: Collection[datetime] = ()) -> list[Candle]:
        """End the pending backfill; return the held live bars to feed with its history, oldest first.

        `fetched` holds the minutes history brought: their live bars (partial, or no better) are
        dropped; a held bar of a minute history lacks (it failed or lags) is kept, so no minute is lost.
        """
        held, self.held = self.held, []
        self.fill_from = None
        through = self.history_through
        kept = [candle for candle in held if through is None or candle.ts > through or candle.ts not in fetched]
        self.discarded += len(held) - len(kept)
        return kept


class MinuteCatchUp:
    """The engine's history side of the gate: warm-up, the start minute, the minutes a reconnect or a silence missed.

    It fetches today's bars up to the start minute before live data is consumed, then, once the
    minutes a (re)start, a reconnect or a silent feed missed are over, fetches them and hands them
    to the engine before the live bars the gate held meanwhile.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.gate = MinuteGate()
        self.wanted = asyncio.Event()  # a backfill became pending, or its minutes closed: look (never polled)
        self.live_from: datetime | None = None  # the first minute live data brings (history has the rest)
        self.clock_ran_to: datetime | None = None  # the engine's clock rules (and minute closes) ran up to here
        self.silent_since: datetime | None = None  # the last tick before the latest silence held for
        self.quiet_since: datetime | None = None  # ... once history showed the market did not trade in it
        # IB's history pacing outlives this process: a restart seconds later waits only what the rules need.
        self.pacer = HistoryPacer.kept_in(engine.store, lambda: engine.clock.now())
        self.silence_after = silence_threshold(engine.options)

    def admit(self, candle: Candle) -> bool:
        """Return True when a live bar goes to the tracker now; else history has it, or it is held."""
        if self.live_from is not None and candle.ts < self.live_from:
            return False  # history already holds this minute; a live bar started mid-minute would be partial
        return self.gate.admit(candle)  # partial (history brings it) or held until the backfill before it is done

    def fetches(self, minute: datetime) -> bool:
        """Return True when the pending backfill fetches this minute from history."""
        return self.gate.pending and self.gate.fill_from is not None and minute >= self.gate.fill_from

    def due(self) -> bool:
        """Return True when the minutes a start or reconnect missed are over and await their history.

        Lockstep holds the clock there, so the backfill (and the held bars after it) happen at the
        same virtual time at any speed. Over means the engine has closed those minutes' live bars
        too (held as stand-ins), so none closes after the backfill that it could have used.
        """
        until, ran = self.gate.fill_until, self.clock_ran_to
        return self.gate.pending and until is not None and ran is not None and ran >= until + self.engine.aggregator.grace

    def next_minute(self) -> datetime | None:
        """Return the minute after the last bar the tracker was fed (where a backfill starts)."""
        last = self.engine.tracking.last_candle
        return None if last is None else last + ONE_MINUTE

    def cut(self, now: datetime) -> None:
        """The connection dropped at `now`: the bar in progress lost its ticks from here on."""
        self.gate.cut(self.next_minute(), now)

    async def warm_up(self) -> None:
        """Store today's 1-min bars from the reference-window start to the last whole minute (history)."""
        engine = self.engine
        symbol = engine.options.symbol
        now = engine.clock.now()
        session = session_for(trading_date_of(now), engine.calendar)
        resolved = engine.feed.contracts.get(symbol)
        if resolved is not None and self.gate.resume(floor_minute(now), now):
            # The bar of the minute we started in would be partial: history brings it once it is over.
            self.wanted.set()
        if session is None or resolved is None or now <= session.reference_start:
            return
        end = min(floor_minute(now), session.session_end)
        start = session.reference_start
        latest = engine.store.latest_candle(symbol)
        if latest is not None and start <= latest.ts < end:
            start = latest.end  # after a restart only the missing minutes are fetched
        live_from = end
        try:
            candles = await fetch_minute_bars(engine.connection.ib, resolved.ib_contract, symbol, start, end,
                                              guard=engine.feed.guard, pacer=self.pacer) if start < end else []
        except (SlobError, ConnectionError, asyncio.TimeoutError) as exc:
            log.warning("historical warm-up failed: %s; tracking starts from live data", exc)
            engine._event("WARM_UP_FAILED", {"symbol": symbol, "error": str(exc)})
            return
        candles = [c for c in candles if c.ts < end]
        engine.store.upsert_candles(candles, "ib_history", resolved.future.local_symbol)
        self.live_from = live_from
        log.info("warm-up: %d bars from %s to %s", len(candles), to_iso(start), to_iso(end))
        engine._event("WARM_UP", {"symbol": symbol, "bars": len(candles), "from": to_iso(start), "to": to_iso(end)})

    async def after_connect(self, reason: str) -> None:
        """After a reconnect, fetch the minutes the connection missed once they are over."""
        engine = self.engine
        if reason == "reconnect" and engine._started and self.gate.resume(self.next_minute(), engine.clock.now()):
            self.wanted.set()

    def on_time(self, now: datetime) -> None:
        """The engine's clock rules run at `now`: while the feed is silent too long, hold the minutes for history.

        The stale watchdog's rule on the engine's clock: silent for longer than SLOB_STALE_AFTER
        inside trading hours. Each minute of the silence is then fetched from history once over
        (its live bar, if any, waits as a stand-in) until history shows a minute after the last
        tick's without a trade: the market is quiet, the feed alive after all, and the clock moves
        on until the next tick. The feed notes the gap, so the first tick after the silence brings a
        FEED_RESUMED (reason `stale`) and the minute it came in is refetched too (`stalled`). A
        quieter minute is never held.
        """
        engine = self.engine
        self.clock_ran_to = now
        if self.gate.pending:
            if self.due():
                self.wanted.set()  # the close the pending backfill waits for has run: fetch now
            return
        if not engine._started:
            return
        symbol = engine.options.symbol
        feed = engine.feed
        last = feed.latest(symbol)  # every call of the step loop gets this far: the cheap tests first
        if last is None or (now - last).total_seconds() <= self.silence_after or last == self.quiet_since:
            return  # ticks are coming; or the feed was alive after all (the market is quiet): the clock moves on
        if not engine.connection.connected or not self.gate.hold_silence(
                now, last, self.silence_after, after=self.next_minute(), grace=engine.aggregator.grace,
                trading=feed.trading_hours):
            return
        self.wanted.set()
        if last == self.silent_since:
            return  # the same silence, its next minute
        self.silent_since = last
        feed.mark_gap(symbol, "stale")
        silent = round((now - last).total_seconds(), 1)
        log.warning("no %s tick for %.0fs: the bars from %s on come from history", symbol, silent,
                    to_iso(self.gate.fill_from or floor_minute(last)))
        engine._event("FEED_SILENT", {"symbol": symbol, "last_tick": to_iso(last), "silent_seconds": silent,
                                      "held_from": to_iso(self.gate.fill_from or floor_minute(last))})

    def stalled(self, last_before: datetime, first_after: datetime) -> None:
        """The feed was silent from last_before to first_after (no reconnect): refetch those minutes.

        From the minute of the last tick before the silence to the minute of the first after it,
        live bars may be partial or missing. Once those minutes are over their history replaces
        what the live path stored (a bar the tracker already had is only stored, never fed twice).
        """
        if not self.engine._started:
            return
        self.gate.refetch(floor_minute(last_before), floor_minute(first_after))
        self.wanted.set()

    async def run(self) -> None:
        """Fetch the minutes a start, a reconnect or a silence missed once they are closed; feed them, then the held bars.

        Never a poll: the loop sleeps until `wanted` is set, which happens when a backfill becomes
        pending and when the engine's clock rules ran past its last minute's end plus the grace (the
        minute timer's close, or a lockstep step; `on_time`). Then the live bar of that minute is
        already held, so history and the held bars go to the tracker in order.
        """
        engine = self.engine
        while await engine._set_before_stop(self.wanted):
            self.wanted.clear()
            # Disconnected: the reconnect asks again (after_connect), for a longer span.
            if self.due() and engine._started and engine.connection.connected:
                until = self.gate.fill_until
                assert until is not None
                await self._backfill(until)
                engine.changed.set()  # no longer due: a lockstep step may go on

    def _judge_silence(self, start: datetime, until: datetime, history: list[Candle] | None) -> None:
        """Note a market that did not trade in the silence still held for: history lacks a minute after its last tick."""
        silent = self.silent_since
        if history is None or silent is None or self.engine.feed.latest(self.engine.options.symbol) != silent:
            return  # history failed, or no silence is held (a tick came since)
        after = floor_minute(silent) + ONE_MINUTE
        fetched = {candle.ts for candle in history}
        minute = max(start, after)
        while minute < until:
            if minute not in fetched:
                log.info("no %s trade in %s: the market is quiet, not the feed", self.engine.options.symbol,
                         to_iso(minute))
                self.quiet_since = silent
                return
            minute += ONE_MINUTE

    async def _backfill(self, until: datetime) -> None:
        engine = self.engine
        symbol = engine.options.symbol
        start = self.gate.fill_from
        resolved = engine.feed.contracts.get(symbol)
        assert start is not None and resolved is not None
        failure = None
        try:
            candles = await fetch_minute_bars(engine.connection.ib, resolved.ib_contract, symbol,
                                              start, until, guard=engine.feed.guard, pacer=self.pacer)
        except (SlobError, ConnectionError, asyncio.TimeoutError) as exc:
            if not engine.connection.connected:
                return  # the next reconnect asks again, for a longer span
            failure, candles = exc, []
        if until != self.gate.fill_until or start != self.gate.fill_from:
            return  # a reconnect or a stall meanwhile widened the span: fetch again
        last = engine.tracking.last_candle
        candles = [c for c in candles if start <= c.ts < until]
        # History replaces the partial live bars of a stall; the tracker gets only the minutes after its last.
        engine.store.upsert_candles(candles, "ib_history", resolved.future.local_symbol)
        fresh = [c for c in candles if last is None or c.ts > last]
        self._judge_silence(start, until, candles if failure is None else None)
        held = [c for c in self.gate.release({c.ts for c in candles}) if last is None or c.ts > last]
        kept = sum(1 for c in held if c.ts < until)  # live bars standing in for minutes history did not bring
        if failure is not None:
            log.warning("backfill of %s..%s failed: %s; %s", to_iso(start), to_iso(until), failure,
                        f"{kept} held live bar(s) fed as they are" if kept else "those minutes stay missing")
            engine.stats.gaps += 1
            engine._event("DATA_GAP", {"symbol": symbol, "start": to_iso(start), "end": to_iso(until),
                                       "minutes": round((until - start).total_seconds() / 60),
                                       "reason": f"backfill failed: {failure}", "live_bars": kept})
        log.info("backfill: %d bars from %s to %s, %d live in their place, then %d held live bars", len(fresh),
                 to_iso(start), to_iso(until), kept, len(held) - kept)
        engine._event("BACKFILL", {"symbol": symbol, "bars": len(fresh), "from": to_iso(start),
                                   "to": to_iso(until), "held": len(held) - kept, "live_bars": kept})
        bars = sorted([(c.ts, c, "ib_history") for c in fresh] + [(c.ts, c, "live") for c in held],
                      key=lambda entry: entry[0])
        for _, candle, source in bars:
            if source == "ib_history":
                engine.stats.backfilled_candles += 1
            engine._deliver(candle, source)
