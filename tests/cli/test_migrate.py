"""`slob migrate`: an older store brought to this slob's schema in place; read-only commands name it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.adapters.store import db as store_db
from slob_cli.adapters.store.migrate import stored_schema_version
from slob_cli.adapters.store.schema import SCHEMA_VERSION
from slob_cli.cli.main import app
from slob_cli.runtime.lock import acquire
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_rows, sql_run

DAY = date(2026, 3, 10)


def _old_store(path: Path, monkeypatch: pytest.MonkeyPatch, version: int, health_ts: str | None = None) -> None:
    """Write a store as the slob of schema `version` left it: a day of candles (or one heartbeat at `health_ts`)."""
    with monkeypatch.context() as patch:
        patch.setattr(store_db, "SCHEMA_VERSION", version)
        with Store.open(path) as store:
            if health_ts is None:
                store.upsert_candles(build_scenario("short_setup", DAY))
    if health_ts is not None:
        sql_run(path, "INSERT INTO health(run_id, ts, connected, last_tick_age, buffer_utilization, open_orders,"
                      " positions, payload) VALUES (NULL, ?, 1, 0.2, 0.0, 0, 0, '{}')", (health_ts,))


def _files(path: Path) -> dict[str, bytes]:
    """Return the bytes of the store and its write-ahead log (what a write would change; a reader makes -shm)."""
    files = {file.name: file.read_bytes() for file in path.parent.glob(path.name + "*")}
    return {name: data for name, data in files.items() if not name.endswith("-shm") and data}


def _migrate(runner: CliRunner, db: Path, *args: str):  # noqa: ANN202 - typer's Result
    return runner.invoke(app, ["--db", str(db), "migrate", *args])


def test_read_only_commands_name_slob_migrate_which_brings_a_v6_store_to_this_schema(
        runner: CliRunner, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_store(db_path, monkeypatch, 6)
    candles = sql_rows(db_path, "SELECT * FROM candles ORDER BY ts")
    for args in (["status"], ["setups", "list"], ["candles", "show"], ["candles", "stats"], ["dashboard", "--once"]):
        refused = runner.invoke(app, ["--db", str(db_path), *args])
        assert refused.exit_code == 3, (args, refused.output)
        assert refused.stderr.count("\n") == 1 and f"run `slob --db {db_path} migrate` once" in refused.stderr, args
    assert stored_schema_version(db_path) == 6  # refusing wrote nothing
    result = _migrate(runner, db_path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"database": str(db_path), "from_version": 6,
                                         "to_version": SCHEMA_VERSION, "migrated": True}
    assert stored_schema_version(db_path) == SCHEMA_VERSION
    assert sql_rows(db_path, "SELECT * FROM candles ORDER BY ts") == candles
    assert sql_rows(db_path, "SELECT symbol, version FROM candle_versions") == [("NQ", 1)]  # v7's versions
    status = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    assert status.exit_code == 0, status.output


def test_migrate_again_is_a_no_op_that_writes_nothing(
        runner: CliRunner, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_store(db_path, monkeypatch, 6)
    first = _migrate(runner, db_path)
    assert first.exit_code == 0 and f"Migrated {db_path} from schema v6 to v{SCHEMA_VERSION}." in first.stdout
    before = _files(db_path)
    again = _migrate(runner, db_path)
    assert again.exit_code == 0, again.output
    assert f"is at schema v{SCHEMA_VERSION}: nothing to migrate" in again.stdout
    summary = json.loads(_migrate(runner, db_path, "--json").stdout)
    assert (summary["from_version"], summary["to_version"], summary["migrated"]) == (SCHEMA_VERSION,
                                                                                      SCHEMA_VERSION, False)
    assert _files(db_path) == before


def test_a_store_newer_than_this_slob_is_refused_with_exit_3_and_one_line(
        runner: CliRunner, db_path: Path) -> None:
    Store.open(db_path).close()
    sql_run(db_path, "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    before = _files(db_path)
    result = _migrate(runner, db_path, "--json")
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == (f"Error: database {str(db_path)!r} has schema version {SCHEMA_VERSION + 1}, newer than "
                             f"this slob understands ({SCHEMA_VERSION}); upgrade slob\n")
    assert _files(db_path) == before


def test_a_missing_store_exits_3_and_is_not_created(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "slob.db"
    result = _migrate(runner, missing)
    assert result.exit_code == 3 and "does not exist" in result.stderr and result.stderr.count("\n") == 1
    assert not missing.parent.exists()


def test_a_store_a_session_holds_is_left_at_its_version_with_exit_3(
        runner: CliRunner, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_store(db_path, monkeypatch, 6)
    with acquire(db_path, "record"):
        result = _migrate(runner, db_path)
    assert result.exit_code == 3, result.output
    assert "slob record" in result.stderr and "migrate once it has stopped" in result.stderr
    assert result.stderr.count("\n") == 1
    assert stored_schema_version(db_path) == 6


def test_a_step_that_fails_leaves_the_store_at_its_version_and_exits_3(
        runner: CliRunner, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_store(db_path, monkeypatch, 5, health_ts="yesterday")  # v6 turns times into integers: no time here
    result = _migrate(runner, db_path)
    assert result.exit_code == 3, result.output
    assert "cannot migrate to schema v6: health.ts holds 'yesterday'" in result.stderr
    assert stored_schema_version(db_path) == 5
    assert sql_rows(db_path, "SELECT ts FROM health") == [("yesterday",)]
