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


# Learning a gateway's pace from its trades (FollowedClock(learn_pace=True)). A trade told at real time r
# with time m, and an earlier one (r0, m0), say the gateway ran (m - m0) / (r - r0) times real time; but the
# trades' times are whole seconds and the newest trade lags the gateway's time by the pause before it. So
# PACE_SLACK is taken off m - m0, the estimate is the lowest from two or more earlier trades (a base that
# lagged reads too fast), each at least PACE_BASELINE real seconds back: the clock runs a little slower
# than the gateway, never ahead of it, and catch_up closes the difference at each trade told.
PACE_SLACK = 2.0  # gateway seconds
PACE_BASELINE = 0.5  # real seconds
PACE_BASES = 16  # earlier trades kept as bases, one per PACE_BASELINE real seconds at most


class FollowedClock:
    """A clock running `speed` times real time that follows a simulated gateway's virtual clock.

    It starts on the wall clock; the IB connection moves it onto the gateway's time with
    `adjust(skew)` each time it measures a skew of more than a second (on every connect).
    With `learn_pace` (`record`, whose gateway may run at any `--speed`), the trades it is told of
    (`catch_up`) also teach it the gateway's pace: between them it runs at that pace, never slower than
    `speed` (a gateway at real time, or a real one, which never calls catch_up, keeps it at `speed`).
    """

    def __init__(self, speed: float, time_source: Callable[[], float] = time.monotonic,
                 simulated_only: bool = False, learn_pace: bool = False) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self.speed = speed
        self.pace = speed  # gateway seconds per real second between corrections (learned, with learn_pace)
        # Follow only a gateway that says it is the simulated one (`record`): a real gateway's skew leaves it alone.
        self.simulated_only = simulated_only
        self.learn_pace = learn_pace
        self._time_source = time_source
        self._anchor_real = time_source()
        self._anchor = datetime.now(UTC)
        self._bases: list[tuple[float, datetime]] = []  # trades told since the last adjust: (real time, their time)
        self._newest: datetime | None = None  # the newest trade told: an older one teaches nothing
        self.shifted = timedelta(0)  # every adjust so far: a time read before it plus this is on the new footing

    @classmethod
    def for_record(cls) -> FollowedClock:
        """Return `slob record`'s clock: the wall clock until a simulated gateway answers, then its time and pace."""
        return cls(1.0, simulated_only=True, learn_pace=True)

    def now(self) -> datetime:
        """Return the followed time: the anchor plus the real time since, times the pace."""
        return self._anchor + timedelta(seconds=(self._time_source() - self._anchor_real) * self.pace)

    def adjust(self, skew_seconds: float) -> None:
        """Move the clock by skew_seconds (the gateway's time minus ours) and keep running (at the pace learned)."""
        current = self.now()
        self._anchor_real = self._time_source()
        self._anchor = current + timedelta(seconds=skew_seconds)
        self.shifted += timedelta(seconds=skew_seconds)
        self._bases = []  # trades told before the jump (and the newest then) are no base for the next

    def catch_up(self, moment: datetime) -> None:
        """Run on from `moment` when the gateway's time got ahead of ours: time passed, the footing is the same.

        With learn_pace, each newer trade told also measures the gateway's pace since earlier ones (the
        module's PACE_* notes); the clock then runs on at it from where it is (never backwards).
        """
        real = self._time_source()
        if self.learn_pace:
            self._learn(real, moment)
        if moment > self.now():
            self._anchor_real = real
            self._anchor = moment

    def _learn(self, real: float, moment: datetime) -> None:
        if self._newest is not None and moment <= self._newest:
            return  # no newer trade (a pause, an outage, the feed's old high water after a reconnect)
        self._newest = moment
        estimates = [((moment - then).total_seconds() - PACE_SLACK) / (real - told)
                     for told, then in self._bases if real - told >= PACE_BASELINE]
        if not self._bases or real - self._bases[-1][0] >= PACE_BASELINE:
            self._bases = [*self._bases[1 - PACE_BASES:], (real, moment)]
        if len(estimates) >= 2:  # never from one base alone: the first trade told may have lagged
            pace = max(self.speed, min(estimates))
            if pace != self.pace:
                self._anchor, self._anchor_real = self.now(), real  # a new pace from here: no jump
                self.pace = pace


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
