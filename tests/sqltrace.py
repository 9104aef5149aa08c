"""The statements a read-only store runs, and SQLite's plan for each, for tests of what a read costs.

`traced_store` opens the store as `slob status`, `dashboard` and `web` do (read-only) and records every
statement its connection runs, with the values bound (SQLite's expanded text), without reaching for the
store's private connection: the connection is traced as it is made. `query_plan` asks a connection of its
own for the plan (EXPLAIN QUERY PLAN) of one recorded statement.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.instants import add_time_functions
from tests.sqlfile import sql_file


@dataclass
class Traced:
    """A read-only store, the statements its connection ran, and that connection (to count its work)."""

    store: Store
    statements: list[str]
    conn: sqlite3.Connection

    def vm_steps(self, read: Callable[[], object]) -> int:
        """Return how many hundred SQLite VM steps the store's connection ran for `read()`."""
        return vm_steps(self.conn, read)


@contextmanager
def traced_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    """Open the store read-only; yield it with the list its connection's statements are appended to."""
    statements: list[str] = []
    made: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        made.append(conn)
        return conn

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", traced)
        store = Store.open(path, readonly=True)
    with store:
        statements.clear()  # the opening's own statements (schema version, pragmas) are no read's
        yield Traced(store, statements, made[0])


def vm_steps(conn: sqlite3.Connection, read: Callable[[], object]) -> int:
    """Return how many hundred SQLite VM steps a connection ran for `read()`: work, counted, not timed."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 100)
    try:
        read()
    finally:
        conn.set_progress_handler(None, 100)
    return steps[0]


def query_plan(path: Path, sql: str) -> str:
    """Return SQLite's plan for one statement on the file, its steps joined by ` | `."""
    with sql_file(path) as conn:
        add_time_functions(conn)
        return " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))


def on_table(statements: list[str], table: str) -> list[str]:
    """Return the statements that read `table`."""
    return [sql for sql in statements if re.search(rf"\bFROM {table}\b", sql)]


def reads_by_index(sql: str, plan: str, table: str) -> bool:
    """Return True when every step of the plan that reads `table` searches it by symbol, never reads it whole.

    A plan step `SEARCH ticks USING COVERING INDEX ticks_symbol_ts` with no condition is a walk of the
    whole index (`max(ts)` over every symbol); only `min(symbol)` alone, the index's first entry, is
    one probe without a condition.
    """
    if re.fullmatch(rf"SELECT min\(symbol\) FROM {table}", sql.strip()):
        return True
    steps = [step for step in plan.split(" | ") if re.search(rf"\b{table}\b", step)]
    return bool(steps) and all(step.startswith("SEARCH") and "(symbol" in step for step in steps)
