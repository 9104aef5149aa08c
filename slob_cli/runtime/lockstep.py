"""The engine's side of lockstep virtual time (the gateway's side is sim/lockstep.py).

Against a lockstep simulated gateway the engine asks for every step of virtual time itself: it
settles everything it has received (ticks into candles, the clock rules at the step's time, bus
handlers, a reconcile under way, every reply to the orders it sent), checks its deadline, and only
then sends reqCurrentTime. The gateway serves the next step and answers; the answer arrives after
every message of the step, so when it is read the step's ticks, fills and statuses are all in.
Nothing the engine still has in flight can be overtaken by the market, and real latency never
becomes simulated time. Writes the engine queued to the store's writer thread need no step of
their own: every read of the store (and every direct write) waits for them first (Store._conn).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from slob_cli.aio import first_of
from slob_cli.errors import RunCutShort
from slob_cli.runtime import failpoints

if TYPE_CHECKING:
    from slob_cli.runtime.engine import Engine

UTC = timezone.utc
log = logging.getLogger(__name__)


async def follow_steps(engine: Engine) -> None:
    """Drive the gateway's clock step by step until the deadline or a stop; cut the run short when steps stop."""
    connection = engine.connection
    options = engine.options
    patience = options.lockstep_patience
    # ib_async paces requests to IB's 50 a second; one question per step would make that pace the
    # simulation's. The simulated gateway takes requests as they come (ib_async: 0 = no throttle).
    connection.ib.client.MaxRequests = 0
    last_step: float | None = None  # start-up (connect, warm-up, reconcile) has its own timeouts
    health_every = timedelta(seconds=options.lockstep_heartbeat)
    next_health: datetime | None = None
    while not engine.stop_event.is_set():
        engine.changed.clear()  # before looking: a change from here on wakes the wait below
        failpoints.check()  # a crash a callback tripped kills the engine here, as the timer loop does
        if not (connection.in_session and engine.ready_to_step()):
            idle = 0.0 if last_step is None else time.monotonic() - last_step
            if last_step is not None and idle > patience:  # we could not ask
                raise cut_short(engine, f"no step asked for {patience:g}s (real time) while the engine waited "
                                        f"for {engine.step_held_by()}")
            await _changed(engine, patience - idle)
            continue
        engine.settle()
        await engine.bus.drain()
        if not engine.ready_to_step():
            continue  # settling asked for a reconcile: finish it before time moves on
        if engine.port.unsynced:  # read every reply to the orders sent (a fill after the ack) before time moves
            try:
                await engine.port.sync()
            except (ConnectionError, asyncio.TimeoutError, TimeoutError):
                await _changed(engine, patience)  # lost: the session's end (or a reply) wakes it
            continue  # the replies may have asked for more work: settle again
        now = engine.clock.now()
        if next_health is None or now >= next_health:  # on virtual time, so a run's rows are the same at any speed
            if next_health is not None:
                engine.write_health()
            next_health = now + health_every
        until = options.until
        if until is not None and now >= until:
            log.info("run period ended at %s (lockstep, %d steps)", until.isoformat(), engine.steps)
            engine.stop()
            return
        last_step = last_step or time.monotonic()
        try:
            asking = connection.ib.reqCurrentTimeAsync()
        except ConnectionError:  # lost just now: the supervisor reconnects; the clock waits for us meanwhile
            await _changed(engine, patience)
            continue
        asked, _stopped, waited = await first_of(asking, engine.stop_event.wait(), asyncio.sleep(patience))
        if engine.stop_event.is_set():
            return
        if asked.cancelled() and not waited.cancelled():  # no answer within patience
            raise cut_short(engine, f"the simulated gateway served no step for {patience:g}s (real time)")
        if asked.cancelled() or asked.exception() is not None:
            continue  # connection lost: the supervisor reconnects; the clock waits for us meanwhile
        answer = asked.result()
        last_step = time.monotonic()
        engine.steps += 1
        follow = getattr(engine.clock, "step_to", None)  # a clock in another process follows the answers
        if follow is not None:
            follow(answer)


async def _changed(engine: Engine, timeout: float) -> None:
    """Wait until what ready_to_step reads may have changed (engine.changed), the engine stops, or `timeout` s pass.

    Connecting, reconciling, an order awaiting its acknowledgement or a backfill due: each sets the
    event where it ends (a broker reply, a session begun or ended, a reconcile or backfill done).
    """
    await first_of(engine.changed.wait(), engine.stop_event.wait(), asyncio.sleep(max(0.0, timeout)))


def cut_short(engine: Engine, reason: str) -> RunCutShort:
    """Return the one-line error of a run that ended before its period: why, and how far it got."""
    now = engine.clock.now()
    until = engine.options.until
    left = "" if until is None else f", {_span(until - now)} before its end at {until:%Y-%m-%d %H:%M} UTC"
    return RunCutShort(f"run cut short: {reason}; got to {now:%Y-%m-%d %H:%M:%S} UTC (virtual){left}, "
                       f"{engine.stats.ticks:,} ticks and {engine.stats.candles:,} candles processed", engine.stats,
                       at=now)


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(max(0, seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def check_completed(engine: Engine, stopped_at: datetime) -> None:
    """Raise RunCutShort when a lockstep run stopped before its period ended (a signal, a crash)."""
    until = engine.options.until
    if until is not None and stopped_at < until:
        raise cut_short(engine, "stopped before the end of its period")
