"""`slob record` as a real process against the simulated gateway, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_rows


def _ticks(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with Store.open(db, readonly=True) as store:
            return store.tick_count()
    except Exception:  # noqa: BLE001 - the file may be mid-migration while the recorder starts
        return 0


def test_record_streams_ticks_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "record.db"
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z") as gateway:
        process = subprocess.Popen(
            [sys.executable, "-m", "slob_cli", "--db", str(db), "record", "--port", str(gateway.port),
             "--client-id", "61", "--no-warm-up", "--symbols", "NQ,MNQ"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )
        try:
            eventually(lambda: _ticks(db) >= 20 or process.poll() is not None, timeout=30)
            assert process.poll() is None, process.communicate()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Recorded" in stdout and "ticks" in stdout
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        rows = sql_rows(store.path, "SELECT count(*), min(size), count(DISTINCT local_symbol) FROM ticks")[0]
        locals_ = {row[0] for row in sql_rows(store.path, "SELECT DISTINCT local_symbol FROM ticks")}
    assert run["command"] == "record" and run["exit_code"] == 0 and run["ended_at"]
    assert run["data_mode"] == "live"
    stats = json.loads(run["stats"])
    assert stats["ticks_stored"] == rows[0] >= 20 and rows[1] > 0
    assert locals_ == {"NQH6", "MNQH6"}
    assert stats["dropped"] == 0


def test_record_with_a_duration_ends_by_itself_with_exit_0(tmp_path: Path) -> None:
    db = tmp_path / "record.db"
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z") as gateway:
        result = subprocess.run(
            [sys.executable, "-m", "slob_cli", "--db", str(db), "record", "--port", str(gateway.port),
             "--client-id", "62", "--no-warm-up", "--duration", "2s"],
            capture_output=True, text=True, env=dict(os.environ), timeout=30,
        )
    assert result.returncode == 0, result.stderr
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        assert run["exit_code"] == 0 and store.tick_count() > 0
