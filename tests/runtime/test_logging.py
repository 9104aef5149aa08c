"""Logging set-up: plain lines when not a terminal, JSON lines on request, rich on a TTY, secrets redacted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from slob_cli.runtime.logging import setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_slob", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_plain_single_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", stream_is_tty=False)
    logging.getLogger("slob.test").info("candle %s closed", "14:30")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("INFO slob.test: candle 14:30 closed")


def test_json_lines_carry_level_logger_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json_lines=True, stream_is_tty=True)
    logging.getLogger("slob.test").warning("gap of %d minutes", 3)
    record = json.loads(capsys.readouterr().err.strip())
    assert (record["level"], record["logger"], record["msg"]) == ("WARNING", "slob.test", "gap of 3 minutes")
    assert record["ts"].endswith("Z")


def test_secrets_are_redacted_in_console_and_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret = "bot123456:ABCDEF/987654"
    setup_logging("INFO", log_dir=tmp_path, log_file_name="t.log", secrets=[secret], stream_is_tty=False)
    logging.getLogger("slob.test").error("alert to tgram://%s failed", secret)
    for handler in logging.getLogger().handlers:
        handler.flush()
    console = capsys.readouterr().err
    written = (tmp_path / "t.log").read_text()
    assert secret not in console and secret not in written
    assert "tgram://*** failed" in console and "tgram://*** failed" in written


def test_rich_handler_on_a_terminal() -> None:
    from rich.logging import RichHandler

    setup_logging("DEBUG", stream_is_tty=True)
    handlers = [h for h in logging.getLogger().handlers if getattr(h, "_slob", False)]
    assert [type(h) for h in handlers] == [RichHandler]


def test_level_filters_lower_records(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("WARNING", stream_is_tty=False)
    logging.getLogger("slob.test").info("quiet")
    assert capsys.readouterr().err == ""


def test_log_json_flag_on_the_cli_prints_json_lines(runner, db_path: Path) -> None:
    from slob_cli.cli.main import app

    result = runner.invoke(app, ["--db", str(db_path), "--log-json", "demo", "--minutes", "5"])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(r["logger"] == "slob.guard" and "demo started" in r["msg"] for r in records)


@pytest.mark.parametrize("json_lines", [False, True])
def test_lines_go_to_the_stderr_of_the_moment_not_one_closed_since(monkeypatch: pytest.MonkeyPatch,
                                                                   json_lines: bool) -> None:
    import io

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    setup_logging("INFO", json_lines=json_lines, stream_is_tty=False)
    first.close()  # a test runner's capture, or a command's redirect, ended
    monkeypatch.setattr("sys.stderr", second)
    monkeypatch.setattr(logging, "raiseExceptions", True)
    errors: list[object] = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda self, record: errors.append(record))
    logging.getLogger("slob.test").warning("gateway %s disconnected", "clientId 7")
    assert errors == [] and "gateway clientId 7 disconnected" in second.getvalue()


def test_account_numbers_show_only_their_last_four_digits_in_log_lines(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    from slob_cli.adapters.redaction import mask_accounts

    assert mask_accounts("accounts DU1234567,U7654321 and acctNumber='DF9876543'") == (
        "accounts DU***4567,U***4321 and acctNumber='DF***6543'")
    assert mask_accounts("NQ-20260310-S1-ENTRY conId 500202603 U2000 DU12") == "NQ-20260310-S1-ENTRY conId 500202603 U2000 DU12"
    setup_logging("INFO", json_lines=True, log_dir=tmp_path, log_file_name="t.log", stream_is_tty=False)
    logging.getLogger("slob.test").info("connected (accounts %s)", "DU1234567")
    for handler in logging.getLogger().handlers:
        handler.flush()
    for text in (capsys.readouterr().err, (tmp_path / "t.log").read_text()):
        assert "DU1234567" not in text and json.loads(text.splitlines()[-1])["msg"] == "connected (accounts DU***4567)"


def test_a_sessions_log_lines_never_hold_the_whole_account_number(runner, db_path: Path, tmp_path: Path) -> None:
    from slob_cli.cli.main import app

    logs = tmp_path / "logs"
    result = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--json"],
                           env={"SLOB_LOG_DIR": str(logs), "SLOB_LOG_LEVEL": "DEBUG"})
    assert result.exit_code == 0, result.stderr
    written = (logs / "run.log").read_text()
    assert "accounts DU***4567" in written and "DU***4567" in result.stderr  # the connect line names it, masked
    assert "DU1234567" not in written and "DU1234567" not in result.stderr
