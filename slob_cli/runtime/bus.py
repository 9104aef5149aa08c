"""The event bus: typed events, several sync or async handlers per type, delivered in emission order.

One dispatcher task delivers events one at a time, in the order they were emitted, to every
handler of the event's type (then to the handlers subscribed to all events). A handler that
raises is logged and counted; the other handlers still get the event. Handlers must be quick
(never block the loop): slow work belongs behind a queue of its own.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slob_cli.runtime.events import Event, EventType

log = logging.getLogger("slob.bus")

Handler = Callable[[Event], Awaitable[None] | None]


class EventBus:
    """Publish/subscribe hub owned by the runtime; use `async with EventBus() as bus:` or start/stop."""

    def __init__(self, history_size: int = 1_000) -> None:
        self._handlers: dict[EventType | None, list[Handler]] = {}
        self._queue: deque[tuple[Event, asyncio.Future[None] | None]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._history: deque[Event] | None = deque(maxlen=history_size) if history_size > 0 else None
        self._emitted: Counter[str] = Counter()
        self._delivered = 0
        self._handler_errors = 0
        self._failed_handlers: Counter[str] = Counter()
        self._max_depth = 0

    # ------------------------------------------------------------------ subscribing
    def subscribe(self, event_type: EventType | None, handler: Handler) -> Callable[[], None]:
        """Call handler for every event of event_type (None: every event); return an unsubscribe."""
        self._handlers.setdefault(event_type, []).append(handler)
        return lambda: self.unsubscribe(event_type, handler)

    def unsubscribe(self, event_type: EventType | None, handler: Handler) -> None:
        """Stop calling handler for event_type (no error if it was not subscribed)."""
        handlers = self._handlers.get(event_type, [])
        if handler in handlers:
            handlers.remove(handler)

    def handler_count(self, event_type: EventType | None) -> int:
        """Return how many handlers listen to event_type."""
        return len(self._handlers.get(event_type, []))

    # ------------------------------------------------------------------ publishing
    def emit(self, event: Event | EventType, payload: Any = None, ts: datetime | None = None) -> None:
        """Queue an event for delivery and return at once (call from the loop's thread)."""
        self._put(self._make(event, payload, ts), None)

    async def emit_and_wait(self, event: Event | EventType, payload: Any = None, ts: datetime | None = None) -> None:
        """Queue an event and return once every handler has had it (and every earlier event)."""
        if self._task is not None and asyncio.current_task() is self._task:
            raise RuntimeError("emit_and_wait from inside a bus handler would deadlock; use emit")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(self._make(event, payload, ts), done)
        await done

    async def drain(self) -> None:
        """Return once every event emitted so far has been delivered."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((_DRAIN, done))
        self._ensure_started()
        await done

    @staticmethod
    def _make(event: Event | EventType, payload: Any, ts: datetime | None) -> Event:
        return event if isinstance(event, Event) else Event(EventType(event), payload, ts)

    def _put(self, event: Event, done: asyncio.Future[None] | None) -> None:
        self._emitted[event.type.value] += 1
        if self._history is not None:
            self._history.append(event)
        if done is None and not self._handlers.get(event.type) and not self._handlers.get(None):
            return  # nobody listens (e.g. ticks in a replay): skip the queue, order is moot
        self._queue.append((event, done))
        self._max_depth = max(self._max_depth, len(self._queue))
        self._ensure_started()

    # ------------------------------------------------------------------ lifecycle
    def _ensure_started(self) -> None:
        if self._task is None or self._task.done():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: events wait in the queue until start()
            self.start()
        if self._wakeup is not None:
            self._wakeup.set()

    def start(self) -> None:
        """Start the dispatcher task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._wakeup = asyncio.Event()
            if self._queue:
                self._wakeup.set()
            self._task = asyncio.get_running_loop().create_task(self._dispatch(), name="event-bus")

    async def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to timeout seconds), then stop the dispatcher."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.warning("event bus stopped with %d undelivered events", len(self._queue))
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def __aenter__(self) -> EventBus:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _dispatch(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                event, done = self._queue.popleft()
                if event is not _DRAIN:
                    await self._deliver(event)
                if done is not None and not done.done():
                    done.set_result(None)

    async def _deliver(self, event: Event) -> None:
        handlers = self._handlers.get(event.type, [])
        catch_all = self._handlers.get(None)
        for handler in (handlers + catch_all) if catch_all else tuple(handlers):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - one failing handler must not starve the others
                self._handler_errors += 1
                name = getattr(handler, "__qualname__", repr(handler))
                self._failed_handlers[name] += 1
                if self._failed_handlers[name] == 1:
                    log.exception("event handler %s failed on %s", name, event.type.value)
                else:
                    log.error("event handler %s failed on %s (failure %d)", name, event.type.value,
                              self._failed_handlers[name])
            else:
                self._delivered += 1

    # ------------------------------------------------------------------ introspection
    def history(self, event_type: EventType | None = None) -> list[Event]:
        """Return the remembered events (oldest first), optionally of one type."""
        if self._history is None:
            return []
        return [e for e in self._history if event_type is None or e.type is event_type]

    def get_stats(self) -> dict[str, Any]:
        """Return counts: emitted per type, deliveries, handler errors, queue depth."""
        return {
            "emitted": sum(self._emitted.values()),
            "emitted_by_type": dict(self._emitted),
            "delivered": self._delivered,
            "handler_errors": self._handler_errors,
            "failed_handlers": dict(self._failed_handlers),
            "queue_depth": len(self._queue),
            "max_queue_depth": self._max_depth,
            "history_size": len(self._history) if self._history is not None else 0,
        }


_DRAIN = Event(EventType.HEALTH, "drain marker")
