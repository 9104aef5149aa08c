"""run_guard: lock, notice or failure for a second session, runs row with exit code, log file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.context import AppContext
from slob_cli.cli.guard import FAIL_IF_RUNNING_HELP, run_guard
from slob_cli.cli.main import SlobGroup
from slob_cli.cli.main import app as app_main
from slob_cli.errors import ValidationFailed
from slob_cli.runtime.lock import RunLock, acquire, read_record
from tests.alert_plugins import RECEIVED


def make_app(db_path: Path, log_dir: Path, alert_urls: list[str] | None = None) -> typer.Typer:
    """Build a root like slob's with one long-running command that uses run_guard."""
    app = typer.Typer(cls=SlobGroup)

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = AppContext(overrides={"db_path": db_path, "log_dir": log_dir, "alert_urls": alert_urls or []})

    @app.command("soak")
    def soak(
        ctx: typer.Context,
        fail_if_running: Annotated[bool, typer.Option("--fail-if-running", help=FAIL_IF_RUNNING_HELP)] = False,
        verdict: str = "ok",
    ) -> None:
        with run_guard(ctx, "soak", fail_if_running=fail_if_running, args={"verdict": verdict}) as run:
            assert read_record(db_path).command == "soak"
            run.stats["candles_generated"] = 3
            run.data_mode = "sim"
            if verdict == "fail":
                raise ValidationFailed("criteria not met")
            typer.echo(f"run {run.run_id} done")

    return app


def test_guarded_command_records_run_and_releases_lock(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    app = make_app(db_path, tmp_path / "logs")
    result = runner.invoke(app, ["soak"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "run 1 done"
    with Store.open(db_path) as store:
        (row,) = store.runs()
    assert (row["command"], row["exit_code"], row["data_mode"]) == ("soak", 0, "sim")
    assert json.loads(row["stats"]) == {"candles_generated": 3}
    assert json.loads(row["args"]) == {"verdict": "ok"}
    assert read_record(db_path) is None
    assert "run 1: slob soak started" in (tmp_path / "logs" / "soak.log").read_text()


def test_failing_guarded_command_records_its_exit_code(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    Store.open(db_path).close()  # in a store that existed (a failed start on a new one leaves none)
    result = runner.invoke(make_app(db_path, tmp_path / "logs"), ["soak", "--verdict", "fail"])
    assert result.exit_code == 5
    assert result.stderr.strip().splitlines()[-1] == "Error: criteria not met"
    with Store.open(db_path) as store:
        assert store.runs()[0]["exit_code"] == 5


def test_a_failed_guarded_command_on_a_new_store_leaves_no_file(runner: CliRunner, db_path: Path,
                                                                 tmp_path: Path) -> None:
    result = runner.invoke(make_app(db_path, tmp_path / "logs"), ["soak", "--verdict", "fail"])
    assert result.exit_code == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # no store, no -wal/-shm, no lock record


def test_a_succeeding_guarded_command_keeps_its_new_store(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    result = runner.invoke(make_app(db_path, tmp_path / "logs"), ["soak", "--verdict", "ok"])
    assert result.exit_code == 0
    with Store.open(db_path, readonly=True) as store:
        assert store.runs()[0]["exit_code"] == 0


def test_second_session_exits_0_with_one_line_notice(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    with acquire(db_path, "paper"):
        result = runner.invoke(make_app(db_path, tmp_path / "logs"), ["soak"])
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Not started: slob paper (pid")
    assert "already running" in lines[0]
    with Store.open(db_path) as store:
        assert store.runs() == []


def test_second_session_with_fail_if_running_exits_1(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    with acquire(db_path, "paper"):
        result = runner.invoke(make_app(db_path, tmp_path / "logs"), ["soak", "--fail-if-running"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: slob paper (pid")
    assert "Traceback" not in result.output


def test_exit_code_of_maps_each_way_a_command_can_end() -> None:
    import click

    from slob_cli.cli.guard import exit_code_of
    from slob_cli.errors import BrokerUnavailable

    assert exit_code_of(None) == 0
    assert exit_code_of(typer.Exit(3)) == 3
    assert exit_code_of(click.exceptions.Exit(2)) == 2
    assert exit_code_of(BrokerUnavailable("down")) == 4
    assert exit_code_of(KeyboardInterrupt()) == 130
    assert exit_code_of(SystemExit(None)) == 0
    assert exit_code_of(RuntimeError("boom")) == 1
    assert exit_code_of(ExceptionGroup("engine", [RuntimeError("bug"), BrokerUnavailable("down")])) == 4
    assert exit_code_of(ExceptionGroup("engine", [RuntimeError("bug")])) == 1


def test_guarded_run_sends_start_and_stop_alerts(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    RECEIVED.clear()
    app = make_app(db_path, tmp_path / "logs", ["slobcapture://secret-token-guard"])
    result = runner.invoke(app, ["soak", "--verdict", "fail"])
    assert result.exit_code == 5
    assert [(r["title"], r["body"], r["type"]) for r in RECEIVED] == [
        ("slob: soak started", f"run 1, pid {os.getpid()}", "info"),
        ("slob: soak stopped", "run 1, exit code 5", "failure"),
    ]
    assert "secret-token-guard" not in (tmp_path / "logs" / "soak.log").read_text()


def test_slob_record_while_locked_exits_0_or_1_with_fail_if_running(runner: CliRunner, db_path: Path) -> None:
    from slob_cli.cli.main import app

    args = ["--db", str(db_path), "record", "--port", "1", "--duration", "1m"]
    with acquire(db_path, "paper"):
        quiet = runner.invoke(app, args)
        failing = runner.invoke(app, [*args, "--fail-if-running"])
    assert quiet.exit_code == 0 and quiet.stdout.startswith("Not started: slob paper (pid")
    assert failing.exit_code == 1 and failing.stderr.startswith("Error: slob paper (pid")
    # Nothing was written: the lock (on the store file itself, created empty) is taken first.
    assert db_path.stat().st_size == 0 and not db_path.with_name(db_path.name + "-wal").exists()


def test_guard_with_simulated_clock_still_reports_a_live_holder(db_path: Path, tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from slob_cli.runtime.clock import ManualClock
    from slob_cli.runtime.lock import current_holder

    app = typer.Typer(cls=SlobGroup)
    seen = {}

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = AppContext(overrides={"db_path": db_path, "log_dir": tmp_path / "logs"})

    @app.command("replay")
    def replay(ctx: typer.Context) -> None:
        clock = ManualClock(datetime(2026, 1, 6, 14, 0, tzinfo=timezone.utc))
        with run_guard(ctx, "replay", clock=clock):
            seen["holder"] = current_holder(db_path)

    @app.command("other")
    def other() -> None:
        """Unused: a second command keeps `replay` a named sub-command."""

    result = CliRunner().invoke(app, ["replay"])
    assert result.exit_code == 0, result.output
    assert seen["holder"] is not None and seen["holder"].pid == os.getpid()
    with Store.open(db_path) as store:
        assert store.runs()[0]["started_at"] == "2026-01-06T14:00:00Z"


def test_run_and_paper_sim_while_locked_start_no_gateway(runner: CliRunner, db_path: Path, monkeypatch) -> None:
    from slob_cli.cli.main import app
    from slob_cli.sim import gateway

    started: list[object] = []
    monkeypatch.setattr(gateway.SimGatewayThread, "start", lambda self: started.append(self))
    with acquire(db_path, "paper"):
        for args in (["run", "--sim"], ["paper", "--sim", "--duration", "1"]):
            result = runner.invoke(app, ["--db", str(db_path), *args])
            assert result.exit_code == 0 and result.stdout.startswith("Not started: slob paper (pid"), result.output
    assert started == [], "the lock is checked before the embedded gateway starts"


@pytest.mark.parametrize(("args", "code"), [
    (["trade", "--port", "1"], 3),  # no account
    (["paper", "--port", "1"], 3),
    (["trade", "--port", "1", "--account", "U7654321", "--live"], 3),  # live refused without SLOB_ALLOW_LIVE
    (["run", "--sim", "--date", "1990-01-02"], 2),
])
def test_a_session_refused_at_its_start_keeps_its_row_in_a_store_that_existed(
        runner: CliRunner, db_path: Path, tmp_path: Path, monkeypatch, args: list[str], code: int) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLOB_IB_ACCOUNT", raising=False)
    Store.open(db_path).close()
    result = runner.invoke(app_main, ["--db", str(db_path), *args])
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1  # still one line
    with Store.open(db_path, readonly=True) as store:  # it left no row: status showed no failed start
        assert [(row["command"], row["exit_code"]) for row in store.runs()] == [(args[0], code)]
    assert not (tmp_path / "fresh.db").exists()
    result = runner.invoke(app_main, ["--db", str(tmp_path / "fresh.db"), *args])
    assert result.exit_code == code and not (tmp_path / "fresh.db").exists()  # a new store is still removed


def _session_app(db_path: Path, log_dir: Path, seen: list[str]) -> typer.Typer:
    """A root whose command holds its lock as trade, run and paper do: session_lock around run_guard(lock=...)."""
    from contextlib import ExitStack

    from slob_cli.cli.guard import session_lock
    from slob_cli.runtime.lock import AlreadyRunning, try_acquire

    app = typer.Typer(cls=SlobGroup)

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = AppContext(overrides={"db_path": db_path, "log_dir": log_dir, "alert_urls": []})

    @app.command("session")
    def session(ctx: typer.Context, verdict: str = "ok") -> None:
        def intruder() -> None:  # the embedded gateway stopping, after run_guard: another session tries to start
            try:
                try_acquire(db_path, "intruder").release()
                seen.append("acquired")
            except AlreadyRunning:
                seen.append("refused")

        with ExitStack() as stack:
            lock = stack.enter_context(session_lock(ctx, "session"))
            stack.callback(intruder)
            with run_guard(ctx, "session", args={}, lock=lock):
                if verdict == "fail":
                    raise ValidationFailed("criteria not met")

    @app.command("other")
    def other() -> None:
        """Unused: a second command keeps `session` a sub-command."""

    return app


@pytest.mark.parametrize("verdict", ["ok", "fail"])
def test_a_session_lock_given_to_run_guard_is_released_once_after_the_whole_session(
        runner: CliRunner, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verdict: str) -> None:
    """run_guard released the lock session_lock had given it, and session_lock released it again: in between,
    while the embedded gateway stopped, another session could take the store."""
    from slob_cli.cli import guard

    Store.open(db_path).close()  # an existing store: a failed session keeps it
    releases: list[bool] = []  # whether the lock was still held at each release
    real_release = guard.release_lock

    def counted_release(lock: RunLock, failed: bool) -> None:
        releases.append(lock.held)
        real_release(lock, failed)

    monkeypatch.setattr(guard, "release_lock", counted_release)
    seen: list[str] = []
    result = runner.invoke(_session_app(db_path, tmp_path / "logs", seen), ["session", "--verdict", verdict])
    assert result.exit_code == (0 if verdict == "ok" else 5), result.output
    assert seen == ["refused"]  # still held while the rest of the session stopped
    assert releases == [True]  # released once, by its owner
    assert read_record(db_path) is None and db_path.is_file()
    with Store.open(db_path) as store:
        assert [row["exit_code"] for row in store.runs()] == [0 if verdict == "ok" else 5]
