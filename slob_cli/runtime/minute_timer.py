"""The minute timer: a loop.call_at timer for every minute end plus the grace, the instant a quiet bar closes.

asyncio's own timers wake up to a millisecond late (epoll counts whole milliseconds, and a process
asleep in epoll waits for the scheduler), so the timer is set LEAD real seconds early and the last
stretch is spent yielding to the loop (other callbacks and tasks still run) until the engine's
clock reaches the due instant; then `fire(now)` closes the minute directly from the callback.

The clock may run faster than real time (the simulated gateway's speed) and may be moved (a
followed clock adjusts on every connect), so `aim()` maps the next due instant onto the loop's time
again; the engine calls it every few hundred milliseconds and it re-arms only when the target moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from slob_cli.core.clock import Clock
from slob_cli.core.models import ONE_MINUTE, floor_minute

LEAD = 0.010  # real seconds before a due instant that the timer wakes to yield its way up to it
REAIM_TOLERANCE = 0.0005  # real seconds a re-computed target may differ before the timer is re-armed


def next_due(now: datetime, grace: timedelta) -> datetime:
    """Return the first minute end plus grace strictly after `now`."""
    return floor_minute(now - grace) + ONE_MINUTE + grace


class MinuteTimer:
    """Call `fire(now)` at every minute end plus grace on `clock`; `fire` returns False to be retried at once."""

    def __init__(self, clock: Clock, grace: timedelta, speed: float, fire: Callable[[datetime], bool]) -> None:
        self.clock = clock
        self.grace = grace
        self.speed = speed
        self.fire = fire
        self.due: datetime | None = None
        self._at = 0.0  # loop time the armed timer fires at
        self._handle: asyncio.Handle | None = None
        self._approaching = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def aim(self) -> None:
        """Arm the timer for the next due instant, or re-arm it when the clock moved against the loop."""
        loop = self._loop = self._loop or asyncio.get_running_loop()
        if self._approaching:
            return  # the last stretch checks the clock itself
        now = self.clock.now()
        due = next_due(now, self.grace)
        if self.due is not None and self.due < due:
            due = self.due  # not fired yet: a clock that jumped past it fires it at once
        at = loop.time() + (due - now).total_seconds() / self.speed - LEAD
        if self._handle is not None and due == self.due and abs(at - self._at) < REAIM_TOLERANCE:
            return
        if self._handle is not None:
            self._handle.cancel()
        self.due, self._at = due, at
        self._handle = loop.call_at(at, self._approach)

    def stop(self) -> None:
        """Cancel the armed timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._approaching = False

    def _approach(self) -> None:
        loop, due = self._loop, self.due
        assert loop is not None and due is not None
        now = self.clock.now()
        if now < due:
            self._approaching = (due - now).total_seconds() / self.speed <= 2 * LEAD
            if not self._approaching:  # woken far too early (the clock moved back): wait again
                self._handle = None
                self.aim()
                return
            self._handle = loop.call_soon(self._approach)
            return
        if not self.fire(now):
            self._approaching = True
            self._handle = loop.call_soon(self._approach)
            return
        self._approaching = False
        self._handle = None
        self.due = None
        self.aim()
