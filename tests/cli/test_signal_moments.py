"""SIGINT and SIGTERM at the moments outside the engine's own signal handling: a real `slob trade` process.

While a new store is being created (the lock taken, before any connection) and after the engine has stopped
(the run summed up, its runs row still open), a signal ends the session as one does mid-run: one line, the
shell's exit code (130/143, never 0, never a silent kill), the runs row closed with that code, and a store
the session created but stored nothing in removed again (lock record included), so the next start is clean.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slob_cli.sim.process import SimGatewayProcess
from tests.sqlfile import sql_rows

ROOT = Path(__file__).resolve().parents[2]


def _held(where: str, *arguments: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "tests.cli.held_session", where, *arguments], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:  # the summary table comes first in `summary`
        if line == "held\n":
            return process
    process.kill()
    raise AssertionError(process.communicate(timeout=30))


def _end(process: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    process.send_signal(signum)
    try:
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.parametrize("command", [["trade", "--account", "DU1234567"], ["record", "--symbols", "NQ"]],
                         ids=["trade", "record"])  # a session_lock of its own; run_guard's lock (the same one)
@pytest.mark.parametrize("where", ["lock", "create"])
@pytest.mark.parametrize(("signum", "code", "line"), [
    (signal.SIGINT, 130, "Interrupted."), (signal.SIGTERM, 143, "Terminated.")], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_new_store_is_created_leaves_no_store_and_says_so(
        tmp_path: Path, signum: int, code: int, line: str, where: str, command: list[str]) -> None:
    db = tmp_path / "new.db"
    process = _held(where, "--db", str(db), *command, "--port", "9")
    assert db.exists()  # the lock made it; the schema is being written
    stdout, stderr = _end(process, signum)
    assert process.returncode == code, (process.returncode, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1] == line, stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [], "a new store that holds nothing stays behind"


def test_a_sigterm_while_the_run_sums_up_closes_its_row_with_143(tmp_path: Path) -> None:
    db = tmp_path / "trade.db"
    with SimGatewayProcess(seed=3, start=datetime.now(UTC), speed=1.0) as gateway:
        process = _held("summary", "--db", str(db), "trade", "--account", "DU1234567", "--port", str(gateway.port),
                        "--client-id", "43", "--duration", "2s")
        stdout, stderr = _end(process, signal.SIGTERM)
    assert process.returncode == 143, (process.returncode, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1] == "Terminated.", stderr
    [(exit_code, ended)] = sql_rows(db, "SELECT exit_code, ended_at FROM runs")
    assert exit_code == 143 and ended is not None, (exit_code, ended)  # not a run that "died"
