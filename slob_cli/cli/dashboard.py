"""`slob dashboard`: a live terminal view of the store while a session writes to it."""

from __future__ import annotations

from typing import Annotated

import typer

from slob_cli.cli.web import WaitForStore  # the same wait as `web`'s


def dashboard(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit (for scripts and tests).")] = False,
    refresh: Annotated[float, typer.Option("--refresh", min=0.2, max=60.0, help="Seconds between frames.")] = 1.0,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Chart this symbol (default: newest candles).")] = None,
    wait: WaitForStore = 60.0,
) -> None:
    """Watch a session live: connection, data mode, candles, levels, setups, orders, positions, P&L, events.

    Reads the store without locking or writing, so it can watch a session started by cron or in
    another terminal. Stop it with Ctrl-C. Not on a terminal (a pipe, a file), it prints one frame
    every --refresh seconds instead of redrawing one. Started while a session still creates or upgrades
    the store, it waits for it (--wait, saying so on stderr).

    Example: slob dashboard --refresh 2
    """
    import time
    from datetime import datetime, timezone

    from rich.console import Console
    from rich.live import Live

    from slob_cli.cli.candles import _symbol as checked_symbol
    from slob_cli.cli.context import app_context
    from slob_cli.runtime.dashboard import read_snapshot
    from slob_cli.runtime.dashboard_view import render_frame
    from slob_cli.runtime.status import open_when_ready

    settings = app_context(ctx).settings
    chosen = checked_symbol(symbol)  # an unknown symbol is a usage error, not an empty chart

    def notice(line: str) -> None:
        typer.echo(f"slob dashboard: {line}", err=True)

    with open_when_ready(settings.db_path, wait, notice) as store:  # one a session is still making ready: waited for

        def frame():  # noqa: ANN202 - a rich renderable
            snapshot = read_snapshot(store, settings.db_path, datetime.now(timezone.utc), chosen)
            return render_frame(snapshot, settings.zone)

        console = Console()
        if once or not console.is_terminal:
            from slob_cli.cli.tables import fitting_console

            while True:  # not a terminal (a pipe, a log file): a live view shows nothing there until it ends
                rendered = frame()
                printer = fitting_console(rendered)
                printer.print(rendered)
                if once:
                    return
                printer.file.flush()
                time.sleep(refresh)
        try:
            with Live(frame(), console=console, refresh_per_second=max(1.0, 1.0 / refresh), screen=False) as live:
                while True:
                    time.sleep(refresh)
                    live.update(frame())
        except KeyboardInterrupt:
            return
