"""A record/trade whose --duration ends while its gateway is away was cut short: never exit 0 (exit 4).

A gateway that hangs instead (its socket open, nothing sent) went away at the last data heard from it.

`paper` judges the same run "still disconnected at the end" (exit 5); `run --sim` is cut short by its
lockstep (exit 1). A session whose gateway went away and came back before the end exits 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.cli.main import app
from slob_cli.sim.gateway import SimGatewayThread
from slob_cli.sim.process import SimGatewayProcess
from tests.adapters.ib.conftest import BUSY_START
from tests.conftest import eventually
from tests.e2e.harness import slob_process
from tests.sqlfile import sql_rows

ROOT = Path(__file__).resolve().parents[2]


def _connected(db: Path) -> bool:
    try:
        return bool(sql_rows(db, "SELECT 1 FROM events WHERE type='IB_CONNECTED'"))
    except Exception:  # noqa: BLE001 - the store may not exist or be mid-creation yet
        return False


@pytest.mark.parametrize("command", [
    ("trade", "--account", "DU1234567"),
    ("record", "--symbols", "NQ", "--no-warm-up"),
], ids=["trade", "record"])
def test_a_session_whose_duration_ends_with_its_gateway_gone_exits_4_saying_so(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    db = tmp_path / "gone.db"
    # A gateway on this machine's time (the clock check passes); the period is long enough to see it go.
    with SimGatewayProcess(seed=3, start=datetime.now(UTC), speed=1.0) as gateway:
        with slob_process("--db", str(db), *command, "--port", str(gateway.port), "--client-id", "41",
                          "--duration", "12s") as process:
            eventually(lambda: _connected(db) or process.poll() is not None, timeout=60, interval=0.05)
            assert process.poll() is None, process.communicate()
            gateway.stop()  # gone for good: the session retries until its period ends
            stdout, stderr = process.communicate(timeout=60)
    assert "Traceback" not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert process.returncode == 4, (process.returncode, errors, stdout[-1000:])
    assert len(errors) == 1 and errors[0].startswith(f"Error: {command[0]} was cut short: the gateway went away at "), errors
    assert " UTC and was not back when its --duration" in errors[0], errors
    assert stdout.count("slob session summary") == (command[0] == "trade"), stdout  # the summary still printed, once
    [(code, stats, mode)] = sql_rows(db, "SELECT exit_code, stats, data_mode FROM runs")
    gone = json.loads(stats)
    gone = gone.get("stats", gone)["gateway_gone_at"]
    assert code == 4 and gone is not None and gone[:19].replace("T", " ") in errors[0], (code, stats)
    # It connected and stored data before the gateway went: status shows the data mode the summary printed, not "-".
    assert mode is not None and mode in stdout, (mode, stdout[-1000:])


HEARTBEAT_TIMEOUT = 3.0  # the hurried heartbeat's answer limit: the detection comes at least this far into the silence


def _count(db: Path, sql: str) -> int:
    try:
        return int(sql_rows(db, sql)[0][0])
    except Exception:  # noqa: BLE001 - the store may not exist or be mid-creation yet
        return 0


def test_a_session_whose_duration_ends_with_its_gateway_hung_went_away_at_the_last_data_heard(tmp_path: Path) -> None:
    """A gateway that hangs (its socket open, nothing sent) and is still silent when --duration ends: exit 4.

    The line, the runs row and `status` name the last data heard from it (before the silence began), not
    the moment the heartbeat gave up on it (HEARTBEAT_TIMEOUT s or more into the silence).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    db = tmp_path / "hung.db"
    ticks = "SELECT count(*) FROM ticks"
    # A busy market on the gateway's clock (1x): the session's clock follows it, so the moments are read there.
    with SimGatewayThread(seed=5, start=BUSY_START, speed=1.0) as gateway:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.hurried_heartbeat", "0.5", str(HEARTBEAT_TIMEOUT), "--db", str(db),
             "record", "--symbols", "NQ", "--no-warm-up", "--port", str(gateway.port), "--client-id", "42",
             "--duration", "20s"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            eventually(lambda: _count(db, ticks) >= 20 or process.poll() is not None, timeout=30, interval=0.05)
            assert process.poll() is None, process.communicate()
            gateway.set_silent(True)  # hung: the socket stays open, nothing more comes
            silent = gateway.clock.now()
            missed = "SELECT count(*) FROM events WHERE type='HEARTBEAT_MISSED'"
            eventually(lambda: _count(db, missed) >= 1 or process.poll() is not None, timeout=15, interval=0.05)
            assert process.poll() is None, ("the period ended before the hang was noticed", process.communicate())
            stdout, stderr = process.communicate(timeout=60)  # still silent when the period ends
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert "Traceback" not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert process.returncode == 4, (process.returncode, errors, stdout[-1000:])
    [(code, stats, mode)] = sql_rows(db, "SELECT exit_code, stats, data_mode FROM runs")
    stored = json.loads(stats)
    gone = datetime.fromisoformat(stored.get("stats", stored)["gateway_gone_at"])
    assert errors == [f"Error: record was cut short: the gateway went away at {gone:%Y-%m-%d %H:%M:%S} UTC and was "
                      "not back when its --duration/--until ended"], errors
    # The last data heard: no earlier than the last trade stored (whole exchange seconds), no later than the
    # silence, well before the heartbeat gave up. Both bounds allow a second: the moments are read on the
    # session's clock, which follows the gateway's (seen 60 ms behind it on a loaded machine), and a loaded
    # machine delays what is heard.
    [(last_trade, noticed)] = sql_rows(db, "SELECT (SELECT max(ts) FROM ticks), ts FROM events "
                                           "WHERE type='HEARTBEAT_MISSED'")  # microseconds, UTC
    [(down,)] = sql_rows(db, "SELECT payload FROM events WHERE type='IB_DISCONNECTED'")
    skew = timedelta(seconds=1.0)
    assert datetime.fromtimestamp(last_trade / 1e6, UTC) - skew <= gone <= silent + skew, (last_trade, gone, silent)
    noticed = datetime.fromtimestamp(noticed / 1e6, UTC)
    assert gone + timedelta(seconds=HEARTBEAT_TIMEOUT - 1.0) <= noticed, (gone, noticed)
    assert datetime.fromisoformat(json.loads(down)["at"]) == gone, (down, gone)
    assert code == 4 and mode == "sim" and f"data {mode})" in stdout, (code, mode, stdout[-1000:])
    # `status` shows the run as the session closed it: ended, exit 4, its data mode.
    shown = CliRunner().invoke(app, ["--db", str(db), "status", "--json"])
    assert shown.exit_code == 0, shown.output
    [run] = json.loads(shown.stdout)["runs"]
    assert (run["state"], run["exit_code"], run["data_mode"]) == ("ended", 4, "sim"), run
