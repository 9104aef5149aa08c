"""Compare two slob stores table by table, leaving out only what records wall-clock time."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from slob_cli.adapters.ib.history import PACING_STATE_KEY

# Tables written on a wall-clock schedule or describing the process: `runs` (start and end
# instants, pid, the free port chosen, elapsed figures in stats) and `health` (a row every few
# real seconds). Every other table and column must be identical between two runs.
WALL_CLOCK_TABLES = frozenset({"runs", "health"})
# Events that carry wall-clock facts: HEALTH is written on the real-time heartbeat.
WALL_CLOCK_EVENTS = frozenset({"HEALTH"})
# State rows holding wall-clock facts: IB's history pacing counts real seconds across processes.
WALL_CLOCK_STATE = frozenset({PACING_STATE_KEY})


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every compared table's rows in a stable order (all columns but the row id)."""
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for name in names:
            if name in WALL_CLOCK_TABLES or name.startswith("sqlite_"):
                continue
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})") if row[1] != "id"]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {name}").fetchall()
            if name == "events":
                type_at = columns.index("type")
                rows = [row for row in rows if row[type_at] not in WALL_CLOCK_EVENTS]
            if name == "state":
                key_at = columns.index("key")
                rows = [row for row in rows if row[key_at] not in WALL_CLOCK_STATE]
            tables[name] = rows if name in ("ticks", "events", "setup_events") else sorted(rows, key=repr)
        return tables
    finally:
        conn.close()


def table_differences(first: Path, second: Path, limit: int = 5) -> list[str]:
    """Return one line per differing table (its first differing rows), empty when the stores agree."""
    left, right = table_rows(first), table_rows(second)
    problems = []
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name, []), right.get(name, [])
        if a == b:
            continue
        only_a = [row for row in a if row not in b][:limit]
        only_b = [row for row in b if row not in a][:limit]
        problems.append(f"{name}: {len(a)} vs {len(b)} rows; only in first {only_a}; only in second {only_b}")
    return problems
