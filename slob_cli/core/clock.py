"""The clock seam: what a clock is. core/ never reads the time; implementations live outside.

`adapters/clock.SystemClock` reads the wall clock; `runtime/clock.py` adds the clocks tests,
replays and the simulated gateway drive (`ManualClock`, `FollowedClock`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current UTC time."""

    def now(self) -> datetime:
        """Return the current aware UTC datetime."""
        ...
