"""What `slob status` reports: runs, the lock holder, open setups, orders, positions, P&L, health."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from slob_cli.core.timefmt import iso_z
from slob_cli.runtime import views
from slob_cli.runtime.lock import LockHolder, current_holder

DEFAULT_HEARTBEAT_MAX_AGE = 60.0


@dataclass(frozen=True)
class StatusReport:
    """A read-only picture of one store at one moment."""

    db_path: str
    now: str
    running: LockHolder | None
    runs: list[dict[str, Any]]
    open_setups: list[dict[str, Any]]
    working_orders: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    today: dict[str, Any]
    health: dict[str, Any] | None
    health_age_seconds: float | None
    clock: dict[str, Any] | None = None  # whose clock `now`, `today` and the ages are read on
    connected: bool | None = None  # the gateway link of the running session (None: no session runs)
    backtests: list[dict[str, Any]] = field(default_factory=list)  # the newest `slob backtest` runs

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        data = asdict(self)
        data["running"] = asdict(self.running) if self.running else None
        return data


def collect_status(store: Any, db_path: str | os.PathLike[str], now: datetime, run_limit: int = 10,
                   memo: views.StoreMemo | None = None) -> StatusReport:
    """Read the status of a store (open it read-only) as of `now`; never locks, never writes.

    With a memo (a reader that asks often), rows are read again only when the store has changed;
    the clock, the ages and the lock holder are read every time.
    """
    read = memo.reader(store) if memo is not None else (lambda key, compute: compute())
    clock = views.store_clock(store, now)
    now = clock.now
    health = read("health", lambda: views.last_health(store))
    health_time = views.parse_time(health["ts"]) if health else None
    running = current_holder(db_path)
    orders, positions = read("book", lambda: views.live_book(store))
    trading_date = views.trading_date_of(now)
    return StatusReport(
        db_path=os.fspath(db_path),
        now=iso_z(now) or "",  # never None: now is an instant
        running=running,
        runs=[_with_state(run, running) for run in read(("runs", run_limit), lambda: views.recent_runs(store, run_limit))],
        open_setups=read("open_setups", lambda: views.open_setups(store)),
        working_orders=orders,
        positions=positions,
        today=read(("today", trading_date), lambda: views.day_pnl(store, trading_date)),
        health=health,
        health_age_seconds=round((now - health_time).total_seconds(), 1) if health_time else None,
        clock=clock.to_dict(),
        connected=health["connected"] if running is not None and health is not None else None,
        backtests=read("backtests", lambda: views.backtest_runs(store)),
    )


def _with_state(run: dict[str, Any], running: LockHolder | None) -> dict[str, Any]:
    """Return a run row with its `state`: ended (an exit code), running (its process holds the lock) or died."""
    if run["exit_code"] is not None:
        state = "ended"
    else:
        state = "running" if running is not None and running.pid == run["pid"] else "died"
    return {**run, "state": state}


def check_health(report: StatusReport, max_age_seconds: float = DEFAULT_HEARTBEAT_MAX_AGE) -> str | None:
    """Return why the session is unhealthy, or None when a live holder has a fresh heartbeat."""
    if report.running is None:
        return "no slob session holds the lock"
    if report.health is None or report.health_age_seconds is None:
        return f"{report.running.describe()} has written no heartbeat"
    if report.health_age_seconds > max_age_seconds:
        return f"last heartbeat is {report.health_age_seconds:.0f}s old (limit {max_age_seconds:.0f}s)"
    return None
