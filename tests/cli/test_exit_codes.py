"""Exit codes tell the truth: no first connection exits 4 (one line); signals stop cleanly with 0.

Every code in `slob --help` is exercised through the CLI here or in the file named beside it:
0 (below), 1 unexpected (tests/cli/test_root.py), 2 usage and 3 config (tests/cli/test_candles_bad_input.py),
4 (below), 5 validation (tests/cli/test_paper.py), 130 Ctrl-C in a short command (below).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import EXIT_CODES_HELP, app
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_value


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("command", [
    ["trade", "--account", "DU1234567", "--duration", "10s"],
    ["run", "--account", "DU1234567", "--duration", "10s"],
    ["paper", "--account", "DU1234567", "--duration", "10s"],
    ["record", "--duration", "10s", "--no-warm-up"],
    ["record", "--duration", "2", "--no-warm-up"],  # one duration grammar: hours, like paper
    ["record", "--duration", "1d", "--no-warm-up"],
])
def test_no_first_connection_within_connect_timeout_exits_4_with_one_line(
        runner: CliRunner, db_path: Path, command: list[str]) -> None:
    Store.open(db_path).close()  # an existing store keeps the failed run's row
    port = _closed_port()
    result = runner.invoke(app, ["--db", str(db_path), *command, "--port", str(port), "--connect-timeout", "1"])
    assert result.exit_code == 4, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    line = errors[0]
    assert f"127.0.0.1:{port}" in line and "connection refused" in line and "check that" in line
    with Store.open(db_path, readonly=True) as store:
        assert store.runs(1)[0]["exit_code"] == 4


@pytest.mark.parametrize("command", [
    ["trade", "--account", "DU1234567", "--duration", "10s"],
    ["run", "--account", "DU1234567", "--duration", "10s"],
    ["paper", "--account", "DU1234567", "--duration", "10s"],
    ["record", "--duration", "10s", "--no-warm-up"],
    ["trade", "--duration", "10s"],  # no account: a config error (exit 3) before any connection
    ["paper", "--duration", "10s"],
])
def test_a_failed_start_leaves_no_new_store_nor_directory_behind(
        runner: CliRunner, tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "new" / "dir" / "nq.db"
    result = runner.invoke(app, ["--db", str(db), *command, "--port", str(_closed_port()), "--connect-timeout", "1"],
                           env={"SLOB_IB_ACCOUNT": ""})
    assert result.exit_code in (3, 4), result.stdout + result.stderr
    assert result.stderr.count("Error:") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "new").exists(), sorted(p.name for p in tmp_path.rglob("*"))
    assert "Report:" not in result.stdout  # no paper report of a run that was never stored


def test_a_failed_start_keeps_what_an_existing_store_holds(runner: CliRunner, db_path: Path) -> None:
    from datetime import datetime, timezone

    from slob_cli.core.models import Tick

    with Store.open(db_path) as store:
        store.insert_ticks([Tick("NQ", datetime(2026, 1, 6, 15, tzinfo=timezone.utc), 21000.0, 1.0)])
    result = runner.invoke(app, ["--db", str(db_path), "record", "--port", str(_closed_port()),
                                 "--connect-timeout", "1", "--duration", "5s", "--no-warm-up"])
    assert result.exit_code == 4
    with Store.open(db_path, readonly=True) as store:
        assert store.tick_count() == 1 and store.runs(1)[0]["exit_code"] == 4
        assert store.runs(1)[0]["data_mode"] is None  # it never connected: no data, not "live" (status: -)


def test_a_session_shorter_than_the_connect_timeout_that_never_connects_still_exits_4(
        runner: CliRunner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "trade", "--port", str(_closed_port()),
                                 "--account", "DU1234567", "--duration", "1s"])
    assert result.exit_code == 4 and "no connection" in result.stderr
    assert "data live" not in result.stdout and "Nones ago" not in result.stderr
    # It says what happened: its 1 s ended, not the 60 s connect window.
    assert "no connection before its --duration ended" in result.stderr and "within 60s" not in result.stderr


def test_a_signal_before_the_first_connection_exits_4_saying_it_was_stopped(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    process = subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db), "trade", "--port",
                                str(_closed_port()), "--account", "DU1234567", "--connect-timeout", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        eventually(lambda: _count(db, "IB_CONNECT_FAILED") > 0 or process.poll() is not None, timeout=60)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 4, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "no connection before SIGTERM stopped it" in errors[0] and "within 60s" not in errors[0], errors


def test_paper_against_a_gateway_that_never_comes_up_fails_the_connection_criteria(
        runner: CliRunner, db_path: Path) -> None:
    Store.open(db_path).close()  # a store that existed: judged and reported (a new one is left no trace)
    result = runner.invoke(app, ["--db", str(db_path), "paper", "--port", str(_closed_port()), "--duration", "3s",
                                 "--account", "DU1234567",
                                 "--connect-timeout", "2", "--json"])
    assert result.exit_code == 4
    report = json.loads(result.stdout[result.stdout.index("{"):])
    criteria = {c["name"]: c for c in report["criteria"]}
    assert criteria["connection recovered"]["passed"] is False
    assert "live data throughout" not in criteria["live market data"]["detail"]
    assert report["figures"]["disconnects"] == 1 and report["figures"]["longest_outage_seconds"] >= 1.5


def test_paper_counts_the_outage_before_a_late_gateway_comes_up(runner: CliRunner, db_path: Path) -> None:
    port = _closed_port()
    gateway: dict[str, Any] = {}

    def start_late() -> None:  # once the session has failed to connect twice
        eventually(lambda: _count(db_path, "IB_CONNECT_FAILED") >= 2, timeout=60)
        # On this machine's time: a wall-clock session stops against a gateway whose clock is far off (exit 5).
        gateway["thread"] = SimGatewayThread(seed=5, port=port).__enter__()

    late = threading.Thread(target=start_late)
    late.start()
    try:
        result = runner.invoke(app, ["--db", str(db_path), "paper", "--port", str(port), "--duration", "8s",
                                     "--account", "DU1234567", "--json"])
    finally:
        late.join()
        if "thread" in gateway:
            gateway["thread"].__exit__(None, None, None)
    report = json.loads(result.stdout[result.stdout.index("{"):])
    criteria = {c["name"]: c for c in report["criteria"]}
    # Counted from the session's start (before the first connection), not from a first disconnect.
    assert report["figures"]["disconnects"] == 1 and report["figures"]["longest_outage_seconds"] >= 1.0
    assert criteria["connection stable"]["passed"] is False
    assert "live data throughout" not in criteria["live market data"]["detail"]


def test_help_names_every_exit_code_and_the_signal_behaviour(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    text = " ".join(result.stdout.split())
    for code in ("0 ok", "1 unexpected", "2 usage", "3 config", "4 broker unreachable", "5 validation"):
        assert code in text
    assert "SIGTERM" in EXIT_CODES_HELP and "exit 0" in text and "130" in text


# SIGTERM of `trade` and `record` (exit 0) is covered in tests/e2e/test_trade_subprocess.py and
# test_record_subprocess.py; a run whose length is its result and that a signal cuts short never exits 0.
@pytest.mark.parametrize("command, signum, expected", [
    (["run", "--sim", "--speed", "60"], signal.SIGINT, 1),
    (["paper", "--sim", "--speed", "60"], signal.SIGTERM, 5),
])
def test_a_signal_stops_a_run_cleanly_and_a_cut_short_run_never_exits_0(
        tmp_path: Path, command: list[str], signum: signal.Signals, expected: int) -> None:
    db = tmp_path / "signal.db"
    process = subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db), *command],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        eventually(lambda: _count(db, "RECONCILED") > 0 or process.poll() is not None, timeout=60)
        assert process.poll() is None, process.communicate()
        process.send_signal(signum)
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == expected, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "cut short" in errors[0] and "got to" in errors[0], stderr
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        assert run["exit_code"] == expected and run["ended_at"], "the stop was clean: the run row is closed"


def test_ctrl_c_during_a_short_command_exits_130_with_one_line(runner: CliRunner, db_path: Path, store: Store,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.runtime import status

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(status, "collect_status", interrupted)
    result = runner.invoke(app, ["--db", str(db_path), "status"])
    assert result.exit_code == 130 and result.stderr.strip() == "Interrupted."


def _count(db: Path, event_type: str) -> int:
    try:
        with Store.open(db, readonly=True) as store:
            return sql_value(store.path, "SELECT count(*) FROM events WHERE type=?", (event_type,))
    except Exception:  # noqa: BLE001 - the file may not exist or be mid-migration yet
        return 0


def test_a_read_only_command_on_an_older_store_names_the_command_that_migrates_it(
        runner: CliRunner, tmp_path: Path) -> None:
    import sqlite3

    from slob_cli.adapters.store.schema import MIGRATIONS, SCHEMA_VERSION

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    for version in range(SCHEMA_VERSION - 1):
        MIGRATIONS[version](conn)
    conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', ?)", (str(SCHEMA_VERSION - 1),))
    conn.commit()
    conn.close()
    refused = runner.invoke(app, ["--db", str(db), "status"])
    assert refused.exit_code == 3
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("Error: ") and f"run `slob --db {db} migrate` once" in line, line
    assert runner.invoke(app, ["--db", str(db), "migrate"]).exit_code == 0, "the advice works"
    assert runner.invoke(app, ["--db", str(db), "status", "--json"]).exit_code == 0
