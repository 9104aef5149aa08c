"""`slob migrate`: bring an existing store's schema up to this slob's, in place."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slob_cli.adapters.store.db import Store, existing_store_file
from slob_cli.adapters.store.integrity import read_only_uri
from slob_cli.errors import StoreError


@dataclass(frozen=True)
class Migration:
    """What `migrate_store` did: the schema version before and after (equal when there was nothing to do)."""

    path: Path
    from_version: int
    to_version: int

    @property
    def migrated(self) -> bool:
        """Return True when the store's schema changed."""
        return self.to_version != self.from_version

    def as_dict(self) -> dict[str, Any]:
        """Return the summary `slob migrate --json` prints."""
        return {"database": str(self.path), "from_version": self.from_version, "to_version": self.to_version,
                "migrated": self.migrated}


def stored_schema_version(path: str | os.PathLike[str]) -> int:
    """Return the schema version of an existing store, read without changing the file.

    StoreError (one line) when the file does not exist, is no slob store, or is newer than this slob.
    """
    file = existing_store_file(path)
    try:
        conn = sqlite3.connect(read_only_uri(file), uri=True, timeout=30)
        try:
            return Store(conn, file, readonly=True).known_schema_version()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"database {str(file)!r} is not a slob database: {exc}") from None


def migrate_store(path: str | os.PathLike[str]) -> Migration:
    """Migrate an existing store to this slob's schema in place; a store already there is left as it is.

    The file is checked first (quick_check) and every step runs in one transaction, as any writing
    open does: a step that fails leaves the store at its version. A store newer than this slob, a
    missing file or a foreign one is refused with StoreError before anything is written.
    """
    before = stored_schema_version(path)
    if before == (current := _current_version()):
        return Migration(Path(path), before, current)
    with Store.open(path, create=False) as store:
        return Migration(Path(path), before, store.schema_version())


def _current_version() -> int:
    from slob_cli.adapters.store import db

    return db.SCHEMA_VERSION
