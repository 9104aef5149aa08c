"""A session started by an older slob never pulses: `status` judges it by what it does write, never by a pulse.

Its lock record does not say `pulses` (an older slob wrote pid, command and start only), and its
mtime is only when it took the lock. A wall-clock session with heartbeats is judged by them as ever;
a run on a simulated clock, or an older recorder that wrote no heartbeat, has no real-time sign at
all: it is alive (its process holds the lock) and says why it is not judged, until the process is
stopped. The holder here is a real process holding the real lock, its record as an older slob left it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.conftest import eventually
from tests.web.test_api import get_json
from tests.web.test_sim_liveness import _check, _status

ROOT = Path(__file__).resolve().parents[2]

# argv: store, command, its args (JSON), its data mode, its newest heartbeat: "sim" (on a sim clock), "wall" or
# "none", and its lock record: "older" (no `pulses`) or "missing" (removed: only /proc/locks names the holder).
OLDER_SESSION = textwrap.dedent("""
    import json, os, sys, time
    from datetime import datetime, timedelta, timezone
    from slob_cli.adapters.store import Store
    from slob_cli.runtime.lock import lock_path_for, try_acquire

    db, command, args, mode, heartbeat, kept = sys.argv[1:]
    lock = try_acquire(db, command)
    record = lock_path_for(db)
    older = {k: v for k, v in json.loads(record.read_text()).items() if k in ("pid", "command", "started_at")}
    record.write_text(json.dumps(older))
    moment = time.time() - 300
    os.utime(record, (moment, moment))  # taken five minutes ago and never touched since
    if kept == "missing":
        record.unlink()
    now = datetime.now(timezone.utc)
    sim_now = datetime(2026, 1, 6, 15, 0, tzinfo=timezone.utc)
    with Store.open(db) as store:
        run_id = store.start_run(command, json.loads(args), sim_now - timedelta(hours=1) if heartbeat == "sim" else now)
        store.set_run_mode(run_id, mode)
        if heartbeat != "none":
            row = {"connected": True, "last_tick_age": 1.0, "buffer_utilization": 0.0, "open_orders": 0, "positions": 0}
            store.record_health(run_id, sim_now if heartbeat == "sim" else now, row)
    print("ready", flush=True)
    sys.stdin.read()
""")


@contextmanager
def _older_session(db_path: Path, command: str, args: dict[str, Any], mode: str, heartbeat: str,
                   kept: str = "older") -> Iterator[subprocess.Popen[str]]:
    session = subprocess.Popen([sys.executable, "-c", OLDER_SESSION, str(db_path), command, json.dumps(args), mode,
                                heartbeat, kept], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT)
    try:
        assert session.stdout is not None and session.stdout.readline().strip() == "ready", session.communicate()
        yield session
    finally:
        session.kill()
        session.communicate(timeout=30)


@pytest.mark.parametrize(("command", "args", "mode", "heartbeat"), [
    ("run", {"sim": True, "seed": 7}, "sim", "sim"),  # an older `run --sim`: heartbeats on the sim clock only
    ("record", {"symbols": ["NQ"]}, "live", "none"),  # an older `record`: no heartbeat at all
])
def test_an_older_session_without_a_pulse_is_alive_by_its_process_and_stale_once_stopped(
        db_path: Path, web_server, runner: CliRunner, command: str, args: dict[str, Any], mode: str,  # noqa: ANN001
        heartbeat: str) -> None:
    Store.open(db_path).close()
    server = web_server()
    with _older_session(db_path, command, args, mode, heartbeat) as session:
        code, line = _check(runner, db_path)
        assert code == 0, line
        assert line.startswith(f"healthy: slob {command} (pid {session.pid}, since ")
        assert "alive (no pulse: started by an older slob; judged by its process only)" in line, line
        data = _status(runner, db_path)
        assert data["running"]["pulses"] is None
        liveness = data["liveness"]
        assert (liveness["state"], liveness["sign"], liveness["stale"]) == ("unknown", "process", False), liveness
        assert liveness["note"] == "no pulse: started by an older slob"
        table = " ".join(runner.invoke(app, ["--db", str(db_path), "status"]).stdout.split())
        assert "Alive: yes (no pulse: started by an older slob; judged by its process only)" in table, table
        assert "STALE" not in table
        frame = " ".join(runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout.split())
        assert "alive (no pulse: started by an older slob)" in frame and "STALE" not in frame, frame
        web = get_json(server.url + "/api/status")["liveness"]
        assert (web["state"], web["stale"]) == ("unknown", False)

        session.send_signal(signal.SIGSTOP)  # the one sign it has: a stopped process does nothing
        eventually(lambda: _check(runner, db_path)[0] == 1, timeout=30, interval=0.1)
        assert _check(runner, db_path)[1] == (f"unhealthy: slob {command} (pid {session.pid}, since "
                                              f"{data['running']['started_at']}) is stopped (no pulse: started by "
                                              "an older slob)")
        assert _status(runner, db_path)["liveness"]["state"] == "stale"
        assert "STALE" in runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
        assert get_json(server.url + "/api/header")["liveness"]["stale"] is True


def test_an_older_wall_clock_session_is_judged_by_its_heartbeat_as_before(db_path: Path, runner: CliRunner) -> None:
    Store.open(db_path).close()
    with _older_session(db_path, "trade", {}, "live", "wall"):
        code, line = _check(runner, db_path)
        assert code == 0 and "heartbeat " in line and "no pulse" not in line, line
        liveness = _status(runner, db_path)["liveness"]
        assert (liveness["state"], liveness["sign"], liveness["note"]) == ("fresh", "heartbeat", None), liveness


def test_a_holder_whose_lock_record_is_missing_is_judged_by_its_process_and_says_so(
        db_path: Path, runner: CliRunner) -> None:
    Store.open(db_path).close()
    with _older_session(db_path, "run", {"sim": True}, "sim", "sim", kept="missing") as session:
        code, line = _check(runner, db_path)
        assert (code, line) == (0, f"healthy: slob session (pid {session.pid}, since unknown on the wall clock), "
                                   "alive (no pulse: its lock record is missing; judged by its process only), "
                                   "heartbeat 0 s ago on the simulated clock of sim run 1 (running)"), line
        assert _status(runner, db_path)["liveness"]["note"] == "no pulse: its lock record is missing"
