"""A record/trade whose --duration ends while its gateway is away was cut short: never exit 0 (exit 4).

`paper` judges the same run "still disconnected at the end" (exit 5); `run --sim` is cut short by its
lockstep (exit 1). A session whose gateway went away and came back before the end exits 0.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slob_cli.sim.process import SimGatewayProcess
from tests.conftest import eventually
from tests.e2e.harness import slob_process
from tests.sqlfile import sql_rows


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
