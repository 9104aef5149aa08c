"""No child process outlives slob, whatever signal ends it: a session starts no child process at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import eventually


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_run_sim_killed_in_its_first_seconds_leaves_no_process_behind(tmp_path: Path, signum: int) -> None:
    db = tmp_path / "orphans.db"
    process = subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db), "run", "--sim", "--speed", "60"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    seen: set[int] = set()
    parent = psutil.Process(process.pid)

    def started() -> bool:
        try:
            seen.update(child.pid for child in parent.children(recursive=True))
        except psutil.NoSuchProcess:
            return True
        return (tmp_path / "orphans.db-wal").exists() or process.poll() is not None

    try:
        eventually(started, timeout=60)  # the calendar, the lock, the embedded gateway and the store
        os.kill(process.pid, signum)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert seen == set(), "a session starts no child process"
    assert [pid for pid in seen if psutil.pid_exists(pid)] == []
