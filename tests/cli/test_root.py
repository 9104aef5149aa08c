"""Root command: help, version, settings errors and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from slob_cli.cli.main import app


def test_help_lists_commands_and_exit_codes(runner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "candles" in result.stdout
    assert "4 broker unreachable" in result.stdout


@pytest.mark.parametrize("group", ["candles", "setups"])
def test_a_sub_command_list_shows_each_first_sentence_whole(runner, group: str) -> None:
    # Click cut them at ~45 characters: "Run the setup tracker over stored candles, store candidates and..."
    result = runner.invoke(app, [group, "--help"])
    assert result.exit_code == 0
    listed = " ".join(result.stdout.split("Commands:")[1].split())
    assert "..." not in listed
    if group == "setups":
        assert "Run the setup tracker over stored candles, store candidates and events, print one row each." in listed


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


def test_env_file_dev_null_means_no_settings_and_a_directory_is_named(runner, tmp_path: Path) -> None:
    from slob_cli.settings import Settings, load_settings

    assert load_settings(Path("/dev/null")) == Settings()  # was "env file '/dev/null' not found"
    result = runner.invoke(app, ["--env-file", str(tmp_path), "candles", "stats"])
    assert result.exit_code == 3
    assert result.stderr == f"Error: env file '{tmp_path}' is a directory, not a file\n"


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


def test_bad_log_level_flag_exits_2_naming_the_flag(runner) -> None:
    result = runner.invoke(app, ["--log-level", "LOUD", "candles", "stats"])
    assert result.exit_code == 2  # a bad flag is a usage error; the same value in SLOB_LOG_LEVEL is exit 3
    assert result.stderr.startswith("Error: --log-level 'LOUD': must be one of") and "SLOB_" not in result.stderr
    from_env = runner.invoke(app, ["candles", "stats"], env={"SLOB_LOG_LEVEL": "LOUD"})
    assert from_env.exit_code == 3 and "SLOB_LOG_LEVEL" in from_env.stderr


@pytest.mark.parametrize(("flags", "named"), [
    (["--port", "99999"], "--port 99999: Input should be less than or equal to 65535"),
    (["--client-id", "-5"], "--client-id -5: Input should be greater than or equal to 0"),
    (["--symbols", "ES"], "--symbols 'ES': unknown symbol 'ES' (known: NQ, MNQ)"),
])
def test_a_bad_gateway_flag_exits_2_naming_the_flag_not_a_setting(runner, db_path: Path, flags: list[str],
                                                                  named: str) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "record", *flags, "--duration", "1s"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr == f"Error: {named}\n"
    assert not db_path.exists()


def test_a_bad_setting_a_flag_overrides_is_still_named_as_the_setting(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "record", "--client-id", "3", "--duration", "1s"],
                           env={"SLOB_IB_PORT": "99999"})
    assert result.exit_code == 3 and "setting SLOB_IB_PORT = '99999'" in result.stderr


def _task_group_app():
    """A root group like slob's with commands whose task groups fail the way an engine can."""
    import asyncio

    import typer

    from slob_cli.cli.main import SlobGroup
    from slob_cli.errors import BrokerUnavailable

    group_app = typer.Typer(cls=SlobGroup, pretty_exceptions_enable=False)

    @group_app.callback()
    def root() -> None:
        """Root."""

    async def in_a_task_group(error: BaseException) -> None:
        async def fails() -> None:
            raise error

        async def waits() -> None:
            await asyncio.Event().wait()

        async with asyncio.TaskGroup() as group:
            group.create_task(waits())
            group.create_task(fails())

    @group_app.command()
    def bug() -> None:
        """An engine task has a bug."""
        asyncio.run(in_a_task_group(ZeroDivisionError("division by zero")))

    @group_app.command()
    def broker() -> None:
        """An engine task meets an expected failure."""
        asyncio.run(in_a_task_group(BrokerUnavailable("cannot reach IB gateway at 127.0.0.1:4002")))

    return group_app


def test_a_bug_inside_a_task_group_reaches_the_user_as_its_own_one_line_error(runner) -> None:
    result = runner.invoke(_task_group_app(), ["bug"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unexpected ZeroDivisionError: division by zero")
    assert "ExceptionGroup" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_slob_error_inside_a_task_group_exits_with_its_own_code(runner) -> None:
    result = runner.invoke(_task_group_app(), ["broker"])
    assert result.exit_code == 4
    assert result.stderr == "Error: cannot reach IB gateway at 127.0.0.1:4002\n"


def test_first_error_prefers_an_expected_failure_in_nested_groups() -> None:
    from slob_cli.errors import ConfigError, first_error

    expected = ConfigError("bad setting")
    nested = ExceptionGroup("outer", [ValueError("bug"), ExceptionGroup("inner", [expected])])
    assert first_error(nested) is expected
    assert isinstance(first_error(ExceptionGroup("only", [ValueError("bug")])), ValueError)
