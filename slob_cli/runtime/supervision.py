"""What every long-running session shares: a stop event, the first fatal error, guarded tasks."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from slob_cli.errors import SlobError
from slob_cli.runtime.events import EventType
from slob_cli.runtime.lock import pulse

log = logging.getLogger(__name__)

# Connection events of the IB adapter that are also published on the bus.
IB_BUS_EVENTS = {
    "IB_CONNECTED": EventType.CONNECTED,
    "IB_RECONNECTED": EventType.CONNECTED,
    "IB_DISCONNECTED": EventType.DISCONNECTED,
    "SAFE_MODE_ENTERED": EventType.SAFE_MODE_ENTERED,
    "TICKS_DROPPED": EventType.TICKS_DROPPED,
}


class Supervised:
    """Mixin for a session whose tasks run in one TaskGroup and stop together."""

    def __init__(self) -> None:
        self.stop_event = asyncio.Event()
        self.fatal: SlobError | None = None

    def stop(self) -> None:
        """Ask the session to stop (safe to call from a signal handler on the loop)."""
        self.stop_event.set()

    def failed_from_thread(self) -> Callable[[BaseException], None]:
        """Return a callback, safe from any thread (the store's writer), that stops the session on a failure.

        An expected failure (SlobError: a full disk) becomes the verdict, as in `_guard`; the writer
        raises anything else again when its block ends.
        """
        loop = asyncio.get_running_loop()

        def failed(exc: BaseException) -> None:
            if isinstance(exc, SlobError):
                self.fatal = self.fatal or exc
            self.stop_event.set()

        def from_thread(exc: BaseException) -> None:
            loop.call_soon_threadsafe(failed, exc)

        return from_thread

    async def _guard(self, work: Awaitable[Any]) -> None:
        """Await one task; an expected failure (SlobError) is kept as the verdict and stops the rest."""
        try:
            await work
        except SlobError as exc:
            log.error("%s", exc)
            self.fatal = self.fatal or exc
            self.stop_event.set()

    async def _show_life(self, db_path: str | os.PathLike[str], interval: float, beat: Callable[[bool], None]) -> None:
        """Pulse the lock record now and every `interval` real seconds until stopped, each pulse then `beat(stopping)`.

        The first pulse stops the lock's start pulse: this loop shows life from now on (lock.pulse). The
        pulse is real time, how `status` judges a session on a simulated clock; `beat` writes the health
        row (on the session's clock), told whether the session is stopping (the loop's last beat).
        """
        pulse(db_path)
        while not self.stop_event.is_set():
            await self._wait_stop(interval)
            pulse(db_path)
            beat(self.stop_event.is_set())

    async def _wait_stop(self, seconds: float) -> None:
        """Wait up to `seconds`, returning early when the session is asked to stop."""
        try:
            await asyncio.wait_for(self.stop_event.wait(), seconds)
        except (asyncio.TimeoutError, TimeoutError):
            pass
