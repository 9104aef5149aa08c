"""`web` and `dashboard` started while a session upgrades the store wait for it, say so once, then serve.

A real `slob migrate` process (tests/runtime/held_migrate.py) holds the store in the middle of its
migration; a real `slob web` and `slob dashboard --once` started meanwhile say on stderr whom they wait
for, and serve (over HTTP) and print a frame once the migration has ended.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slob_cli.adapters.store.schema import SCHEMA_VERSION
from tests.adapters.test_store_migration_v6 import _v5_store
from tests.conftest import eventually
from tests.web.conftest import ROOT, WebServer, spawn_web
from tests.web.test_api import get_json


def test_web_and_dashboard_started_during_a_migration_wait_for_it_then_serve(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _v5_store(db_path, monkeypatch, {})
    # tests/ is found from the project's root (each test runs in a directory of its own), as the other drivers are
    migration = subprocess.Popen([sys.executable, "-m", "tests.runtime.held_migrate", str(db_path)], cwd=ROOT,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server: WebServer | None = None
    frame: subprocess.Popen[str] | None = None
    try:
        assert migration.stdout is not None and migration.stdin is not None
        started = migration.stdout.readline()
        assert started == "migrating\n", (started, migration.poll() is not None and migration.stderr.read())
        server = spawn_web(db_path)
        frame = subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db_path), "dashboard", "--once"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "COLUMNS": "200"})
        upgrading = (f"slob migrate (pid {migration.pid}, since ", "is upgrading the store "
                     f"(schema v5 to v{SCHEMA_VERSION}), alive ", ": waiting up to 60 s for it to finish\n")
        eventually(lambda: bool(server and server.errors), timeout=60, interval=0.05)
        notice = server.errors[0]
        assert notice.startswith(f"slob web: {upgrading[0]}") and upgrading[1] in notice, notice
        assert notice.endswith(upgrading[2]), notice
        assert frame.stderr is not None
        waiting = frame.stderr.readline()
        assert waiting.startswith(f"slob dashboard: {upgrading[0]}") and waiting.endswith(upgrading[2]), waiting
        assert server.process.poll() is None and frame.poll() is None and server.output == []  # waiting, no error

        migration.stdin.write("\n")  # the migration goes on and ends
        migration.stdin.flush()
        assert migration.wait(60) == 0, migration.stderr.read() if migration.stderr else ""

        url = server.serving()
        header = get_json(url + "/api/header")
        assert header["running"] is None and "liveness" in header, header
        shown, rest = frame.communicate(timeout=60)
        assert frame.returncode == 0 and rest == "", rest
        assert shown.startswith(f"slob dashboard — {db_path} — ") and "○ no session running" in shown, shown
    finally:
        for process in (migration, frame):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate(timeout=30)
        stopped = server.stop() if server is not None else ("", "")
    assert stopped[1] == notice, stopped  # one line on stderr: the notice, never an error
