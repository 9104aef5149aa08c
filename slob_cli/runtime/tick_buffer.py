"""Bounded tick buffer between the feed and the aggregator: drop-oldest on overflow, TTL eviction.

Drops are never silent: each one is counted, reported through `on_drop(symbol, ts, count)` (wire
it to `M1Aggregator.note_dropped` so the candle of that minute carries the count), and logged
once per burst: a warning when a burst starts, a summary when the buffer has recovered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from slob_cli.core.models import Tick
from slob_cli.runtime.clock import Clock, SystemClock

log = logging.getLogger("slob.buffer")

DropCallback = Callable[[str, datetime, int], None]
Consumer = Callable[[Tick], Awaitable[None] | None]


class TickBuffer:
    """An asyncio FIFO of ticks with a size bound (drop oldest) and a time-to-live (drop stale)."""

    def __init__(
        self,
        maxsize: int = 10_000,
        ttl_seconds: float = 60.0,
        clock: Clock | None = None,
        on_drop: DropCallback | None = None,
    ) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be positive")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.maxsize = maxsize
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock: Clock = clock or SystemClock()
        self.on_drop = on_drop
        self._items: deque[tuple[datetime, Tick]] = deque()
        self._nonempty = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._enqueued = 0
        self._dequeued = 0
        self._dropped_overflow = 0
        self._dropped_expired = 0
        self._burst = 0
        self._high_water = 0
        self._flush_task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ in and out
    def enqueue(self, tick: Tick) -> bool:
        """Add a tick; return False when the oldest tick had to be dropped to make room."""
        items = self._items
        accepted = True
        if len(items) >= self.maxsize:
            _, oldest = items.popleft()
            self._dropped_overflow += 1
            self._drop(oldest, "buffer full")
            accepted = False
        items.append((self.clock.now(), tick))
        self._enqueued += 1
        if len(items) > self._high_water:
            self._high_water = len(items)
        self._nonempty.set()
        return accepted

    def dequeue_nowait(self) -> Tick | None:
        """Return the oldest fresh tick, or None when there is none."""
        self.evict_expired()
        if not self._items:
            self._end_burst()
            return None
        _, tick = self._items.popleft()
        self._dequeued += 1
        if self._burst and len(self._items) <= self.maxsize // 2:
            self._end_burst()
        return tick

    async def dequeue(self, timeout: float | None = None) -> Tick | None:
        """Wait up to timeout seconds (None: forever) for a fresh tick; return None on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # An asyncio.Event belongs to the first loop that waits on it; a buffer reused under a
            # new loop (a second asyncio.run) needs a fresh one.
            self._loop, self._nonempty = loop, asyncio.Event()
        while True:
            tick = self.dequeue_nowait()
            if tick is not None:
                return tick
            self._nonempty.clear()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:
                await asyncio.wait_for(self._nonempty.wait(), remaining)
            except TimeoutError:
                return None

    def evict_expired(self) -> int:
        """Drop ticks that waited longer than the TTL; return how many."""
        items = self._items
        if not items:
            return 0
        cutoff = self.clock.now() - self.ttl
        evicted = 0
        while items and items[0][0] <= cutoff:
            _, tick = items.popleft()
            evicted += 1
            self._dropped_expired += 1
            self._drop(tick, "older than the TTL")
        return evicted

    def _drop(self, tick: Tick, reason: str) -> None:
        if self._burst == 0:
            log.warning("tick buffer dropping ticks (%s; %d queued)", reason, len(self._items))
        self._burst += 1
        if self.on_drop is not None:
            self.on_drop(tick.symbol, tick.ts, 1)

    def _end_burst(self) -> None:
        if self._burst:
            log.warning("tick buffer recovered after dropping %d ticks", self._burst)
            self._burst = 0

    # ------------------------------------------------------------------ background flushing
    def start_auto_flush(self, consumer: Consumer, poll_seconds: float = 0.5) -> asyncio.Task[None]:
        """Start a task that hands every tick to consumer as it arrives; return it."""
        if self._flush_task is not None and not self._flush_task.done():
            raise RuntimeError("auto_flush is already running")
        self._stopping = False
        self._flush_task = asyncio.get_running_loop().create_task(
            self.auto_flush(consumer, poll_seconds), name="tick-buffer-flush"
        )
        return self._flush_task

    async def auto_flush(self, consumer: Consumer, poll_seconds: float = 0.5) -> None:
        """Hand ticks to consumer until stopped; wake at least every poll_seconds to evict stale ticks."""
        while not (self._stopping and not self._items):
            tick = await self.dequeue(timeout=poll_seconds)
            while tick is not None:
                result = consumer(tick)
                if inspect.isawaitable(result):
                    await result
                tick = self.dequeue_nowait()
            if self._stopping:
                return

    async def stop_auto_flush(self, timeout: float = 5.0) -> int:
        """Let the flusher drain what is queued (up to timeout seconds), stop it; return ticks left."""
        task = self._flush_task
        if task is None:
            return len(self._items)
        self._stopping = True
        self._nonempty.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            log.warning("tick buffer flush cancelled with %d ticks queued", len(self._items))
        try:
            await task
        except asyncio.CancelledError:
            pass
        self._flush_task = None
        return len(self._items)

    # ------------------------------------------------------------------ introspection
    def __len__(self) -> int:
        return len(self._items)

    def utilization(self) -> float:
        """Return the fill level, 0.0 (empty) to 1.0 (full)."""
        return len(self._items) / self.maxsize

    def get_stats(self) -> dict[str, Any]:
        """Return counters: queued, enqueued, dequeued, dropped (overflow, expired), high water."""
        return {
            "queued": len(self._items),
            "maxsize": self.maxsize,
            "utilization": self.utilization(),
            "enqueued": self._enqueued,
            "dequeued": self._dequeued,
            "dropped_overflow": self._dropped_overflow,
            "dropped_expired": self._dropped_expired,
            "dropped": self._dropped_overflow + self._dropped_expired,
            "high_water": self._high_water,
        }
