"""`slob web`: a read-only web dashboard of the store, live in any browser."""

from __future__ import annotations

from typing import Annotated

import typer

MIN_TOKEN_LENGTH = 16
# `web` and `dashboard` started while a session creates or upgrades the store wait for it (runtime/status).
WaitForStore = Annotated[float, typer.Option(
    "--wait", min=0.0, max=3600.0, help="Real seconds to wait, saying so on stderr, while a session is still creating "
    "or upgrading the store (then exit 3); 0 does not wait.")]


def web(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but loopback needs a token.")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0 picks a free one).")
                    ] = 5000,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="SLOB_WEB_TOKEN", show_envvar=False,
        help="Access token every request must carry (Bearer header or the login form) [env SLOB_WEB_TOKEN; "
        f"prefer it: a flag shows in `ps`]; at least {MIN_TOKEN_LENGTH} characters.")] = None,
    wait: WaitForStore = 60.0,
) -> None:
    """Serve a live, read-only dashboard: chart, setups, orders, position, trades, P&L, reports.

    Opens the store read-only (SQLite mode=ro) and never writes; it works while a session trades on
    the same store, and on a store where nothing runs; started while a session still creates or
    upgrades the store, it waits for it (--wait, saying so on stderr). Binding to an address other than loopback
    requires --token or SLOB_WEB_TOKEN (exit 3 without). The JSON API is in docs/commands.md.

    Example: slob web --host 0.0.0.0 --port 5000   (with SLOB_WEB_TOKEN set in .env or the environment)
    """
    from slob_cli.cli.context import app_context
    from slob_cli.web.server import serve_web

    settings = app_context(ctx).settings
    if token:  # a guessable token guards nothing: a flag is a usage error, the setting a config one
        _check_token_length(token, from_env=getattr(ctx.get_parameter_source("token"), "name", "") == "ENVIRONMENT")
    serve_web(settings.db_path, settings.display_tz, host, port, token or None,
              announce=lambda line: typer.echo(line), wait=wait,
              notice=lambda line: typer.echo(f"slob web: {line}", err=True))


def _check_token_length(token: str, from_env: bool) -> None:
    from slob_cli.errors import ConfigError, UsageError

    if len(token) < MIN_TOKEN_LENGTH:
        name, error = ("SLOB_WEB_TOKEN", ConfigError) if from_env else ("--token", UsageError)
        raise error(f"{name} must be at least {MIN_TOKEN_LENGTH} characters (it has {len(token)})")
