"""Run `slob --db DB migrate` in a process of its own, held open in the middle of its migration.

Usage: python -m tests.runtime.held_migrate DB. Once the migration is under way (the lock taken, its pulse
going), it prints `migrating` on stdout and waits for a line on stdin; then it migrates and exits as `slob
migrate` does. The process that holds a store in its making, for readers started meanwhile.
"""

from __future__ import annotations

import sys
from pathlib import Path

from slob_cli.adapters.store import migrate as store_migrate
from slob_cli.cli.main import app


def main(db_path: str) -> None:
    """Migrate the store, held at its start until a line comes on stdin."""
    real_migrate_store = store_migrate.migrate_store

    def held(path: Path) -> object:
        print("migrating", flush=True)
        sys.stdin.readline()
        return real_migrate_store(path)

    store_migrate.migrate_store = held  # type: ignore[assignment]
    app(["--db", db_path, "migrate"], prog_name="slob")


if __name__ == "__main__":
    main(sys.argv[1])
