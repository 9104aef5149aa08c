"""Store: one SQLite file in WAL mode, opened and migrated once, shared by every command."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.behind import StoreWrite, WriteBehind
from slob_cli.adapters.store.days import TradingDays
from slob_cli.adapters.store.instants import add_time_functions
from slob_cli.adapters.store.instants import from_iso as from_iso  # re-exported: the store's time helpers
from slob_cli.adapters.store.instants import from_us as from_us
from slob_cli.adapters.store.instants import to_iso as to_iso
from slob_cli.adapters.store.instants import to_us as to_us
from slob_cli.adapters.store.integrity import BackgroundCheck, damaged_store, quick_check_problem, read_only_uri
from slob_cli.adapters.store.queries import ReadQueries
from slob_cli.adapters.store.rows import CANDLE_INSERT, CANDLE_ROWS, candle_row, row_candle
from slob_cli.adapters.store.scans import Scans
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS, MIGRATIONS, SCHEMA_VERSION
from slob_cli.adapters.store.views import ViewQueries
from slob_cli.adapters.store.writer import RowInsert, StoreWriter, Write, disk_full, insert_rows, read_only, tune
from slob_cli.core.models import Candle, PriceBar, Tick
from slob_cli.errors import StoreError, StoreMissing, StoreNeedsMigration

if TYPE_CHECKING:
    import pandas as pd


def _import_sqlite_utils():  # noqa: ANN202
    """Import sqlite-utils without letting it pull in pandas.

    sqlite-utils imports pandas only to map pandas column types, which slob never hands it; that
    import alone costs about 60 MB of RSS and 0.4 s of start-up in every command and in the
    long-running engine. Commands that need pandas still import it themselves.
    """
    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        import sqlite_utils as module

        return module
    sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` now raises ImportError
    try:
        import sqlite_utils as module
    finally:
        del sys.modules["pandas"]
    return module


_CANDLE_UPSERT = (
    CANDLE_INSERT + " ON CONFLICT(symbol, ts) DO UPDATE SET open=excluded.open, high=excluded.high,"
    " low=excluded.low, close=excluded.close, volume=excluded.volume,"
    " tick_count=excluded.tick_count, dropped_ticks=excluded.dropped_ticks,"
    " source=excluded.source, local_symbol=coalesce(excluded.local_symbol, candles.local_symbol)"
)
# An imported candle equal to the stored one leaves it as it is (its source too): only a change counts.
# Its counts are compared only when the file gave them (tick_count -1: unknown), so a file of bare
# OHLCV bars never wipes the known counts of the same bars.
_CANDLE_IMPORT = _CANDLE_UPSERT + (
    " WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume)"
    " IS NOT (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume)"
    " OR (excluded.tick_count <> -1"
    " AND (candles.tick_count, candles.dropped_ticks) IS NOT (excluded.tick_count, excluded.dropped_ticks))"
)
# A rebuilt candle equal to the stored one (counts too) leaves it as it is, its source too: `candles
# aggregate` over a sim run's ticks keeps its live bars live (a re-run of the sim day replaces them).
_CANDLE_REBUILT = _CANDLE_UPSERT + (
    " WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume, candles.tick_count,"
    " candles.dropped_ticks) IS NOT (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume,"
    " excluded.tick_count, excluded.dropped_ticks)"
)
_CANDLE_PART = 10_000  # rows per executemany: a progress bar moves, the transaction stays one


@dataclass(frozen=True)
class ImportCounts:
    """What an import did to the stored candles."""

    new: int
    replaced: int  # stored candles the file gave other values
    unchanged: int
TICK_INSERT = RowInsert("ticks", ("symbol", "local_symbol", "run_id", "ts", "price", "size"), fixed=3)
EVENT_INSERT = RowInsert("events", ("run_id", "ts", "type", "symbol", "payload"))
_EPOCH = from_us(0)
_MINUTE_US = 60_000_000
_ONE_MINUTE = timedelta(minutes=1)


# What a session writes about itself (and the versions of candles, which hold nothing without them); every
# other table holds market, broker or user data.
_BOOKKEEPING_TABLES = frozenset({"meta", "runs", "events", "health", "state", "candle_versions"})


def _tick_values(ticks: Iterable[Tick]) -> dict[str, list[Any]]:
    """Return each symbol's ticks flat as [ts_us, price, size, ts_us, ...] (TICK_INSERT's rows)."""
    by_symbol: dict[str, list[Any]] = {}
    for tick in ticks:
        by_symbol.setdefault(tick.symbol, []).extend((to_us(tick.ts), tick.price, tick.size))
    return by_symbol


def price_bars(symbol: str, rows: Iterable[Sequence[Any]]) -> list[PriceBar]:
    """Return PriceBars of (ts us, open, high, low, close, tick_count) rows (`candle_bar_rows`), in their order.

    A bar one minute after the previous one takes its instant as previous + 1 minute: half the cost
    of building it from the number, and most bars follow one another.
    """
    bars: list[PriceBar] = []
    append = bars.append
    previous_us = None
    previous = _EPOCH
    for ts, open_, high, low, close, tick_count in rows:
        if ts - _MINUTE_US == previous_us:
            instant = previous + _ONE_MINUTE
        else:
            instant = from_us(ts)
        append(PriceBar(symbol, instant, open_, high, low, close, tick_count))
        previous_us, previous = ts, instant
    return bars


class _WriteNow:
    """`Store.write_behind()` where no thread can serve: each write runs at once, in a transaction of the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def submit(self, write: StoreWrite) -> None:
        """Run write(store) in one transaction (the enclosing batch's, inside one)."""
        with self._store.batch():
            write(self._store)


def store_file(path: str | os.PathLike[str]) -> Path:
    """Return the path of a store file, there or to be made; raise StoreError when it is a directory."""
    file = Path(path)
    if file.is_dir():
        raise StoreError(f"database {str(file)!r} is a directory, not a file")
    return file


def existing_store_file(path: str | os.PathLike[str]) -> Path:
    """Return the path of a store that exists; raise StoreError for a directory, StoreMissing for no (or an empty) file.

    An empty file is a store whose session has taken the run lock but not yet created it: a reader
    must not hold it open while the writer switches it to WAL.
    """
    file = store_file(path)
    if not file.is_file() or file.stat().st_size == 0:
        raise StoreMissing(f"database {str(file)!r} does not exist", file.is_file())
    return file


class Store(ReadQueries, ViewQueries, Scans, TradingDays):
    """The project's SQLite file. Open with `Store.open(path)`; close or use as a context manager.

    Only this package speaks SQL: every query is a named method (the read mixins live in
    queries.py, views.py, scans.py and days.py); the connection itself stays private.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
        self._connection = conn
        self.path = path
        self.readonly = readonly
        self._db: Any = None
        self._readable: dict[tuple[str, str], str] = {}
        add_time_functions(conn)
        self._batching = False
        self._writer: StoreWriter | None = None
        self._check: BackgroundCheck | None = None  # a quick_check still running (Store.open)

    @property
    def _conn(self) -> sqlite3.Connection:  # type: ignore[override]  # the mixins declare it as an attribute
        """Return the store's own connection, once the writer thread has committed what was queued before.

        So every read (and every direct write) sees the writes queued earlier: read your own writes, in
        order. Inside an open transaction of this connection the writer could not commit, so it is not waited for.
        """
        writer = self._writer
        if writer is not None and writer.outstanding and not self._connection.in_transaction:
            writer.flush()
        return self._connection

    @property
    def db(self):  # noqa: ANN201 - sqlite_utils.Database, imported on first use (numpy: ~0.1 s of start-up)
        """Return a sqlite-utils Database over the store's connection (after the writer's queued writes)."""
        connection = self._conn  # waits for the writer thread, as every use of the connection does
        if self._db is None:
            self._db = _import_sqlite_utils().Database(connection)
        return self._db

    def _columns(self, table: str, alias: str = "") -> str:
        """Return a table's columns for a SELECT in their order, each instant rendered as ISO text.

        Rows then read as they did when instants were stored as text: callers see no encoding.
        """
        key = (table, alias)
        if key not in self._readable:
            instants = ISO_TEXT_INSTANTS.get(table, ())
            prefix = f"{alias}." if alias else ""
            names = [row[1] for row in self._conn.execute(f'PRAGMA table_info("{table}")')]
            self._readable[key] = ", ".join(
                f"iso_time({prefix}{name}) AS {name}" if name in instants else f"{prefix}{name}" for name in names)
        return self._readable[key]

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Yield the rows of a query as dicts keyed by column name."""
        cursor = self._conn.execute(sql, params)
        keys = [column[0] for column in cursor.description]
        for row in cursor:
            yield dict(zip(keys, row, strict=False))

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike[str], readonly: bool = False, create: bool = True,
             check_in_background: bool = False,
             migrating: Callable[[], AbstractContextManager[object]] | None = None) -> Store:
        """Open (creating and migrating if needed) the store at path; raise StoreError on failure.

        A writable open checks the file (quick_check) before anything is written to it; with
        `check_in_background` an up-to-date store is checked by a thread meanwhile, and the first
        `transaction()` (or `confirm_integrity()`) waits for its verdict. A migration, however long,
        runs inside `migrating()` (a session pulses its lock meanwhile).
        """
        file = existing_store_file(path) if readonly or not create else store_file(path)
        if not readonly and file.exists() and not os.access(file, os.W_OK):
            raise read_only(file)  # SQLite would open it read-only and fail at the first write, work done
        try:
            if readonly:
                conn = sqlite3.connect(read_only_uri(file), uri=True, timeout=30, check_same_thread=False)
            else:
                if file.parent and not file.parent.exists():
                    file.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(file, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
            tune(conn, writes=not readonly)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {str(file)!r}: {exc}") from None
        store = cls(conn, file, readonly)
        try:
            if not readonly:
                if check_in_background and store._current_schema():
                    store._check = BackgroundCheck(read_only_uri(file))
                else:
                    store.check_integrity()  # before anything is written to it
            store._migrate(migrating)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"database {str(file)!r} is not a slob database: {exc}") from None
        except StoreError:
            conn.close()
            raise
        return store

    def _migrate(self, migrating: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        version = self.known_schema_version()
        if version == SCHEMA_VERSION:
            return
        if self.readonly:
            raise StoreNeedsMigration(
                f"database {str(self.path)!r} has schema version {version} and needs a migration to {SCHEMA_VERSION}: "
                f"run `slob --db {self.path} migrate` once", version, SCHEMA_VERSION)
        # A migration may rebuild a table that others reference (v6): SQLite checks foreign keys
        # at the end instead, and the switch only works outside a transaction.
        self._conn.execute("PRAGMA foreign_keys=OFF")
        try:
            with migrating() if migrating is not None else nullcontext(), self.transaction():
                while version < SCHEMA_VERSION:
                    MIGRATIONS[version](self._conn)
                    version += 1
                broken = self._conn.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise StoreError(f"database {str(self.path)!r} has rows whose references are missing: {broken[:3]}")
                self._conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(version),),
                )
        finally:
            self._conn.execute("PRAGMA foreign_keys=ON")

    def schema_version(self) -> int:
        """Return the file's schema version (0 for a new or foreign file)."""
        has_meta = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            others = self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
            if others:
                raise StoreError(f"database {str(self.path)!r} is not a slob database (no meta table)")
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            version = int(row[0]) if row else 0
        except (TypeError, ValueError):
            version = -1
        if version < 0:  # no migration starts below 0
            raise StoreError(f"database {str(self.path)!r} has an unreadable schema version {row[0]!r}")
        return version

    def known_schema_version(self) -> int:
        """Return the file's schema version; raise StoreError when it is newer than this slob understands."""
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {str(self.path)!r} has schema version {version}, newer than this slob "
                f"understands ({SCHEMA_VERSION}); upgrade slob"
            )
        return version

    def _current_schema(self) -> bool:
        """Return True when the file reads as a store of this slob's schema (no migration to run)."""
        try:
            return self.schema_version() == SCHEMA_VERSION
        except (sqlite3.DatabaseError, StoreError):
            return False  # the synchronous check (or the migration) says what is wrong

    def integrity_problem(self) -> str | None:
        """Return SQLite's first quick_check finding (corrupt pages, broken indexes), or None when sound."""
        return quick_check_problem(self._conn)

    def check_integrity(self) -> None:
        """Raise StoreError naming the file when SQLite's quick_check finds damage."""
        self._damaged(self.integrity_problem())

    def confirm_integrity(self) -> None:
        """Wait for a background check started by `open`; raise StoreError when it found damage."""
        check, self._check = self._check, None
        if check is not None:
            self._damaged(check.problem())

    def _damaged(self, problem: str | None) -> None:
        if problem is not None:
            raise damaged_store(self.path, problem)

    def checkpoint(self) -> None:
        """Copy the committed pages the WAL holds into the file now, as far as readers allow (PASSIVE).

        What is committed is safe in the WAL either way: a checkpoint that cannot run (the file is
        busy, or its write fails) leaves it to a later one, and is only logged.
        """
        try:
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            import logging

            logging.getLogger(__name__).debug("checkpoint of %s left for later: %s", self.path, exc)

    def close(self) -> None:
        """Close the connection (committing first what a writer thread still holds)."""
        if self._check is not None:
            self._check.problem()  # the thread ends before the file is let go
            self._check = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the `transaction()` blocks inside as one transaction: one commit, all of them written or none."""
        if self._batching:
            yield
            return
        with self.transaction():
            self._batching = True
            try:
                yield
            finally:
                self._batching = False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one transaction: all of it is written, or none (inside `batch()`: the batch's)."""
        if self._batching:
            yield self._conn
            return
        self.confirm_integrity()  # nothing is written before the file's check has said it is sound
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled back by itself (disk full)
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if "full" not in message and "locked" not in message:
                raise
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if "locked" in message:  # another process's write outlasted the busy timeout: no traceback, exit 3
                raise StoreError(f"database {str(self.path)!r} is locked by another process's write; nothing of "
                                 "this write was stored: run it again once that one is done") from None
            raise disk_full(self.path) from None

    # ------------------------------------------------------------------ writes from the event loop
    @contextmanager
    def background_writes(self, on_error: Callable[[BaseException], None] | None = None) -> Iterator[StoreWriter]:
        """Send the loop's writes (ticks, candles, events, health rows, run mode) through one writer thread in this block.

        Leaving the block commits what is queued and raises the writer's first error (unless the block
        itself raised). A nested block shares the outer one's writer. on_error is called, from the
        writer thread, once when a write fails.
        """
        if self._writer is not None:
            yield self._writer
            return
        self.confirm_integrity()
        page_limit = int(self._connection.execute("PRAGMA max_page_count").fetchone()[0])  # tests' "full disk"
        writer = self._writer = StoreWriter(self.path, on_error, page_limit)
        try:
            yield writer
        finally:
            self._writer = None
            writer.close()
        writer.raise_error()

    @contextmanager
    def write_behind(self) -> Iterator[WriteBehind | _WriteNow]:
        """Run the block's `submit(write)`s, each write(store) in one transaction, on a thread of their own.

        The thread writes through a connection of its own to the same file (WAL: this connection
        reads on meanwhile, without seeing the queued writes until they are committed) and waits for
        the file's background integrity check first. Leaving the block waits for every queued write
        and raises the first failure (unless the block raised: then its error wins, and a failed write
        is logged when the block was interrupted). Inside a batch, or while a writer thread serves
        this store, the writes run at once on this store instead.
        """
        if self._batching or self._writer is not None or self.readonly:
            yield _WriteNow(self)
            return
        page_limit = int(self._connection.execute("PRAGMA max_page_count").fetchone()[0])  # tests' "full disk"
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            tune(conn, writes=True)
            conn.execute(f"PRAGMA max_page_count={page_limit}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {str(self.path)!r} for writing: {exc}") from None
        check = self._check

        def ready() -> None:  # in the thread: nothing is written before the file's check has said it is sound
            if check is not None:
                self._damaged(check.problem())

        behind = WriteBehind(Store(conn, self.path), ready)
        try:
            yield behind
        except BaseException as exc:
            with suppress(BaseException):  # the block's own error is the one to raise
                behind.close()
            if behind.error is not None and not isinstance(exc, Exception):  # an interrupt hides no failed write
                import logging

                logging.getLogger(__name__).error("writes to %s stopped: %s", self.path, behind.error)
            raise
        behind.close()

    async def writes_flushed(self) -> None:
        """Await (the loop goes on meanwhile) the writer thread's commit of every write queued so far; raise its error."""
        if self._writer is not None:
            await self._writer.flushed()

    def _write(self, write: Write) -> None:
        """Run write(conn) in a transaction: queued to the writer thread when there is one, else now."""
        if self._writer is not None:
            self._writer.submit(write)
            return
        with self.transaction() as conn:
            write(conn)

    def _write_rows(self, insert: RowInsert, fixed: tuple[Any, ...], values: list[Any]) -> None:
        """Insert rows whose values lie flat in `values` (multi-row statements), through the writer when there is one."""
        if self._writer is not None:
            self._writer.submit_rows(insert, fixed, values)
            return
        with self.transaction() as conn:
            insert_rows(conn, insert, fixed, values)

    # ------------------------------------------------------------------ ticks
    def insert_ticks(self, ticks: Iterable[Tick], run_id: int | None = None, local_symbol: str | None = None) -> int:
        """Insert ticks in one transaction (through the writer thread when there is one); return how many."""
        by_symbol = _tick_values(ticks)
        if len(by_symbol) > 1 and self._writer is None:
            with self.transaction() as conn:  # one transaction for every symbol
                for symbol, values in by_symbol.items():
                    insert_rows(conn, TICK_INSERT, (symbol, local_symbol, run_id), values)
        else:
            for symbol, values in by_symbol.items():
                self.insert_tick_values(symbol, local_symbol, run_id, values)
        return sum(len(values) for values in by_symbol.values()) // TICK_INSERT.width

    def insert_tick_values(self, symbol: str, local_symbol: str | None, run_id: int | None, values: list[Any]) -> None:
        """Insert one symbol's ticks given flat as [ts_us, price, size, ts_us, ...] (the recorder's hot path).

        With a writer thread the list becomes the writer's: the caller starts a new one.
        """
        self._write_rows(TICK_INSERT, (symbol, local_symbol, run_id), values)

    def merge_ticks(self, ticks: Sequence[Tick], replace: tuple[datetime, datetime] | None = None,
                    run_id: int | None = None, local_symbol: str | None = None) -> None:
        """Insert ticks in one transaction (through the writer thread when there is one), first deleting their
        symbol's stored ticks in `replace` [start, end)."""
        if not ticks:
            return
        symbol = ticks[0].symbol
        by_symbol = _tick_values(ticks)

        def write(conn: sqlite3.Connection) -> None:
            if replace is not None:
                conn.execute("DELETE FROM ticks WHERE symbol=? AND ts >= ? AND ts < ?",
                             (symbol, to_us(replace[0]), to_us(replace[1])))
            for each, values in by_symbol.items():
                insert_rows(conn, TICK_INSERT, (each, local_symbol, run_id), values)

        self._write(write)

    def delete_ticks(self, symbol: str, start: datetime, end: datetime) -> None:
        """Delete a symbol's ticks in [start, end) in one transaction."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM ticks WHERE symbol=? AND ts >= ? AND ts < ?", (symbol, to_us(start), to_us(end)))

    def delete_rows_written_by(self, command: str, symbol: str, start: datetime, end: datetime) -> None:
        """Delete a symbol's ticks and events in [start, end) that runs of `command` wrote, and its candles there
        whose source is `command`, in one transaction."""
        span = (symbol, to_us(start), to_us(end))
        runs = "(SELECT id FROM runs WHERE command=?)"
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM ticks WHERE symbol=? AND ts>=? AND ts<? AND run_id IN {runs}", (*span, command))
            conn.execute("DELETE FROM candles WHERE symbol=? AND ts>=? AND ts<? AND source=?", (*span, command))
            conn.execute(f"DELETE FROM events WHERE symbol=? AND ts>=? AND ts<? AND run_id IN {runs}", (*span, command))

    def tick_count(self, symbol: str | None = None) -> int:
        """Return the number of stored ticks (for one symbol or all)."""
        if symbol is None:
            return self._conn.execute("SELECT count(*) FROM ticks").fetchone()[0]
        return self._conn.execute("SELECT count(*) FROM ticks WHERE symbol=?", (symbol,)).fetchone()[0]

    def iter_ticks(
        self, symbol: str, start: datetime | None = None, end: datetime | None = None, batch: int = 100_000
    ) -> Iterator[Tick]:
        """Yield stored ticks of a symbol in time order within [start, end)."""
        sql, params = self._range_sql("SELECT symbol, ts, price, size FROM ticks", symbol, start, end)
        cursor = self._conn.execute(sql + " ORDER BY ts, id", params)
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield Tick(row[0], from_us(row[1]), row[2], row[3])

    # ------------------------------------------------------------------ candles
    def upsert_candles(
        self, candles: Iterable[Candle], source: str = "live", local_symbol: str | None = None,
        keep_equal: bool = False,
    ) -> int:
        """Insert or replace candles by (symbol, ts) in one transaction (the writer thread's when there is one).

        keep_equal: a stored candle with the same values and counts is left as it is (its source too).
        Return how many.
        """
        rows = [candle_row(c, source, local_symbol) for c in candles]
        if not rows:
            return 0
        sql = _CANDLE_REBUILT if keep_equal else _CANDLE_UPSERT
        self._write(lambda conn: conn.executemany(sql, rows))
        return len(rows)

    def import_candles(self, candles: Sequence[Candle], progress: Callable[[int], None] | None = None) -> ImportCounts:
        """Upsert imported candles in one transaction; a stored candle with the same values is left as it is.

        Return how many were new and how many replaced a stored candle with other values. `progress`
        hears the rows written, a part at a time, inside the transaction.
        """
        rows = [candle_row(c, "import", None) for c in candles]
        if not rows:
            return ImportCounts(0, 0, 0)
        with self.transaction() as conn:  # its counts are read back at once: never through the writer thread
            stored = conn.execute("SELECT count(*) FROM candles").fetchone()[0]
            changed = 0  # rows the statements wrote (total_changes would count the versions the triggers bump)
            for begin in range(0, len(rows), _CANDLE_PART):
                part = rows[begin:begin + _CANDLE_PART]
                changed += conn.executemany(_CANDLE_IMPORT, part).rowcount
                if progress is not None:
                    progress(len(part))
            new = conn.execute("SELECT count(*) FROM candles").fetchone()[0] - stored
        return ImportCounts(new, changed - new, len(rows) - changed)

    def candles(self, symbol: str, start: datetime | None = None, end: datetime | None = None) -> list[Candle]:
        """Return stored candles of a symbol in time order with label in [start, end)."""
        sql, params = self._range_sql(CANDLE_ROWS, symbol, start, end)
        return [row_candle(row) for row in self._conn.execute(sql + " ORDER BY ts", params)]

    def candles_frame(
        self, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Return candles as a DataFrame indexed by UTC timestamp (columns symbol, open ... source)."""
        import pandas as pd

        sql, params = self._range_sql("SELECT * FROM candles", symbol, start, end)
        frame = pd.read_sql_query(sql + " ORDER BY symbol, ts", self._conn, params=params)
        frame["ts"] = pd.to_datetime(frame["ts"], unit="us", utc=True)
        return frame.set_index("ts")

    def candle_export_rows(
        self, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None, batch: int = 4096,
    ) -> Iterator[tuple[str, int, float, float, float, float, float, int, int]]:
        """Yield (symbol, ts us, OHLCV, tick_count, dropped_ticks) of stored candles by symbol and time, a batch at a time."""
        cursor = self._conn.execute(*self._candle_rows_sql(symbol, start, end))
        while rows := cursor.fetchmany(batch):
            yield from rows

    def candle_rows_frame(
        self, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Return stored candles as a frame with columns symbol, ts (UTC us), OHLCV and counts."""
        import pandas as pd

        sql, params = self._candle_rows_sql(symbol, start, end)
        return pd.read_sql_query(sql, self._conn, params=params)

    def _candle_rows_sql(
        self, symbol: str | None, start: datetime | None, end: datetime | None
    ) -> tuple[str, list[Any]]:
        """Return the query (and its parameters) of the export's candle rows: in range, by symbol and time."""
        sql, params = self._range_sql(CANDLE_ROWS, symbol, start, end)
        return sql + " ORDER BY symbol, ts", params

    def last_candles(self, symbol: str, count: int) -> list[Candle]:
        """Return the newest `count` candles of a symbol, oldest first."""
        rows = self._conn.execute(
            CANDLE_ROWS + " WHERE symbol=? ORDER BY ts DESC LIMIT ?", (symbol, count),
        ).fetchall()
        return [row_candle(row) for row in reversed(rows)]

    def latest_candle(self, symbol: str) -> Candle | None:
        """Return the newest stored candle of a symbol, or None."""
        row = self._conn.execute(
            CANDLE_ROWS + " WHERE symbol=? ORDER BY ts DESC LIMIT 1",
            (symbol,),
        ).fetchone()
        return row_candle(row) if row else None

    @staticmethod
    def _range_sql(
        base: str, symbol: str | None, start: datetime | None, end: datetime | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if symbol is not None:
            clauses.append("symbol = ?")
            params.append(symbol)
        if start is not None:
            clauses.append("ts >= ?")
            params.append(to_us(start))
        if end is not None:
            clauses.append("ts < ?")
            params.append(to_us(end))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return base + where, params

    # ------------------------------------------------------------------ runs and events
    def start_run(self, command: str, args: dict[str, Any] | None, started_at: datetime) -> int:
        """Record the start of a command run; return its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs(command, args, started_at, pid) VALUES (?,?,?,?)",
                (command, json.dumps(args or {}, default=str), to_us(started_at), os.getpid()),
            )
        return int(cursor.lastrowid or 0)

    def end_run(
        self, run_id: int, exit_code: int, ended_at: datetime, stats: dict[str, Any] | None = None,
        data_mode: str | None = None, started_at: datetime | None = None,
    ) -> None:
        """Record the end of a command run (and its start again, when the run's clock moved onto a gateway's).

        A run that fell back to delayed data during the run, or found its gateway simulated (set_run_mode),
        stays `delayed` or `sim`: the mode it was started with (`live`) does not hide it.
        """
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET ended_at=?, exit_code=?, stats=?,"
                " data_mode=CASE WHEN data_mode IN ('delayed', 'sim') AND ?='live' THEN data_mode"
                " ELSE coalesce(?, data_mode) END,"
                " started_at=coalesce(?, started_at) WHERE id=?",
                (to_us(ended_at), exit_code, json.dumps(stats or {}, default=str), data_mode, data_mode,
                 None if started_at is None else to_us(started_at), run_id),
            )

    def shift_run_start(self, run_id: int, by: timedelta) -> None:
        """Move a running run's start by `by` (its clock moved onto a gateway's; end_run stores the final one)."""
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET started_at=started_at+? WHERE id=? AND ended_at IS NULL",
                         (round(by.total_seconds() * 1_000_000), run_id))

    def set_run_mode(self, run_id: int, data_mode: str | None) -> None:
        """Mark a run's data mode (live, delayed, sim; None: the run never had data)."""
        self._write(lambda conn: conn.execute("UPDATE runs SET data_mode=? WHERE id=?", (data_mode, run_id)))

    def set_run_arg(self, run_id: int, name: str, value: Any) -> None:
        """Set one of a run's args to what it learned once running (`record`: sim_clock, once its gateway says so)."""
        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT args FROM runs WHERE id=?", (run_id,)).fetchone()
            args = json.loads(row[0]) if row and row[0] else {}
            conn.execute("UPDATE runs SET args=? WHERE id=?", (json.dumps({**args, name: value}, default=str), run_id))

        self._write(write)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """Return the latest runs, newest first."""
        return list(self.query(f"SELECT {self._columns('runs')} FROM runs ORDER BY id DESC LIMIT ?", [limit]))

    def log_event(
        self, event_type: str, ts: datetime, payload: dict[str, Any] | None = None,
        run_id: int | None = None, symbol: str | None = None,
    ) -> None:
        """Append one operational event (gap, disconnect, safe mode ...) to the events table.

        The payload is turned into JSON now, so a later change to the dict is not what gets stored.
        """
        self._write_rows(EVENT_INSERT, (), [run_id, to_us(ts), event_type, symbol,
                                            json.dumps(payload or {}, default=str)])

    def record_health(self, run_id: int | None, ts: datetime, row: dict[str, Any]) -> None:
        """Append one engine health row (its figures as columns, the whole row as the payload)."""
        values = (run_id, to_us(ts), int(row["connected"]), row["last_tick_age"], row["buffer_utilization"],
                  row["open_orders"], row["positions"], json.dumps(row))
        self._write(lambda conn: conn.execute(
            "INSERT INTO health(run_id, ts, connected, last_tick_age, buffer_utilization, open_orders, positions,"
            " payload) VALUES (?,?,?,?,?,?,?,?)", values))

    # ------------------------------------------------------------------ key/value state
    def get_state(self, key: str) -> Any | None:
        """Return the JSON value stored under key, or None."""
        row = self._conn.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_state(self, key: str, value: Any, now: datetime) -> None:
        """Store a JSON value under key."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state(key, value, updated_at) VALUES (?,?,?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                (key, json.dumps(value, default=str), to_us(now)),
            )

    def holds_only_bookkeeping(self) -> bool:
        """Return True when the store holds nothing but runs' bookkeeping: no data, and no broker ever answered.

        A session that failed before connecting (its runs row, events, health) stored nothing worth keeping.
        """
        tables = [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        if any(self._conn.execute(f'SELECT 1 FROM "{name}" LIMIT 1').fetchone()
               for name in tables if name not in _BOOKKEEPING_TABLES):
            return False
        return self._conn.execute("SELECT 1 FROM events WHERE type='IB_CONNECTED' LIMIT 1").fetchone() is None

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, Any]:
        """Return rows per table, time span per symbol and file size."""
        tables = [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        rows = {name: self._conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
        spans: dict[str, dict[str, Any]] = {}
        for table in ("ticks", "candles"):
            for symbol, first, last, count in self._conn.execute(
                f"SELECT symbol, min(ts), max(ts), count(*) FROM {table} GROUP BY symbol"
            ):
                spans.setdefault(symbol, {})[table] = {
                    "first": to_iso(from_us(first)), "last": to_iso(from_us(last)), "rows": count,
                }
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return {"path": str(self.path), "schema_version": self.schema_version(), "rows": rows,
                "symbols": spans, "size_bytes": size}
