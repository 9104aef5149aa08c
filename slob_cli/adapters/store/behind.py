"""Write-behind: a command's writes run on a thread with a connection of its own while the command computes on.

SQLite does the writing (B-trees, commits, checkpoints) without Python's lock, so on a second core
it overlaps the caller's reads and computing. Each queued write is one transaction: all of it is
stored, or none. The caller waits only when `depth` writes are queued (memory stays bounded) and
at `close()`, which waits for every queued write. The first failure rolls its transaction back and
stops the writes: the writes queued after it are not run, and `submit`/`close` raise it. Nothing
is dropped silently.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slob_cli.adapters.store.db import Store

StoreWrite = Callable[["Store"], object]
# While the thread runs, the caller hands Python's lock over this soon (CPython's default is 5 ms):
# the caller gives it up for every SQLite step of its reads, and waited up to that long to get it
# back from the thread, which cost `setups track` about twice its reference-window reads.
SWITCH_INTERVAL = 0.0002


class WriteBehind:
    """Run queued writes in order, each in one transaction of `store` (its own connection), on a thread.

    Before the first write the thread calls `ready()` (the file's integrity verdict): a failure there
    is the first failure. The thread closes `store` when it ends.
    """

    def __init__(self, store: Store, ready: Callable[[], None] | None = None, depth: int = 2) -> None:
        self._store = store
        self._ready = ready
        self._queue: queue.Queue[StoreWrite | None] = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="slob-write-behind", daemon=True)
        self._thread.start()
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))

    def submit(self, write: StoreWrite) -> None:
        """Queue write(store), run in a transaction of its own after the writes queued before; raise an earlier failure."""
        self.raise_error()
        self._queue.put(write)

    def close(self) -> None:
        """Wait for every queued write (or the first failure) and end the thread; raise the failure."""
        if not self._closed:
            self._closed = True
            try:
                self._queue.put(None)
                self._thread.join()
            finally:
                sys.setswitchinterval(self._interval)
        self.raise_error()

    def raise_error(self) -> None:
        """Raise the first failure, if any."""
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        store = self._store
        try:
            if self._ready is not None:
                self._ready()
            while (write := self._queue.get()) is not None:
                with store.batch():
                    write(store)
            store.checkpoint()  # while the caller finishes: its closing connection has little left to copy
        except BaseException as exc:  # noqa: BLE001 - the caller's to raise
            self.error = exc
            while self._queue.get() is not None:  # refuse what is still queued, so no submit waits forever
                pass
        finally:
            store.close()
