"""SQLite's quick_check of a store: its first finding, now or from a thread while the command works."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from slob_cli.errors import StoreError


def quick_check_problem(conn: sqlite3.Connection) -> str | None:
    """Return SQLite's first quick_check finding (corrupt pages, broken indexes), or None when sound."""
    rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    first = " ".join(str(rows[0][0]).split()) if rows else "no answer"
    return None if first == "ok" else first


class BackgroundCheck:
    """quick_check of a store file on a read-only connection of its own, in a thread.

    SQLite runs the check without Python's lock, so it takes the second core while the command
    reads and computes; `problem()` waits for its finding (a writer asks before its first write).
    """

    def __init__(self, uri: str) -> None:
        self._problem: str | None = None
        self._thread = threading.Thread(target=self._run, args=(uri,), name="slob-quick-check", daemon=True)
        self._thread.start()

    def _run(self, uri: str) -> None:
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=30)
            try:
                self._problem = quick_check_problem(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            self._problem = " ".join(str(exc).split()) or type(exc).__name__

    def problem(self) -> str | None:
        """Wait for the check; return its first finding, or None when the file is sound."""
        self._thread.join()
        return self._problem


def damage_named(error: BaseException) -> str | None:
    """Return SQLite's words when an error says a file is damaged (a malformed page met by a read), else None.

    A reader does not run quick_check (it would read the whole file); it meets the damage only on
    the page it needs, as a bare DatabaseError, which is a damaged store, not an unexpected error.
    """
    if type(error) is not sqlite3.DatabaseError:  # OperationalError (locked, busy, ...) is another story
        return None
    words = " ".join(str(error).split())
    return words if "malformed" in words or "not a database" in words else None


def damaged_store(path: str | Path, problem: str) -> StoreError:
    """Return the one-line error of a store file SQLite found damaged."""
    return StoreError(f"database {str(path)!r} is damaged ({problem}); restore it from a backup")


def damage_error(error: BaseException, path: str | Path) -> StoreError | None:
    """Return the one-line error naming `path` when `error` says its file is damaged (`damage_named`), else None."""
    problem = damage_named(error)
    return None if problem is None else damaged_store(path, problem)


def read_only_uri(file: Path) -> str:
    """Return the SQLite URI that opens a file read-only."""
    return f"file:{file}?mode=ro"
