"""status, dashboard --once and /api/header read the lock holder once each and show the same holder.

A real `slob run --sim` process holds the store. Each surface's call reads the holder (its lock record
and the kernel's lock table) exactly once, where it had read it up to four times (its clock, its book
of live sim runs, the memo's key), and all three name the same process, command, start and run.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.runtime import lock
from slob_cli.runtime.lock import LockHolder
from slob_cli.web.app import create_app
from tests.conftest import eventually
from tests.web.test_sim_liveness import _status, sim_run

ZONE = ZoneInfo("Europe/Stockholm")  # the display zone by default


@contextmanager
def _holder_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Count the reads of the lock holder's record (every lock.current_holder reads it once)."""
    reads: list[int] = []
    original = lock.read_record

    def counted(db_path: Any) -> LockHolder | None:
        reads.append(1)
        return original(db_path)

    with monkeypatch.context() as patch:
        patch.setattr(lock, "read_record", counted)
        yield reads


def _get(asgi: Any, path: str) -> Any:
    """GET a path from the ASGI app in this process (so its reads are counted); return its JSON."""
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi(scope, receive, send))
    assert sent[0]["status"] == 200, sent
    return json.loads(b"".join(message.get("body", b"") for message in sent[1:]))


def test_status_dashboard_and_api_header_read_the_holder_once_and_show_the_same_holder(
        db_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    session = sim_run(db_path, "60")
    try:
        def running_its_run() -> bool:
            data = _status(runner, db_path)
            return data["running"] is not None and data["running"]["run_id"] is not None \
                and data["runs"][0]["state"] == "running" and data["clock"]["simulated"]

        eventually(running_its_run, timeout=120, interval=0.1)
        with _holder_reads(monkeypatch) as reads:
            status = _status(runner, db_path)
            after_status = len(reads)
            frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "200"})
            after_dashboard = len(reads)
            with Store.open(db_path, readonly=True) as reader:
                asgi = create_app(reader, db_path, ZONE.key, None, db_path)
                header = _get(asgi, "/api/header")
                after_header = len(reads)
                web_status = _get(asgi, "/api/status")
                after_web_status = len(reads)
                _get(asgi, "/api/positions")
                after_positions = len(reads)
        assert frame.exit_code == 0, frame.output
        counts = [after_status, after_dashboard - after_status, after_header - after_dashboard,
                  after_web_status - after_header, after_positions - after_web_status]
        assert counts == [1, 1, 1, 1, 1], counts  # status, dashboard --once, /api/header, /api/status, /api/positions

        holder = LockHolder(**status["running"])
        assert holder.pid == session.pid and holder.command == "run"
        assert web_status["running"] == status["running"]
        named = f"slob run (pid {session.pid}, since {holder.started_at}"  # its start: on the wall clock
        assert header["running"].startswith(named) and header["running_pid"] == session.pid, header["running"]
        assert (header["run_id"], header["run_command"]) == (holder.run_id, "run") == (status["runs"][0]["id"], "run")
        since = datetime.fromisoformat(holder.started_at.replace("Z", "+00:00")).astimezone(ZONE)
        shown = re.search(r"● slob (\w+) \(pid (\d+), since ([\d-]+ [\d:]+)", frame.stdout)
        assert shown is not None, frame.stdout
        assert shown.groups() == ("run", str(session.pid), since.strftime("%Y-%m-%d %H:%M:%S")), frame.stdout
        assert status["liveness"]["state"] == header["liveness"]["state"] == web_status["liveness"]["state"] == "fresh"
        assert status["liveness"]["sign"] == header["liveness"]["sign"] == "pulse"
        assert "alive: " in frame.stdout and "STALE" not in frame.stdout, frame.stdout
        assert status["clock"]["run_id"] == header["clock"]["run_id"] == holder.run_id
    finally:
        session.kill()
        session.communicate(timeout=30)
