"""Tell every open event stream what changed in the store, from one poller shared by all of them.

`PRAGMA data_version` changes only when another connection commits, so an idle store costs one
tiny query per poll; only then are the per-topic fingerprints read and compared. The lock holder
lives in a file, not in the store, and is compared separately. A `clock` topic goes out every few
seconds so ages on the page keep counting while nothing is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.integrity import damage_named, damaged_store
from slob_cli.runtime.lock import current_holder
from slob_cli.runtime.web_views import change_marker

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store

log = logging.getLogger("slob.web")

QUEUE_SIZE = 32


class ChangeWatcher:
    """Poll the store and fan out the names of changed topics to subscribers."""

    def __init__(self, store: Store, db_path: str | os.PathLike[str], poll_interval: float = 0.5,
                 clock_interval: float = 5.0) -> None:
        self.store = store
        self.db_path = db_path
        self.poll_interval = poll_interval
        self.clock_interval = clock_interval
        self.subscribers: set[asyncio.Queue[list[str]]] = set()
        self.version = 0
        self._data_version: int | None = None
        self._marker: dict[str, Any] = {}
        self._holder: Any = None
        self._damage: str | None = None  # SQLite's words for the damage the last poll met, said once

    def poll(self) -> list[str]:
        """Return the topics that changed since the last poll (empty on the first)."""
        changed: list[str] = []
        holder = current_holder(self.db_path)
        data_version = self.store.data_version()
        if data_version != self._data_version:
            marker = change_marker(self.store)  # a store it cannot read: the next poll reads it again
            changed += [topic for topic, value in marker.items() if self._marker.get(topic) != value]
            self._data_version, self._marker = data_version, marker
        if holder != self._holder:
            self._holder = holder
            changed.insert(0, "lock")
        return changed

    def _poll_or_say_why(self) -> list[str]:
        """Return poll(); a store it cannot read gets a warning and no topics (a damaged one: one line, once)."""
        try:
            topics = self.poll()
        except Exception as exc:  # noqa: BLE001 - a busy or briefly unreadable store must not end the stream
            problem = damage_named(exc)
            if problem is None:
                log.warning("could not read the store for changes", exc_info=True)
            elif problem != self._damage:
                log.warning("could not read the store for changes: %s", damaged_store(os.fspath(self.db_path), problem))
            self._damage = problem
            return []
        self._damage = None
        return topics

    async def run(self) -> None:
        """Poll until cancelled; broadcast changes and a periodic `clock` tick."""
        self._poll_or_say_why()  # the baseline: what the page loads first is not news
        loop = asyncio.get_running_loop()
        next_clock = loop.time() + self.clock_interval
        while True:
            await asyncio.sleep(self.poll_interval)
            topics = self._poll_or_say_why()
            if loop.time() >= next_clock:
                topics.append("clock")
                next_clock = loop.time() + self.clock_interval
            if topics:
                self.broadcast(topics)

    def broadcast(self, topics: list[str]) -> None:
        """Queue topics for every subscriber; a subscriber that fell behind is told to reload everything."""
        self.version += 1
        for queue in list(self.subscribers):
            try:
                queue.put_nowait(topics)
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    while True:
                        queue.get_nowait()
                queue.put_nowait(["all"])

    async def stream(self, keepalive: float = 15.0) -> AsyncIterator[str]:
        """Yield server-sent events: `hello` first, then one `change` per batch of topics."""
        queue: asyncio.Queue[list[str]] = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        try:
            yield "retry: 1000\nevent: hello\ndata: {}\n\n"
            while True:
                try:
                    topics = await asyncio.wait_for(queue.get(), keepalive)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                data = json.dumps({"topics": topics, "version": self.version})
                yield f"event: change\ndata: {data}\n\n"
        finally:
            self.subscribers.discard(queue)
