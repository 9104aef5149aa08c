"""`slob test-connection` and `slob record` when no gateway listens, and their bad-input errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from slob_cli.cli.main import app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_test_connection_with_nothing_listening_exits_4_with_advice(runner) -> None:
    result = runner.invoke(app, ["test-connection", "--port", str(_free_port()), "--timeout", "2"])
    assert result.exit_code == 4
    assert "TCP reachable" in result.stdout and "connection refused" in result.stdout
    assert "gateway unreachable" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_test_connection_json_reports_every_check_with_unreachable_first(runner) -> None:
    port = _free_port()
    result = runner.invoke(app, ["test-connection", "--port", str(port), "--json"])
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["exit_code"] == 4
    names = [check["name"] for check in data["checks"]]
    assert names[:3] == ["TCP reachable", "Handshake", "Account"] and "Clock skew" in names
    assert data["checks"][0]["ok"] is False and str(port) in data["checks"][0]["detail"]
    assert data["checks"][0]["advice"]
    assert all(check["ok"] is None for check in data["checks"][1:])


def test_port_flag_overrides_environment(runner) -> None:
    port = _free_port()
    result = runner.invoke(app, ["test-connection", "--port", str(port), "--json"], env={"SLOB_IB_PORT": "4002"})
    assert str(port) in json.loads(result.stdout)["checks"][0]["detail"]


def test_test_connection_unknown_symbol_is_a_usage_error(runner) -> None:
    result = runner.invoke(app, ["test-connection", "--symbol", "ES"])
    assert result.exit_code == 2
    assert "unknown symbol 'ES'" in result.stderr


def test_record_bad_duration_exits_2_naming_it(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "record", "--duration", "soon"])
    assert result.exit_code == 2
    assert "duration 'soon'" in result.stderr
    assert "Traceback" not in result.stderr


def test_record_bad_until_exits_2_naming_it(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "record", "--until", "7pm"])
    assert result.exit_code == 2
    assert "'7pm'" in result.stderr


def test_record_that_never_reaches_a_gateway_exits_4_and_records_the_run(runner, db_path: Path) -> None:
    from slob_cli.adapters.store import Store

    Store.open(db_path).close()  # a store that existed keeps the failed run's row (a new one is not left behind)
    result = runner.invoke(app, ["--db", str(db_path), "record", "--port", str(_free_port()), "--duration", "1s",
                                 "--no-warm-up"])
    assert result.exit_code == 4
    assert "no connection" in result.stderr and "check that IB Gateway" in result.stderr
    with Store.open(db_path, readonly=True) as store:
        run = store.runs(1)[0]
    assert run["command"] == "record" and run["exit_code"] == 4


def test_backfill_that_never_reaches_a_gateway_exits_4_and_creates_no_store(runner, tmp_path: Path) -> None:
    db = tmp_path / "missing" / "nq.db"
    result = runner.invoke(app, ["--db", str(db), "candles", "backfill", "--symbol", "NQ", "--from", "2026-12-01",
                                 "--port", str(_free_port())], env={"SLOB_CONNECT_TIMEOUT": "0.5"})
    assert result.exit_code == 4, result.stderr
    assert "cannot reach IB gateway" in result.stderr
    assert not db.exists() and not db.parent.exists()


def test_test_connection_creates_no_store(runner, tmp_path: Path) -> None:
    db = tmp_path / "missing" / "nq.db"
    result = runner.invoke(app, ["--db", str(db), "test-connection", "--port", str(_free_port()), "--timeout", "1"])
    assert result.exit_code == 4
    assert not db.exists() and not db.parent.exists()


def test_test_connection_piped_to_a_narrow_width_keeps_every_word_whole(runner) -> None:
    port = _free_port()
    result = runner.invoke(app, ["test-connection", "--port", str(port), "--timeout", "2"], env={"COLUMNS": "50"})
    assert result.exit_code == 4
    words = result.stdout.replace("│", " ").split()
    assert f"127.0.0.1:{port}:" in words and "(Configure" in words and "--host/--port" in words, result.stdout
    assert "…" not in result.stdout
