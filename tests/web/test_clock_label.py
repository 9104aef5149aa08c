"""One name of the session's clock: status, `status --check`, dashboard and `/api/header` say it alike.

It used to be "(SIMULATED clock of sim run 2, ended)" in status, " — SIMULATED clock of sim run 2 (ended)" in
the dashboard, "on the sim clock" beside a heartbeat and "clock (simulated, run ended)" on the page; now every
one of them is views.StoreClock.label: "simulated clock of sim run 2 (ended)", which `grep 'simulated clock'`
finds, as it finds the log's and the paper report's spans on the simulated clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.core.models import Tick
from slob_cli.runtime.lock import acquire
from slob_cli.web.app import create_app
from tests.opsdata import add_health
from tests.web.test_one_header import _get

UTC = timezone.utc
SIM_NOW = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)
WIDE = {"COLUMNS": "200"}
OLD_WORDS = ("SIMULATED clock", "sim clock", "clock (simulated")


def _sim_run(store: Store) -> int:
    """A `run --sim` of this process: its last heartbeat 2 s before its newest tick (its clock's now)."""
    run_id = store.start_run("run", {"sim": True, "sim_clock": True}, SIM_NOW - timedelta(hours=1))
    store.set_run_mode(run_id, "sim")
    store.insert_ticks([Tick("NQ", SIM_NOW, 25470.0, 1)], run_id=run_id)
    add_health(store, to_iso(SIM_NOW - timedelta(seconds=2)), connected=True, run_id=run_id)
    return run_id


def _every_surface(runner: CliRunner, db_path: Path) -> tuple[dict, str, str, str, dict]:
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    table = " ".join(runner.invoke(app, ["--db", str(db_path), "status"], env=WIDE).stdout.split())
    check = runner.invoke(app, ["--db", str(db_path), "status", "--check"], env=WIDE).stdout.strip()
    frame = " ".join(runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env=WIDE).stdout.split())
    with Store.open(db_path, readonly=True) as reader:
        header = _get(create_app(reader, db_path, "Europe/Stockholm", None, db_path), "/api/header")
    return data, table, check, frame, header


def test_status_check_dashboard_and_the_page_name_a_running_sim_runs_clock_alike(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    run_id = _sim_run(store)
    with acquire(db_path, "run", pulses=True) as lock:
        lock.note_run(run_id)
        data, table, check, frame, header = _every_surface(runner, db_path)
    label = f"simulated clock of sim run {run_id} (running)"
    assert data["clock"]["label"] == header["clock"]["label"] == label, (data["clock"], header["clock"])
    assert f"Europe/Stockholm on the {label}" in table, table  # Now: ...
    assert f"(2 s ago on the {label})" in table, table  # the heartbeat's age, on the same clock
    assert check.startswith("healthy: ") and check.endswith(f"heartbeat 2 s ago on the {label}"), check
    assert f"Europe/Stockholm on the {label}" in frame and f"heartbeat: 2 s ago on the {label}" in frame, frame
    assert header["ages"]["heartbeat"] == f"2 s ago on the {label}", header["ages"]
    for shown in (table, check, frame, json.dumps(header)):
        assert not any(old in shown for old in OLD_WORDS), shown


def test_an_ended_sim_runs_clock_is_named_alike_on_every_screen(runner: CliRunner, db_path: Path,
                                                               store: Store) -> None:
    run_id = _sim_run(store)
    store.end_run(run_id, 0, SIM_NOW, data_mode="sim")
    data, table, check, frame, header = _every_surface(runner, db_path)
    label = f"simulated clock of sim run {run_id} (ended)"
    assert data["clock"]["label"] == header["clock"]["label"] == label
    assert f"Europe/Stockholm on the {label}" in table and f"(2 s ago on the {label})" in table, table
    assert f"Europe/Stockholm on the {label}" in frame and f": 2 s ago on the {label}" in frame, frame
    assert check == "unhealthy: no slob session holds the lock", check
    for shown in (table, frame, json.dumps(header)):
        assert not any(old in shown for old in OLD_WORDS), shown


def test_the_wall_clock_needs_no_name(runner: CliRunner, db_path: Path, store: Store) -> None:
    now = datetime.now(UTC)
    run_id = store.start_run("trade", {"sim": False, "sim_clock": False}, now - timedelta(minutes=5))
    add_health(store, to_iso(now - timedelta(seconds=2)), run_id=run_id)
    store.end_run(run_id, 0, now - timedelta(seconds=1))
    data, table, _, frame, header = _every_surface(runner, db_path)
    assert data["clock"]["label"] is None and header["clock"]["label"] is None
    assert "simulated" not in table and "simulated" not in frame, (table, frame)
