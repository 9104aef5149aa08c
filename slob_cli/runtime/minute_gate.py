"""The minute gate: history fills the minutes a (re)start or a reconnect missed, live data the rest.

A live bar of the minute the engine started (or reconnected) in, and of a minute cut by a lost
connection, is partial: the ticks before the subscription never reached us. The gate discards
those live bars, holds the live bars that close after them, and lets the engine fetch the missed
minutes from history once they are over; then the history bars go to the tracker first and the held
live bars after them, so the tracker sees every minute once, in order, and never a partial bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slob_cli.core.models import Candle, floor_minute

ONE_MINUTE = timedelta(minutes=1)


def first_whole_minute(now: datetime) -> datetime:
    """Return the first minute whose every tick a subscription made at `now` receives."""
    minute = floor_minute(now)
    return minute if now == minute else minute + ONE_MINUTE


@dataclass
class MinuteGate:
    """Which live candles the engine may use while history fills the minutes it missed."""

    history_through: datetime | None = None  # live bars of this minute or earlier are partial: dropped
    fill_from: datetime | None = None  # first minute the pending backfill fetches (None: nothing pending)
    held: list[Candle] = field(default_factory=list)
    discarded: int = 0

    @property
    def pending(self) -> bool:
        """Return True while a backfill is due: live bars are held, the tracker's clock waits."""
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

    def _extend(self, start: datetime, through: datetime) -> None:
        self.fill_from = start if self.fill_from is None else min(self.fill_from, start)
        self.history_through = through if self.history_through is None else max(self.history_through, through)

    def admit(self, candle: Candle) -> bool:
        """Return True when a live bar may go to the tracker now; else it is dropped or held."""
        if self.history_through is not None and candle.ts <= self.history_through:
            self.discarded += 1
            return False
        if self.pending:
            self.held.append(candle)
            return False
        return True

    def release(self) -> list[Candle]:
        """End the pending backfill; return the held live bars that follow the history, oldest first."""
        held, self.held = self.held, []
        self.fill_from = None
        through = self.history_through
        return [candle for candle in held if through is None or candle.ts > through]
