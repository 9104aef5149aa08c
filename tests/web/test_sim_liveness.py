"""A running sim run is judged alive by real time, not by its virtual heartbeats: one verdict everywhere.

Its health rows come every 15 virtual minutes (the same rows at any speed), so their age on the sim
clock passes 60 s while the run is busy; `status --check`, `status` (table and JSON), `dashboard
--once` and `/api/status` read the real-time pulse on its lock record instead, and call it stale once
the process stops showing life (here: SIGSTOP, a hung process that still holds the lock).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.conftest import eventually
from tests.web.test_api import get_json


def _status(runner: CliRunner, db_path: Path, *args: str) -> Any:
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check(runner: CliRunner, db_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--db", str(db_path), "status", "--check", *args])
    return result.exit_code, result.stdout.strip()


def sim_run(db_path: Path, speed: str) -> subprocess.Popen[str]:
    """Start a real `slob run --sim --seed 7 --speed SPEED` on a store made beforehand."""
    Store.open(db_path).close()
    return subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "run", "--sim", "--seed", "7", "--speed", speed,
         "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_busy_sim_run_is_healthy_everywhere_and_a_hung_one_stale_everywhere(
        db_path: Path, web_server, runner: CliRunner) -> None:  # noqa: ANN001
    session = sim_run(db_path, "300")
    try:
        server = web_server()

        def heartbeat_old_on_the_sim_clock() -> bool:
            data = _status(runner, db_path)
            return data["running"] is not None and data["clock"]["simulated"] and not data["clock"]["run_ended"] \
                and (data["health_age_seconds"] or 0) > 60

        eventually(heartbeat_old_on_the_sim_clock, timeout=120, interval=0.1)
        code, line = _check(runner, db_path)
        assert code == 0 and line.startswith("healthy: slob run"), line
        assert "(real time)" in line and "on the simulated clock of sim run 1 (running)" in line, line
        data = _status(runner, db_path)
        assert data["liveness"]["state"] == "fresh" and data["liveness"]["sign"] == "pulse", data["liveness"]
        assert data["liveness"]["heartbeat_clock"] == "sim" and data["liveness"]["age_seconds"] < 60
        web = get_json(server.url + "/api/status")
        assert (web["liveness"]["state"], web["liveness"]["stale"]) == ("fresh", False)
        assert get_json(server.url + "/api/header")["liveness"]["state"] == "fresh"
        frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "200"}).stdout  # one line
        assert frame.count("on the simulated clock of sim run 1 (running)") == 2 and "alive:" in frame and "STALE" not in frame, frame
        table = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
        assert "Alive: " in table and "STALE" not in table, table

        os.kill(session.pid, signal.SIGSTOP)  # alive and holding the lock, but showing no life
        eventually(lambda: _check(runner, db_path, "--max-age", "2")[0] == 1, timeout=30, interval=0.2)
        code, line = _check(runner, db_path, "--max-age", "2")
        assert line.startswith("unhealthy: last sign of life of its sim run "), line
        assert line.endswith(" s ago (real time; limit 2 s)"), line
        assert _status(runner, db_path, "--max-age", "2")["liveness"]["state"] == "stale"
        assert "STALE" in runner.invoke(app, ["--db", str(db_path), "status", "--max-age", "2"]).stdout
        # The dashboard and the web mark it by the default limit (60 s), as `status` does without --max-age.
        assert _status(runner, db_path)["liveness"]["state"] == get_json(server.url + "/api/status")["liveness"]["state"]
    finally:
        session.kill()
        session.communicate(timeout=30)
