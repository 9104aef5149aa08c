"""One wording of the stale verdict: status's `Alive:` line, `status --check`, `dashboard --once` and
`/api/header` (the web page's heartbeat line) say the same words for one store, its age worded as every
other age is (views.ago: "10 min ago"), never raw seconds ("630s old (limit 60s)").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.core.models import Tick
from slob_cli.runtime.lock import acquire, lock_path_for
from slob_cli.web.app import create_app
from tests.conftest import eventually
from tests.opsdata import add_health
from tests.web.test_one_header import _get

UTC = timezone.utc
WIDE = {"COLUMNS": "250"}
SILENT = timedelta(minutes=10, seconds=20)  # "10 min ago" for the next 40 real seconds


@contextmanager
def _wall_session_silent(db_path: Path, store: Store) -> Iterator[str]:
    """A `paper` session on the wall clock holding the lock, its own last heartbeat SILENT ago."""
    with acquire(db_path, "paper"):
        now = datetime.now(UTC)
        run_id = store.start_run("paper", {}, now - timedelta(hours=1))
        add_health(store, to_iso(now - SILENT), run_id=run_id)
        yield "last heartbeat 10 min ago (limit 1 min)"


@contextmanager
def _sim_run_silent(db_path: Path, store: Store) -> Iterator[str]:
    """A running `run --sim` holding the lock, its real-time pulse put SILENT back (a hung process)."""
    with acquire(db_path, "run", pulses=True):
        sim_now = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)
        run_id = store.start_run("run", {"sim": True, "sim_clock": True}, sim_now - timedelta(hours=1))
        store.insert_ticks([Tick("NQ", sim_now, 25470.5, 1)], run_id=run_id)
        add_health(store, to_iso(sim_now - timedelta(seconds=5)), run_id=run_id)
        pulsed = (datetime.now(UTC) - SILENT).timestamp()
        os.utime(lock_path_for(db_path), (pulsed, pulsed))
        yield "last sign of life of its sim run 10 min ago (real time; limit 1 min)"


def _surfaces(runner: CliRunner, db_path: Path, reader: Store) -> dict[str, Any]:
    """Read every surface once: /api/header, the status table, `status --check`, one dashboard frame."""
    header = _get(create_app(reader, db_path, "Europe/Stockholm", None, db_path), "/api/header")
    table = runner.invoke(app, ["--db", str(db_path), "status"], env=WIDE)
    check = runner.invoke(app, ["--db", str(db_path), "status", "--check"], env=WIDE)
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env=WIDE).stdout
    return {"header": header, "table": " ".join(table.stdout.split()), "check": (check.exit_code, check.stdout.strip()),
            "frame": " ".join(frame.split())}


@pytest.mark.parametrize("silent", [_wall_session_silent, _sim_run_silent], ids=["heartbeat", "sim-pulse"])
def test_status_check_dashboard_and_the_page_say_the_same_stale_text(runner: CliRunner, db_path: Path, store: Store,
                                                                      silent: Any) -> None:
    with silent(db_path, store) as expected, Store.open(db_path, readonly=True) as reader:
        readings: list[dict[str, Any]] = []

        def alike() -> bool:
            # Real time moves between the reads: read again should a reading straddle a minute's change.
            seen = _surfaces(runner, db_path, reader)
            readings.append(seen)
            return seen["header"]["stale_text"] == f"STALE, {expected}"

        try:
            eventually(alike, timeout=30, interval=0.05)
        except AssertionError:
            raise AssertionError(readings[-1]) from None
    seen = readings[-1]
    assert seen["header"]["liveness"]["stale"] is True, seen["header"]
    assert seen["check"] == (1, f"unhealthy: {expected}"), seen["check"]
    assert f"Alive: STALE, {expected}" in seen["table"], seen["table"]
    assert f"STALE, {expected}" in seen["frame"], seen["frame"]
    assert "s old" not in seen["table"] + seen["frame"] + seen["check"][1]
