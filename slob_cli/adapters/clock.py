"""The wall clock: reading the time is touching the world, so it lives with the adapters."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


class SystemClock:
    """The wall clock (a `core.clock.Clock`)."""

    def now(self) -> datetime:
        """Return the wall-clock time in UTC."""
        return datetime.now(UTC)
