"""The simulated gateway's virtual clock: wall time, a chosen start at N x speed, or "max" speed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

from slob_cli.aio import first_of

UTC = timezone.utc

# Longest real pause between re-checks in sleep_until, so a changed speed or a jump is noticed.
_MAX_REAL_WAIT = 0.5


def _aware_utc(when: datetime, what: str) -> datetime:
    """Return when in UTC, refusing naive datetimes."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} {when.isoformat()} has no time zone")
    return when.astimezone(UTC)


class VirtualClock:
    """A clock the whole simulated gateway follows.

    - `start=None`: follows the wall clock (speed must be 1.0) until paused or jumped.
    - `start=T, speed=N`: starts at T and runs N times faster than real time.
    - `speed=None` ("max"): time moves only through `advance_to` or `jump`.

    `time_source` (seconds since the epoch) and `sleep` are injectable so tests never sleep.
    """

    def __init__(
        self,
        start: datetime | None = None,
        speed: float | None = 1.0,
        *,
        time_source: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"clock speed must be positive or None (max), got {speed!r}")
        if start is None and speed != 1.0:
            raise ValueError("a clock that follows the wall clock runs at speed 1.0; give a start time")
        self._time_source = time_source
        self._sleep = sleep
        self._speed = speed
        self._lock = threading.Lock()
        self._paused = False
        self._anchor_real = time_source()
        self._anchor_virtual = (
            datetime.fromtimestamp(self._anchor_real, UTC) if start is None else _aware_utc(start, "clock start")
        )
        self._waiters: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------------ reading
    @property
    def speed(self) -> float | None:
        """Return the speed factor, or None for max speed."""
        return self._speed

    @property
    def is_max_speed(self) -> bool:
        """Return True when the clock moves only through advance_to/jump."""
        return self._speed is None

    @property
    def paused(self) -> bool:
        """Return True while the clock is paused."""
        return self._paused

    def now(self) -> datetime:
        """Return the virtual time (aware UTC)."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if self._paused or self._speed is None:
            return self._anchor_virtual
        elapsed = (self._time_source() - self._anchor_real) * self._speed
        return self._anchor_virtual + timedelta(seconds=elapsed)

    # ------------------------------------------------------------------ moving
    def _reanchor_locked(self, virtual: datetime) -> None:
        self._anchor_virtual = virtual
        self._anchor_real = self._time_source()

    def advance_to(self, when: datetime) -> None:
        """Move the clock forward to when (max speed); earlier times are ignored, never backwards."""
        when = _aware_utc(when, "advance_to time")
        with self._lock:
            if when > self._now_locked():
                self._reanchor_locked(when)
        self._notify()

    def jump(self, to: datetime) -> None:
        """Put the clock at `to` (forwards or backwards) and keep running from there."""
        to = _aware_utc(to, "jump time")
        with self._lock:
            self._reanchor_locked(to)
        self._notify()

    def set_speed(self, speed: float | None) -> None:
        """Change the speed from now on (None = max)."""
        if speed is not None and not speed > 0:
            raise ValueError(f"clock speed must be positive or None (max), got {speed!r}")
        with self._lock:
            self._reanchor_locked(self._now_locked())
            self._speed = speed
        self._notify()

    def pause(self) -> None:
        """Freeze the clock at the current virtual time."""
        with self._lock:
            if not self._paused:
                self._reanchor_locked(self._now_locked())
                self._paused = True
        self._notify()

    def resume(self) -> None:
        """Let a paused clock run again from where it stopped."""
        with self._lock:
            if self._paused:
                self._paused = False
                self._anchor_real = self._time_source()
        self._notify()

    # ------------------------------------------------------------------ waiting
    async def sleep_until(self, when: datetime) -> None:
        """Wait until the virtual time reaches when: real time scaled by speed; at once under max speed.

        A paused clock holds the sleeper until resumed; pause, resume, jump and speed changes wake
        sleepers so they re-plan.
        """
        when = _aware_utc(when, "sleep_until time")
        while True:
            with self._lock:
                paused = self._paused
                speed = self._speed
                remaining = (when - self._now_locked()).total_seconds()
            if not paused and (speed is None or remaining <= 0):
                return
            real_wait = None if paused else min(remaining / speed, _MAX_REAL_WAIT)  # type: ignore[operator]
            await self._wait_for_change(real_wait)

    async def _wait_for_change(self, real_wait: float | None) -> None:
        """Wait for a state change, or real_wait seconds (None = only a change)."""
        loop = asyncio.get_running_loop()
        changed: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._waiters.add(changed)
        try:
            if real_wait is None:
                await changed
                return
            await first_of(self._sleep(real_wait), changed)
        finally:
            with self._lock:
                self._waiters.discard(changed)

    def _notify(self) -> None:
        """Wake every sleeper (safe from any thread)."""
        with self._lock:
            waiters = list(self._waiters)
        for waiter in waiters:
            try:
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter)
            except RuntimeError:  # its loop has closed: nobody is waiting any more
                continue


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
