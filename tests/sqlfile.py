"""Plain SQL on a store's file, for tests that set up or inspect rows no store method reads or writes.

The store keeps its connection private; a test opens its own (WAL lets it read what the store
committed, and the store reads what this one commits).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.instants import instant_text
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS

Path = str | os.PathLike[str]


@contextmanager
def sql_file(path: Path) -> Iterator[sqlite3.Connection]:
    """Open the file with its own connection; commit what the block wrote, and close it."""
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("PRAGMA foreign_keys=ON")
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


def sql_rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Return every row of one query on the file."""
    with sql_file(path) as conn:
        return conn.execute(sql, params).fetchall()


def sql_value(path: Path, sql: str, params: Sequence[Any] = ()) -> Any:
    """Return the first column of the first row of one query on the file."""
    with sql_file(path) as conn:
        return conn.execute(sql, params).fetchone()[0]


def sql_run(path: Path, sql: str, params: Sequence[Any] = ()) -> None:
    """Run one writing statement on the file and commit it."""
    with sql_file(path) as conn:
        conn.execute(sql, params)


def with_page_cap(store: Store, spare_pages: int) -> Store:
    """Close an open store and return it again over a connection that may grow the file by `spare_pages` pages.

    SQLite's page cap belongs to one connection, so the store gets one of the test's own: a disk
    that fills up after that many pages, for the store's writes alone.
    """
    path, readonly = store.path, store.readonly
    store.close()
    target = f"file:{path}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(target, uri=readonly, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
    return Store(conn, path, readonly)


def as_shown(table: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return raw rows of a table with their instants as the store's rows give them (ISO text)."""
    instants = ISO_TEXT_INSTANTS.get(table, ())
    return [{key: instant_text(value) if key in instants else value for key, value in row.items()} for row in rows]


def disk_nearly_full(monkeypatch: Any, spare_pages: int) -> None:
    """Make every store a command opens one whose disk is full after `spare_pages` more pages (a pytest MonkeyPatch)."""
    from slob_cli.adapters.store import db as db_module

    opened = db_module.Store.open.__func__  # type: ignore[attr-defined]

    def open_nearly_full(cls, path, *args, **kwargs):  # noqa: ANN001, ANN202 - the classmethod's own shape
        return with_page_cap(opened(cls, path, *args, **kwargs), spare_pages)

    monkeypatch.setattr(db_module.Store, "open", classmethod(open_nearly_full))


def damage_root_page(path: Path, table: str) -> None:
    """Overwrite the root page of a table (after a checkpoint) with garbage: every read of the table meets it.

    Open connections (a running `slob web`) keep the pages they read in their cache while the WAL does not
    change, and a read between the checkpoint and the garbage would keep the sound page there; so a commit
    after the damage (the same user_version written again) makes every connection drop its cache at its next read.
    """
    with sql_file(path) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, f"the checkpoint of {path} could not finish: the WAL would hide the damage"
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table,)).fetchone()[0]
    with open(path, "r+b") as handle:
        handle.seek(page_size * (root - 1))
        handle.write(b"\xa5" * page_size)
    with sql_file(path) as conn:
        conn.execute(f"PRAGMA user_version = {int(conn.execute('PRAGMA user_version').fetchone()[0])}")
