"""The heartbeat shown beside a running session is its own run's, never an earlier run's.

An earlier `record` run ended a moment ago with a final heartbeat that says DISCONNECTED, its last tick
4321 s old. A new real `slob record` process (the simulated gateway posing as a real one: wall clock)
is stopped (SIGSTOP, between its writes) once its run row exists and before its first heartbeat (8 s
after it starts): every surface says it has written no heartbeat yet and when it started, judges it
by its pulse (the lock's taking), and shows none of the earlier run's figures. Once it runs on, its
own heartbeat is shown; once it is gone, the last heartbeat is named as that run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.models import Tick
from slob_cli.sim import encoders
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_rows
from tests.web.test_api import get_json
from tests.web.test_record_liveness import BUSY, _recorder, _stop_between_writes
from tests.web.test_sim_liveness import _check, _status

UTC = timezone.utc


def _earlier_run(db_path: Path) -> int:
    """An ended `record` run whose final heartbeat (3 s ago) says DISCONNECTED, its last tick 4321 s old."""
    now = datetime.now(UTC)
    with Store.open(db_path) as store:
        run_id = store.start_run("record", {}, now - timedelta(hours=2))
        store.insert_ticks([Tick("NQ", now - timedelta(seconds=4321), 25000.0, 1)], run_id=run_id)
        store.record_health(run_id, now - timedelta(seconds=3), {
            "connected": False, "last_tick_age": 4321.0, "buffer_utilization": 0.0, "open_orders": None,
            "positions": None})
        store.end_run(run_id, 0, now - timedelta(seconds=2))
    return run_id


def _newer_run(db_path: Path, earlier: int) -> int | None:
    rows = sql_rows(db_path, "SELECT max(id) FROM runs WHERE id > ?", (earlier,))
    return rows[0][0] if rows else None


def _own_heartbeats(db_path: Path, run_id: int) -> int:
    return sql_rows(db_path, "SELECT count(*) FROM health WHERE run_id = ?", (run_id,))[0][0]


def test_a_new_session_shows_no_heartbeat_yet_never_the_earlier_runs_then_its_own(
        db_path: Path, web_server, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(encoders.NOTICES, 2103, "Market data farm connection is broken:usfarm")
    monkeypatch.setitem(encoders.NOTICES, 2104, "Market data farm connection is OK:usfarm")
    earlier = _earlier_run(db_path)
    server = web_server()
    with SimGatewayThread(seed=5, start=BUSY) as gateway, _recorder(db_path, gateway.port) as process:
        eventually(lambda: _newer_run(db_path, earlier) is not None, timeout=60, interval=0.01)
        run_id = _newer_run(db_path, earlier)
        _stop_between_writes(db_path, process.pid)  # its first heartbeat comes 8 s after its start
        assert _own_heartbeats(db_path, run_id) == 0, "stopped too late to see its first seconds"

        data = _status(runner, db_path)
        assert data["running"]["command"] == "record" and data["runs"][0]["state"] == "running"
        assert (data["health"], data["health_age_seconds"], data["connected"]) == (None, None, None)
        assert data["health_of"] == {"run_id": run_id, "of_running_session": True, "written": False}
        liveness = data["liveness"]
        assert (liveness["state"], liveness["sign"], liveness["heartbeat_clock"]) == ("fresh", "pulse", "wall")
        assert liveness["started_seconds"] is not None and liveness["started_seconds"] < 60
        code, line = _check(runner, db_path)
        assert code == 0 and line.startswith("healthy: slob record (pid "), line
        assert "(real time), no heartbeat yet, started " in line, line
        table = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"}).stdout
        assert f"Health (run {run_id}): no heartbeat yet, started " in table, table
        assert "DISCONNECTED" not in table and "1 h 12 min" not in table and "STALE" not in table, table
        frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "200"}).stdout
        assert "no heartbeat yet, started " in frame and "DISCONNECTED" not in frame, frame
        assert "STALE" not in frame and "1 h 12 min" not in frame, frame
        header = get_json(server.url + "/api/header")
        assert header["heartbeat_of"] == data["health_of"] and header["heartbeat_age_seconds"] is None
        assert (header["connected"], header["run_id"], header["run_command"]) == (None, run_id, "record")
        tick_age = header["last_tick_age_seconds"]  # its own first tick's (it may have one), never the earlier run's
        assert tick_age is None or tick_age < 600, tick_age
        assert header["liveness"]["state"] == "fresh"
        web = get_json(server.url + "/api/status")
        assert (web["health"], web["connected"], web["liveness"]["sign"]) == (None, None, "pulse")

        # Still before its first heartbeat, a session that stops pulsing is stale by its pulse.
        eventually(lambda: _check(runner, db_path, "--max-age", "1")[0] == 1, timeout=30, interval=0.2)
        code, line = _check(runner, db_path, "--max-age", "1")
        assert line.startswith("unhealthy: no heartbeat yet, started "), line
        assert "; its last pulse " in line and line.endswith(" s ago (limit 1 s)"), line

        os.kill(process.pid, signal.SIGCONT)

        def own_heartbeat() -> bool:
            assert process.poll() is None, process.communicate()
            return (_status(runner, db_path)["health"] or {}).get("run_id") == run_id

        eventually(own_heartbeat, timeout=60, interval=0.2)
        data = _status(runner, db_path)
        assert data["connected"] is True and data["liveness"]["sign"] == "heartbeat"
        assert data["health_of"] == {"run_id": run_id, "of_running_session": True, "written": True}
        table = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"}).stdout
        assert f"Health of run {run_id} at " in table and ": connected, last tick" in table, table
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    data = _status(runner, db_path)
    assert data["running"] is None and data["health"]["run_id"] == run_id and data["connected"] is None
    assert data["health_of"] == {"run_id": run_id, "of_running_session": False, "written": True}
    table = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"}).stdout
    assert f"Last health of run {run_id} at " in table and "no session running" in table, table
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "200"}).stdout
    assert f"last heartbeat (run {run_id}): " in frame, frame
    header = get_json(server.url + "/api/header")
    assert header["heartbeat_of"]["of_running_session"] is False and header["heartbeat_of"]["run_id"] == run_id


def test_a_session_creating_its_store_is_healthy_from_its_lock_to_its_end(db_path: Path, runner: CliRunner) -> None:
    """`status --check` polled as fast as it answers while `slob run --sim` makes a new store and runs.

    From the moment its lock record exists, the session is healthy in every answer: while the store
    file is still empty (the lock made it), while the session creates the schema, and while it runs.
    Only after it ends (its lock record gone before the poll read the lock) may it be no session.
    """
    from slob_cli.runtime.lock import lock_path_for

    assert not db_path.exists()
    session = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "run", "--sim", "--seed", "7", "--speed", "max",
         "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    answers: list[str] = []
    try:
        while session.poll() is None:
            if lock_path_for(db_path).exists():
                answers.append(" ".join(_check(runner, db_path)[1].split()) or "(no stdout)")
    finally:
        session.kill()
        _, errors = session.communicate(timeout=60)
    assert session.returncode == 0, errors
    healthy = [answer for answer in answers if answer.startswith("healthy: slob run (pid ")]
    assert healthy, answers
    others = {answer for answer in answers if answer not in healthy}
    assert others <= {"unhealthy: no slob session holds the lock"}, others
    assert answers[-1] in (healthy[-1], "unhealthy: no slob session holds the lock")
    # Polls in its first second (about 40 polls in 3 s here) read `... is creating the store, alive ...`.
    creating = [answer for answer in healthy if " is creating the store, alive " in answer]
    assert all("no heartbeat yet, started " in answer for answer in creating), creating
    assert not [answer for answer in healthy if "upgrading" in answer], "a new store is created, not upgraded"
