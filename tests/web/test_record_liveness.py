"""`slob record` shows life as a trading session does: alive everywhere while it records, stale once it hangs.

A real `slob record` process records from the simulated gateway over a real socket. On the
gateway's own clock (it says it is simulated) the recording is judged by the real-time pulse on its
lock record; posing as a real gateway (its data farm named as IB's), by its heartbeat rows on the
wall clock. `status` (table, JSON, --check), `dashboard --once` and `/api/status` agree; a SIGSTOPped
recorder (alive, holding the lock, doing nothing) is stale in all of them.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.runtime.lock import lock_path_for, process_stopped
from slob_cli.sim import encoders
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_file, sql_rows
from tests.web.test_api import get_json
from tests.web.test_sim_liveness import _check, _status

UTC = timezone.utc
BUSY = "2026-03-10T14:35Z"
HUNG = 120  # seconds a hang is made to have lasted (the dashboard and the web mark stale after 60)


def _held_seconds(running: dict[str, Any]) -> float:
    started = datetime.fromisoformat(running["started_at"].replace("Z", "+00:00"))
    return (datetime.now(UTC) - started).total_seconds()


def _stop_between_writes(db_path: Path, pid: int) -> None:
    """SIGSTOP the recorder outside a write transaction of its own, so that this test can still write the store."""
    def stopped_outside_a_write() -> bool:
        os.kill(pid, signal.SIGSTOP)
        eventually(lambda: process_stopped(pid), timeout=10, interval=0.01)
        conn = sqlite3.connect(db_path, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
            return True
        except sqlite3.OperationalError:  # stopped inside a commit: let it finish and stop it again
            os.kill(pid, signal.SIGCONT)
            return False
        finally:
            conn.close()

    eventually(stopped_outside_a_write, timeout=30, interval=0.05)


def _args(db_path: Path) -> dict[str, Any]:
    return json.loads(sql_rows(db_path, "SELECT args FROM runs ORDER BY id DESC LIMIT 1")[0][0])


@contextmanager
def _recorder(db_path: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "record", "--port", str(port), "--client-id", "61",
         "--no-warm-up", "--symbols", "NQ"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.kill()  # a stopped process dies too
        process.communicate(timeout=30)


def _alive_everywhere(runner: CliRunner, db_path: Path, url: str) -> dict[str, Any]:
    code, line = _check(runner, db_path)
    assert code == 0 and line.startswith("healthy: slob record (pid "), line
    data = _status(runner, db_path)
    assert data["liveness"]["state"] == "fresh" and data["running"]["pulses"] is True, data["liveness"]
    table = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "Alive: " in table and "STALE" not in table and "open orders None" not in table, table
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
    assert "STALE" not in frame, frame
    assert (get_json(url + "/api/status")["liveness"]["state"], get_json(url + "/api/header")["liveness"]["stale"]) \
        == ("fresh", False)
    return data


def _stale_everywhere(runner: CliRunner, db_path: Path, url: str, problem: str) -> None:
    """A hang of HUNG seconds (made so while the process is stopped): every reader says stale, by its default limit."""
    code, line = _check(runner, db_path)
    assert code == 1 and line.startswith(f"unhealthy: {problem}"), line
    assert _status(runner, db_path)["liveness"]["state"] == "stale"
    assert "STALE" in runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "STALE" in runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
    assert get_json(url + "/api/status")["liveness"]["state"] == "stale"
    header = get_json(url + "/api/header")
    assert header["liveness"]["stale"] is True and header["stale_text"].startswith(f"STALE, {problem}"), header


@pytest.mark.parametrize("delayed", [False, True], ids=["sim-data", "delayed-data"])
def test_a_recording_on_the_sim_gateways_clock_pulses_and_a_hung_one_is_stale(
        db_path: Path, web_server, runner: CliRunner, tmp_path: Path, delayed: bool) -> None:  # noqa: ANN001
    """Delayed data is `delayed`, not `sim`: only the run's sim_clock says its times are the gateway's."""
    Store.open(db_path).close()
    server = web_server()
    with SimGatewayThread(seed=5, start=BUSY, delayed=delayed) as gateway, \
            _recorder(db_path, gateway.port) as process:
        def pulsed_lately() -> bool:
            """Within 3 real seconds of now, though the lock was taken more than 10 s ago: it pulses."""
            assert process.poll() is None, process.communicate()
            data = _status(runner, db_path, "--max-age", "3")
            return data["running"] is not None and data["running"]["command"] == "record" \
                and _held_seconds(data["running"]) > 10 and data["liveness"]["state"] == "fresh"

        eventually(pulsed_lately, timeout=90, interval=0.2)
        data = _alive_everywhere(runner, db_path, server.url)
        assert data["clock"]["simulated"] and not data["clock"]["run_ended"], data["clock"]
        assert data["runs"][0]["data_mode"] == ("delayed" if delayed else "sim")
        assert (data["liveness"]["sign"], data["liveness"]["heartbeat_clock"]) == ("pulse", "sim")
        assert data["health"]["run_id"] == data["runs"][0]["id"]  # its own heartbeat, on the gateway's clock
        assert data["health"]["ts"].startswith("2026-03-10"), data["health"]
        assert _args(db_path)["sim_clock"] is True  # as `run --sim` and `trade --follow-sim-clock` say it
        _, line = _check(runner, db_path)
        assert "(real time)" in line and f"on the simulated clock of sim run {data['runs'][0]['id']} (running)" in line, line

        os.kill(process.pid, signal.SIGSTOP)
        eventually(lambda: _check(runner, db_path, "--max-age", "2")[0] == 1, timeout=30, interval=0.2)
        moment = datetime.now(UTC).timestamp() - HUNG
        os.utime(lock_path_for(db_path), (moment, moment))  # its last pulse, two minutes ago
        _stale_everywhere(runner, db_path, server.url, "last sign of life of its sim run ")

    # The report names its clock as it does a `run --sim`'s: the recording's spans are simulated seconds.
    result = runner.invoke(app, ["--db", str(db_path), "report", "--run", "1", "--duration", "1m", "--no-replay",
                                 "--json", "--report", str(tmp_path / "report")])
    assert result.exit_code in (0, 5), result.output
    assert json.loads(result.stdout)["figures"]["clock"] == "sim"


def test_a_recording_from_a_real_gateway_writes_heartbeats_on_the_wall_clock_and_a_hung_one_is_stale(
        db_path: Path, web_server, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    # The gateway names its data farm as IB's: the recorder takes it for a real one (wall clock, live data).
    monkeypatch.setitem(encoders.NOTICES, 2103, "Market data farm connection is broken:usfarm")
    monkeypatch.setitem(encoders.NOTICES, 2104, "Market data farm connection is OK:usfarm")
    Store.open(db_path).close()
    server = web_server()
    with SimGatewayThread(seed=5, start=BUSY) as gateway, _recorder(db_path, gateway.port) as process:
        def own_heartbeat() -> bool:
            assert process.poll() is None, process.communicate()
            data = _status(runner, db_path)
            return data["running"] is not None and data["health"] is not None \
                and data["health"]["run_id"] == data["runs"][0]["id"]

        eventually(own_heartbeat, timeout=60, interval=0.2)
        data = _alive_everywhere(runner, db_path, server.url)
        assert not data["clock"]["simulated"] and data["runs"][0]["data_mode"] == "live"
        assert (data["liveness"]["sign"], data["liveness"]["heartbeat_clock"]) == ("heartbeat", "wall")
        assert data["connected"] is True and data["health"]["payload"]["ticks_stored"] >= 0
        assert _args(db_path)["sim_clock"] is False

        _stop_between_writes(db_path, process.pid)
        eventually(lambda: _check(runner, db_path, "--max-age", "2")[0] == 1, timeout=30, interval=0.2)
        run_id = data["runs"][0]["id"]
        with sql_file(db_path) as conn:  # its heartbeats, as two minutes of the hang leave them
            conn.execute("UPDATE health SET ts = ts - ? WHERE run_id = ?", (HUNG * 1_000_000, run_id))
        assert sql_rows(db_path, "SELECT count(*) FROM health WHERE run_id = ?", (run_id,))[0][0] >= 1
        _stale_everywhere(runner, db_path, server.url, "last heartbeat ")
