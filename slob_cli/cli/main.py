"""The `slob` root command: global options, sub-command registry, one place for exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import ClickException as TyperClickException
from typer._click.exceptions import UsageError as TyperUsageError

if TYPE_CHECKING:  # typer >= 0.20 vendors click: its groups take these, not click's own
    from typer._click.core import Context

from slob_cli import __version__
from slob_cli.cli import plain_params
from slob_cli.cli.context import AppContext
from slob_cli.cli.groups import WholeHelpGroup
from slob_cli.cli.plain_params import click_errors
from slob_cli.errors import ExitCode, SlobError, Terminated, first_error

log = logging.getLogger("slob")
plain_params.install()  # plain option values need no pydantic (typer's adapters import it)

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 unexpected error, 2 usage error, 3 config or start-up error, "
    "4 broker unreachable (no first connection within --connect-timeout, or the gateway lost and still away "
    "when the --duration/--until of record, trade or run ended), 5 validation failed. "
    "SIGINT (Ctrl-C) or SIGTERM stops record, trade, run, web and sim-gateway cleanly with exit 0 when they "
    "run until stopped; a run stopped before the end of its --duration/--until was cut short and never exits 0: "
    "130 (SIGINT) or 143 (SIGTERM) for record, trade and run against a gateway, 1 for run --sim and 5 for "
    "paper, each with one line saying so. "
    "Ctrl-C during any other command exits 130; output cut off by its reader (`| head`) exits 141 quietly."
)
STDOUT_CLOSED = 141  # as a shell reports a program that SIGPIPE ended


COMMAND_ORDER = (
    "test-connection", "record", "candles", "setups", "backtest", "trade", "run", "paper", "report", "status",
    "dashboard", "web", "sim-gateway", "demo", "migrate",
)


class SlobGroup(WholeHelpGroup):
    """Root group that turns SlobError (and any unexpected error) into one line and an exit code."""

    def list_commands(self, ctx: Context) -> list[str]:
        """List commands in workflow order (unknown ones last, alphabetically)."""
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        """Run the CLI; a usage error is one `Error: ...` line naming the help to read (exit 2)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except click_errors("UsageError", TyperUsageError) as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()  # `slob` alone prints its help
            else:
                command = exc.ctx.command_path if exc.ctx is not None else "slob"
                message = " ".join(exc.format_message().split())
                typer.echo(f"Error: {message} (see '{command} --help')", err=True)
            sys.exit(exc.exit_code)
        except click_errors("ClickException", TyperClickException) as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click_errors("Abort", typer.Abort):
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseExceptionGroup as group:  # a task group's failure: report the error inside it
            return self._fail(ctx, first_error(group))
        except BaseException as exc:  # noqa: BLE001 - _fail re-raises what is not ours to report
            return self._fail(ctx, exc)

    def _fail(self, ctx: Context, error: BaseException) -> Any:
        """Turn one error into its line on stderr and its exit code (click's own pass through)."""
        try:
            raise error
        except (click_errors("Exit", typer.Exit) + click_errors("Abort", typer.Abort)
                + click_errors("ClickException", TyperClickException)):  # click's (and typer's) own pass through
            raise
        except SlobError as exc:
            typer.echo(f"Error: {exc}", err=True)
            ctx.exit(int(exc.exit_code))
        except Terminated:  # a SIGTERM outside the engine's loop (sigterm_raises)
            typer.echo("Terminated.", err=True)
            ctx.exit(int(ExitCode.TERMINATED))
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            ctx.exit(int(ExitCode.INTERRUPTED))
        except BrokenPipeError:
            if not stdout_closed():
                raise  # another pipe (a gateway socket, say): the line below reports it
            ctx.exit(STDOUT_CLOSED)
        except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
            log.debug("unexpected error", exc_info=True)
            if (damaged := _damaged_store(ctx, exc)) is not None:
                return self._fail(ctx, damaged)  # a StoreError: its line and exit code, as any other
            typer.echo(f"Error: unexpected {type(exc).__name__}: {exc} (run with --log-level DEBUG for details)",
                       err=True)
            ctx.exit(int(ExitCode.UNEXPECTED))


def _damaged_store(ctx: Context, error: Exception) -> SlobError | None:
    """Return the StoreError of a read that met a damaged page of the store (exit 3, as on a writable open), else None."""
    if "sqlite3" not in sys.modules:
        return None
    from slob_cli.adapters.store.integrity import damage_error

    context = ctx.find_root().obj  # its settings were read (and checked) before the command ran
    if not isinstance(context, AppContext):
        return None
    return damage_error(error, context.settings.db_path)


app = typer.Typer(
    name="slob",
    cls=SlobGroup,
    help="Trade the 5/1 SLOB strategy on NQ/MNQ futures through Interactive Brokers.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"slob {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[Path | None, typer.Option("--db", help="SQLite store path [env SLOB_DB_PATH].")] = None,
    env_file: Annotated[Path | None, typer.Option("--env-file", help="Read settings from this file instead of .env.")] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR [env SLOB_LOG_LEVEL].")] = None,
    log_json: Annotated[bool | None, typer.Option("--log-json/--no-log-json", help="Log JSON lines [env SLOB_LOG_JSON].")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Trade the 5/1 SLOB strategy on NQ/MNQ futures through Interactive Brokers."""
    overrides = {"db_path": db, "log_level": log_level, "log_json": log_json}
    context = AppContext(env_file=env_file, overrides={k: v for k, v in overrides.items() if v is not None})
    ctx.obj = context
    settings = context.settings  # validate once, up front: a bad setting exits 3 before any work
    from slob_cli.cli.guard import alert_secrets
    from slob_cli.runtime.logging import setup_logging

    setup_logging(settings.log_level, settings.log_json, secrets=alert_secrets(settings))


def _register() -> None:
    """Attach every sub-command module (each imports its heavy dependencies lazily)."""
    from slob_cli.cli import candles, setups

    app.add_typer(candles.app, name="candles")
    app.add_typer(setups.app, name="setups")
    from slob_cli.cli import backtest

    app.command("backtest")(backtest.backtest)
    from slob_cli.cli import status

    app.command("status")(status.status)
    from slob_cli.cli import dashboard

    app.command("dashboard")(dashboard.dashboard)
    from slob_cli.cli import web

    app.command("web")(web.web)
    from slob_cli.cli import report

    app.command("report")(report.report)
    from slob_cli.cli import demo

    app.command("demo")(demo.demo)

    from slob_cli.cli import connection

    app.command("test-connection")(connection.test_connection)
    app.command("record")(connection.record)
    from slob_cli.cli import trading

    app.command("trade")(trading.trade)
    app.command("run")(trading.run)
    from slob_cli.cli import paper

    app.command("paper")(paper.paper)

    from slob_cli.cli import sim_gateway

    app.command("sim-gateway")(sim_gateway.sim_gateway)
    from slob_cli.cli import migrate

    app.command("migrate")(migrate.migrate)


_register()


def stdout_closed(stream: Any = None) -> bool:
    """Return True when the reader of stdout (or `stream`) has gone (`slob candles export | head`); then mute it.

    Pointing the descriptor at /dev/null keeps the interpreter's last flush from printing its own error.
    """
    import os
    import select

    try:
        fd = (stream or sys.stdout).fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # not a real descriptor (a test runner's capture)
        return False
    if gone:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    return gone


ROOT_VALUE_OPTIONS = frozenset({"--db", "--env-file", "--log-level"})  # the root options that take a value


VERSION_ONLY = ""  # invoked_command's answer to a line whose first other option is --version: no command is needed


def invoked_command(args: Sequence[str]) -> str | None:
    """Return the sub-command named on a command line (after the root options), or None when it names none.

    A line whose first option after the root's value options is `--version` gets VERSION_ONLY: the
    root's eager `--version` answers before any sub-command (or later option) is looked at.
    """
    values = iter(args)
    for arg in values:
        if arg in ROOT_VALUE_OPTIONS:
            next(values, None)
        elif not arg.startswith("-"):
            return arg
        elif arg == "--version":
            return VERSION_ONLY
        elif arg == "--" or arg.split("=", 1)[0] not in ROOT_VALUE_OPTIONS | {"--log-json", "--no-log-json"}:
            return None  # --help or something for click to judge: the whole command tree
    return None


def narrow_to(name: str | None) -> bool:
    """Keep only the sub-command `name` on the app, when it is one (none for VERSION_ONLY); return True if narrowed.

    typer turns every registered command into a click command (signatures, type hints) on each
    start; a command line that names one needs only that one, and its help, errors and behaviour
    are those of the whole tree (tests/cli/test_main_narrow.py).
    """
    commands = [info for info in app.registered_commands if info.name == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if name is None or len(commands) + len(groups) != (0 if name == VERSION_ONLY else 1):
        return False
    app.registered_commands, app.registered_groups = commands, groups
    return True


def run() -> None:
    """Console-script entry point."""
    import gc

    # What the imports built lives as long as the process: keep it out of every garbage collection
    # (a batch command's collections then look at its own objects only, a long run's at the recent ones).
    gc.freeze()
    narrow_to(invoked_command(sys.argv[1:]))
    stdout_was_null = _is_devnull(1)
    try:
        app()
    except SystemExit as exc:
        if exc.code == 1 and not stdout_was_null and _is_devnull(1):
            # rich's Console met a closed stdout: it muted it and exits 1 (Console.on_broken_pipe); say it as we do
            raise SystemExit(STDOUT_CLOSED) from None
        raise
    sys.exit(0)


def _is_devnull(fd: int) -> bool:
    """Return True when the descriptor is /dev/null (where a closed stdout gets pointed)."""
    import os

    try:
        return os.path.samestat(os.fstat(fd), os.stat(os.devnull))
    except OSError:
        return False
