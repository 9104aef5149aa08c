"""Root command: help, version, settings errors and exit codes."""

from __future__ import annotations

from pathlib import Path

from slob_cli.cli.main import app


def test_help_lists_commands_and_exit_codes(runner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "candles" in result.stdout
    assert "4 broker unreachable" in result.stdout


def test_version_prints_package_version(runner) -> None:
    from slob_cli import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"slob {__version__}"


def test_bad_port_in_environment_exits_3_naming_setting(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "candles", "stats"], env={"SLOB_IB_PORT": "abc"})
    assert result.exit_code == 3
    assert "SLOB_IB_PORT" in result.stderr and "'abc'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not db_path.exists()


def test_unknown_time_zone_exits_3(runner) -> None:
    result = runner.invoke(app, ["candles", "stats"], env={"SLOB_DISPLAY_TZ": "Mars/Olympus"})
    assert result.exit_code == 3
    assert "SLOB_DISPLAY_TZ" in result.stderr and "Mars/Olympus" in result.stderr


def test_missing_env_file_exits_3(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--env-file", str(tmp_path / "nope.env"), "candles", "stats"])
    assert result.exit_code == 3
    assert "nope.env" in result.stderr and "not found" in result.stderr


def test_env_file_is_read_and_environment_beats_it(runner, tmp_path: Path) -> None:
    from slob_cli.settings import load_settings

    env = tmp_path / "custom.env"
    env.write_text("SLOB_IB_PORT=7497\nSLOB_IB_CLIENT_ID=9\n")
    assert load_settings(env).ib_port == 7497
    import os

    os.environ["SLOB_IB_CLIENT_ID"] = "12"
    try:
        settings = load_settings(env, {"ib_port": 4001})
    finally:
        del os.environ["SLOB_IB_CLIENT_ID"]
    assert (settings.ib_port, settings.ib_client_id) == (4001, 12)


def test_bad_log_level_flag_exits_3(runner) -> None:
    result = runner.invoke(app, ["--log-level", "LOUD", "candles", "stats"])
    assert result.exit_code == 3
    assert "SLOB_LOG_LEVEL" in result.stderr
