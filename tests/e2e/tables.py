"""Compare two slob stores table by table, leaving out only what records wall-clock time."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from slob_cli.adapters.ib.history import PACING_STATE_KEY

# What describes the process rather than the run: its pid and the free port the embedded gateway
# got (in `runs.args`). Health rows of a lockstep run follow virtual time, so they are compared too.
WALL_CLOCK_TABLES: frozenset[str] = frozenset()
WALL_CLOCK_COLUMNS = {"runs": frozenset({"pid"})}
WALL_CLOCK_ARGS = frozenset({"port"})
# State rows holding wall-clock facts: IB's history pacing counts real seconds across processes.
WALL_CLOCK_STATE = frozenset({PACING_STATE_KEY})


def _without_wall_clock_args(args: str | None) -> str | None:
    if not args:
        return args
    return json.dumps({k: v for k, v in json.loads(args).items() if k not in WALL_CLOCK_ARGS}, sort_keys=True)


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every compared table's rows in a stable order (all columns but the row id)."""
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for name in names:
            if name in WALL_CLOCK_TABLES or name.startswith("sqlite_"):
                continue
            skip = WALL_CLOCK_COLUMNS.get(name, frozenset()) | {"id"}
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})") if row[1] not in skip]
            rows = conn.execute(f"SELECT {', '.join(columns)} FROM {name}").fetchall()
            if name == "runs":
                args_at = columns.index("args")
                rows = [(*row[:args_at], _without_wall_clock_args(row[args_at]), *row[args_at + 1:]) for row in rows]
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
