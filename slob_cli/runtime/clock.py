"""The clocks runtime/ wires: the wall clock, and the ones tests, replays and the sim drive.

The protocol is `core.clock.Clock`; the wall clock is `adapters.clock.SystemClock`. Both are
re-exported here so wiring code finds every clock in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from slob_cli.adapters.clock import SystemClock
from slob_cli.core.clock import Clock

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store

UTC = timezone.utc
__all__ = ["Clock", "FollowedClock", "ManualClock", "SystemClock", "on_clock_footing", "rebase_run_start"]


def on_clock_footing(clock: Clock, when: datetime, shifted_before: timedelta) -> datetime:
    """Return `when`, read before a followed clock jumped onto a gateway's time, on the clock's new footing."""
    return when + getattr(clock, "shifted", timedelta(0)) - shifted_before


def rebase_run_start(store: Store, run_id: int | None, clock: Clock, shifted_before: timedelta) -> timedelta:
    """Move a running run's stored start as far as its followed clock moved since `shifted_before`; return the new shift.

    A connection hook: a followed clock that jumped onto a gateway's time takes the run's start with it at once.
    """
    shifted = getattr(clock, "shifted", timedelta(0))
    if shifted != shifted_before and run_id is not None:
        store.shift_run_start(run_id, shifted - shifted_before)
    return shifted


class ManualClock:
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the clock's current time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move the clock to `when` (never backwards)."""
        when = when.astimezone(UTC)
        if when < self._now:
            raise ValueError("ManualClock cannot go backwards")
        self._now = when

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by delta and return the new time."""
        self.set(self._now + delta)
        return self._now


class FollowedClock:
    """A clock running `speed` times real time that follows a simulated gateway's virtual clock.

    It starts on the wall clock; the IB connection moves it onto the gateway's time with
    `adjust(skew)` each time it measures a skew of more than a second (on every connect).
    """

    def __init__(self, speed: float, time_source: Callable[[], float] = time.monotonic,
                 simulated_only: bool = False) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = speed
        # Follow only a gateway that says it is the simulated one (`record`): a real gateway's skew leaves it alone.
        self.simulated_only = simulated_only
        self._time_source = time_source
        self._anchor_real = time_source()
        self._anchor = datetime.now(UTC)
        self.shifted = timedelta(0)  # every adjust so far: a time read before it plus this is on the new footing

    def now(self) -> datetime:
        """Return the followed time: the anchor plus the real time since, times the speed."""
        return self._anchor + timedelta(seconds=(self._time_source() - self._anchor_real) * self.speed)

    def adjust(self, skew_seconds: float) -> None:
        """Move the clock by skew_seconds (the gateway's time minus ours) and keep running."""
        current = self.now()
        self._anchor_real = self._time_source()
        self._anchor = current + timedelta(seconds=skew_seconds)
        self.shifted += timedelta(seconds=skew_seconds)

    def catch_up(self, moment: datetime) -> None:
        """Run on from `moment` when the gateway's time got ahead of ours: time passed, the footing is the same."""
        if moment > self.now():
            self._anchor_real = self._time_source()
            self._anchor = moment


class SteppedClock:
    """The time a lockstep simulated gateway last answered (`slob trade --lockstep`): it moves only by steps.

    It starts on the wall clock; the first answer (the skew measured on connect) puts it on the
    gateway's time, and every step's answer moves it on (`step_to`).
    """

    def __init__(self) -> None:
        self._now = datetime.now(UTC).replace(microsecond=0)
        self.shifted = timedelta(0)  # every adjust so far (FollowedClock.shifted)

    def now(self) -> datetime:
        """Return the time of the last step."""
        return self._now

    def adjust(self, skew_seconds: float) -> None:
        """Move onto the gateway's time (the connection measures the skew on every connect)."""
        self._now += timedelta(seconds=round(skew_seconds))
        self.shifted += timedelta(seconds=round(skew_seconds))

    def step_to(self, when: datetime) -> None:
        """Take the time of a step's answer (never backwards)."""
        when = when.astimezone(UTC)
        if when > self._now:
            self._now = when
