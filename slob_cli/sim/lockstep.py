"""Lockstep virtual time: the gateway's clock moves one step only when every following client asks.

In lockstep mode a client that sends reqCurrentTime becomes a *follower* (that first question is
answered at once: joining does not move time). The clock stands still until every connected
follower has asked again; then the server serves one step of market (ticks,
fills), moves the clock to the step's end and answers each follower with currentTime. TCP keeps
each connection in order, so when a follower reads the answer it has read everything the step
produced, and when the server reads the next question it has handled every order the follower
sent before it. Transport and scheduling latency therefore never becomes simulated time, and the
speed only paces the steps (at most `speed` x real time; None = as fast as the followers go).

Steps end at the earliest of: the next point of the decision grid (every whole minute plus the
candle grace, when a quiet minute closes), the grid point or one second after the first trade of
a new minute, whichever is later (that trade closes the previous candle), and one second after a
trade that filled an order (the engine sees the fill in the second it happened). The steps depend
only on the data, so every speed serves the same steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slob_cli.sim.market import MarketTick
    from slob_cli.sim.session import ClientSession

UTC = timezone.utc
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def floor_second(when: datetime) -> datetime:
    """Return when without its fraction of a second."""
    return when.replace(microsecond=0)


def floor_minute(when: datetime) -> datetime:
    """Return when without seconds."""
    return when.replace(second=0, microsecond=0)


def next_grid_point(after: datetime, offset: timedelta) -> datetime:
    """Return the first instant strictly after `after` that is a whole minute plus offset."""
    point = floor_minute(after) + offset
    while point <= after:
        point += MINUTE
    return point


@dataclass
class ServedTicks:
    """What the gateway served to streaming clients: a count, and every trade when asked to keep them."""

    keep: bool = False
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    ticks: list[tuple[datetime, float, float]] = field(default_factory=list)

    def add(self, ticks: list[MarketTick]) -> None:
        """Count (and keep) a batch of trades delivered to the clients."""
        if not ticks:
            return
        self.count += len(ticks)
        self.first = self.first or ticks[0].ts
        self.last = ticks[-1].ts
        if self.keep:
            self.ticks.extend((tick.ts, tick.price, float(tick.size)) for tick in ticks)

    def as_dict(self) -> dict[str, object]:
        """Return the figures (times in ISO-8601 UTC)."""
        return {"count": self.count, "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None}


class Lockstep:
    """The followers of a lockstep gateway, their pending questions, and the pacing of steps."""

    def __init__(self, speed: float | None, *, grace: timedelta = timedelta(seconds=2),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"lockstep speed must be positive or None (max), got {speed!r}")
        self.speed = speed
        self.grace = grace
        self.steps = 0
        self._monotonic = monotonic
        self._followers: set[ClientSession] = set()
        self._asking: set[ClientSession] = set()
        self._pace_anchor: tuple[float, datetime] | None = None
        self._last_minute: datetime | None = None

    # ------------------------------------------------------------------ followers
    def ask(self, session: ClientSession) -> bool:
        """Note a reqCurrentTime; return False when it made the client a follower (answer at once, no step).

        A follower's later questions mean: it has handled everything it was sent; step on.
        """
        if session not in self._followers:
            self._followers.add(session)
            return False
        self._asking.add(session)
        return True

    def forget(self, session: ClientSession) -> None:
        """Drop a follower that disconnected (the clock waits only for connected followers)."""
        self._followers.discard(session)
        self._asking.discard(session)

    @property
    def followers(self) -> int:
        """Return how many followers are connected."""
        return sum(1 for session in self._followers if not session.closed)

    def ready(self) -> bool:
        """Return True when at least one follower is connected and every one of them has asked."""
        live = {session for session in self._followers if not session.closed}
        self._followers &= live
        self._asking &= live
        return bool(live) and self._asking == live

    def answered(self) -> list[ClientSession]:
        """Return the followers to answer after a step, and clear their questions."""
        asking, self._asking = sorted(self._asking, key=lambda s: s.client_id or 0), set()
        return asking

    # ------------------------------------------------------------------ steps
    def step_end(self, start: datetime) -> datetime:
        """Return where the step starting at `start` ends at the latest (the next grid point)."""
        return next_grid_point(start, self.grace)

    def cut(self, tick: MarketTick, filled: bool) -> datetime | None:
        """Return an earlier step end after this trade (a new minute, or a fill), else None."""
        minute = floor_minute(tick.ts)
        new_minute = self._last_minute is not None and minute > self._last_minute
        self._last_minute = minute if self._last_minute is None else max(self._last_minute, minute)
        if filled:
            return floor_second(tick.ts) + SECOND
        if new_minute:  # the trade that closes a candle: the engine reacts by the grace at the latest
            return max(floor_second(tick.ts) + SECOND, minute + self.grace)
        return None

    def pause_for(self, virtual_end: datetime) -> float:
        """Return real seconds to wait before the clock may show virtual_end (0 at max speed)."""
        now = self._monotonic()
        if self.speed is None:
            return 0.0
        if self._pace_anchor is None:
            self._pace_anchor = (now, virtual_end)
            return 0.0
        real, virtual = self._pace_anchor
        due = real + (virtual_end - virtual).total_seconds() / self.speed
        return max(0.0, due - now)

    def reset_pace(self) -> None:
        """Forget the pacing anchor (after a pause or a jump)."""
        self._pace_anchor = None
