"""One writer thread for the store's writes from the event loop, so the loop never waits on disk.

The loop hands a write over (`submit`, `submit_rows`) and goes on. The thread owns its own
connection to the same file (WAL, so readers are never blocked) and commits everything queued
so far in one transaction, in the order it was queued; runs of rows for the same table go in as
one multi-row INSERT, so SQLite does the work in one call without the GIL (executemany takes the
GIL back for every row, and a busy loop thread makes each such hand-back cost up to the switch
interval).

`flush()` / `await flushed()` is the barrier: it returns once every write queued before it is
committed, and raises the writer's error. The first failure (disk full, ...) rolls its whole
transaction back (nothing half-written), is reported once through `on_error`, and every later
write is refused and counted: nothing is dropped silently.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from slob_cli.adapters.store.instants import add_time_functions
from slob_cli.errors import StoreError

log = logging.getLogger(__name__)
Write = Callable[[sqlite3.Connection], object]
MOST_ROWS = 4096  # rows per INSERT statement (a power of two: every chunk size is one cached statement)


@dataclass(frozen=True, slots=True)
class RowInsert:
    """An `INSERT INTO table(columns)` whose first `fixed` values are shared by every row of a batch.

    `conflict` is an upsert clause (`ON CONFLICT(...) DO ...`) that ends the statement.
    """

    table: str
    columns: tuple[str, ...]
    fixed: int = 0
    conflict: str = ""

    @property
    def width(self) -> int:
        """Return the values per row that differ from row to row."""
        return len(self.columns) - self.fixed


def tune(conn: sqlite3.Connection, writes: bool) -> None:
    """Set what every connection to a store file uses: foreign keys and a 30 s busy wait.

    A connection that writes also commits with synchronous=NORMAL (safe in WAL mode).
    """
    if writes:
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")


def disk_full(path: Path) -> StoreError:
    """Return the one-line error of a write that found the disk full."""
    return StoreError(f"disk full writing {str(path)!r}: nothing of this write was stored")


def read_only(path: Path) -> StoreError:
    """Return the one-line error of a write to a store this process may not write (its mode, a read-only mount)."""
    return StoreError(f"cannot write to database {str(path)!r}: the file is read-only for this user "
                      "(its permissions, or a read-only file system); nothing was written")


def write_error(path: Path, exc: BaseException) -> StoreError | None:
    """Return the one-line StoreError for a failed write to path (None when exc is no SQLite error)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    if "full" in str(exc).lower():
        return disk_full(path)
    return StoreError(f"cannot write to {str(path)!r}: {exc}")


@lru_cache(maxsize=64)
def values_sql(insert: RowInsert, rows: int) -> str:
    """Return the INSERT of `rows` rows: the `fixed` shared values once, then `width` values per row.

    Only anonymous `?` parameters: SQLite looks numbered ones (?NNN) up one by one, which makes
    compiling a statement of thousands of them take seconds.
    """
    values = ",".join(["(" + ",".join("?" * insert.width) + ")"] * rows)
    head = f"INSERT INTO {insert.table}({', '.join(insert.columns)})"
    tail = f" {insert.conflict}" if insert.conflict else ""
    if not insert.fixed:
        return f"{head} VALUES {values}{tail}"
    shared = ",".join("?" * insert.fixed)
    columns = ",".join(f"column{number}" for number in range(1, insert.width + 1))
    where = " WHERE true" if tail else ""  # SQLite's parser needs it between a SELECT and ON CONFLICT
    return f"{head} SELECT {shared},{columns} FROM (VALUES {values}){where}{tail}"


def insert_rows(conn: sqlite3.Connection, insert: RowInsert, fixed: Sequence[Any], values: Sequence[Any]) -> int:
    """Insert the rows whose values lie flat in `values` (`insert.width` per row) in few statements; return rows."""
    width = insert.width
    total = len(values) // width
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    most = MOST_ROWS
    while most > 1 and most * width + insert.fixed > limit:
        most //= 2
    done = 0
    while done < total:
        chunk = min(most, 1 << ((total - done).bit_length() - 1))  # the largest power of two that fits
        conn.execute(values_sql(insert, chunk), (*fixed, *values[done * width:(done + chunk) * width]))
        done += chunk
    return total


class _Rows:
    """Rows queued for one INSERT with the same shared values (merged while they arrive back to back)."""

    __slots__ = ("fixed", "insert", "values")

    def __init__(self, insert: RowInsert, fixed: tuple[Any, ...], values: list[Any]) -> None:
        self.insert, self.fixed, self.values = insert, fixed, values

    def __call__(self, conn: sqlite3.Connection) -> object:
        return insert_rows(conn, self.insert, self.fixed, self.values)


class StoreWriter:
    """A thread that commits queued writes to one SQLite file, in order, one transaction per wake-up."""

    def __init__(self, path: Path, on_error: Callable[[BaseException], None] | None = None,
                 page_limit: int | None = None) -> None:
        self.path = path
        self.on_error = on_error
        self.error: BaseException | None = None
        self.refused = 0  # writes not stored because an earlier one failed
        self.commits = 0
        self.outstanding = 0  # writes queued and not yet committed (or refused)
        self._queue: deque[Write | _Rows | concurrent.futures.Future[None] | None] = deque()
        self._wake = threading.Condition()
        try:
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            tune(self._conn, writes=True)
            add_time_functions(self._conn)  # as the store's own connection has them
            if page_limit is not None:
                self._conn.execute(f"PRAGMA max_page_count={int(page_limit)}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {str(path)!r} for writing: {exc}") from None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="slob-store-writer", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the loop's side
    def submit(self, write: Write) -> None:
        """Queue write(conn), run inside the next transaction."""
        self._put(write)

    def submit_rows(self, insert: RowInsert, fixed: tuple[Any, ...], values: list[Any]) -> None:
        """Queue rows (their values flat in `values`, `insert.width` per row; the list is the writer's now)."""
        if not values:
            return
        with self._wake:
            last = self._queue[-1] if self._queue else None
            if isinstance(last, _Rows) and last.insert is insert and last.fixed == fixed:
                last.values.extend(values)  # not yet taken by the thread: merge into one statement
                return
        self._put(_Rows(insert, fixed, values))

    def _put(self, item: Write | _Rows | concurrent.futures.Future[None] | None) -> None:
        if self._closed:
            raise StoreError(f"the writer of {str(self.path)!r} is closed")
        with self._wake:
            self._queue.append(item)
            if item is not None and not isinstance(item, concurrent.futures.Future):
                self.outstanding += 1
            self._wake.notify()

    def barrier(self) -> concurrent.futures.Future[None]:
        """Return a future done once every write queued so far is committed (or refused)."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._put(future)
        return future

    def flush(self) -> None:
        """Wait until every write queued so far is committed; raise the writer's error."""
        if self._thread.is_alive():
            self.barrier().result()
        self.raise_error()

    async def flushed(self) -> None:
        """Await (without blocking the loop) every write queued so far; raise the writer's error."""
        import asyncio  # only a session awaits the writer: a command that reads never loads asyncio

        await asyncio.wrap_future(self.barrier())
        self.raise_error()

    def raise_error(self) -> None:
        """Raise the first failure, if any."""
        if self.error is not None:
            raise self.error

    @property
    def pending(self) -> int:
        """Return how many items wait for the thread."""
        return len(self._queue)

    def close(self) -> None:
        """Commit what is queued, stop the thread and close its connection (errors stay in `error`)."""
        if self._closed:
            return
        self._put(None)
        self._closed = True
        self._thread.join()
        self._conn.close()
        if self.refused:
            log.error("%d writes to %s were not stored after: %s", self.refused, self.path, self.error)

    # ------------------------------------------------------------------ the thread's side
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                items = list(self._queue)
                self._queue.clear()
            writes = [item for item in items if item is not None and not isinstance(item, concurrent.futures.Future)]
            if writes:
                self._commit(writes)
                with self._wake:
                    self.outstanding -= len(writes)
            for item in items:
                if isinstance(item, concurrent.futures.Future):
                    try:
                        item.set_result(None)
                    except concurrent.futures.InvalidStateError:
                        pass  # its waiter was cancelled (asyncio.wrap_future cancels it too): nobody to tell
            if any(item is None for item in items):
                return

    def _commit(self, writes: list[Write | _Rows]) -> None:
        if self.error is not None:
            self.refused += len(writes)
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for write in writes:
                write(conn)
            conn.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:  # noqa: BLE001 - any failure is the owner's to report
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")  # nothing of this transaction stays half-written
            except sqlite3.Error:
                pass  # SQLite rolled back by itself
            self.error = write_error(self.path, exc) or exc
            self.refused += len(writes)
            if self.on_error is not None:  # the owner reports it, once
                self.on_error(self.error)
