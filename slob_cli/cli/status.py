"""`slob status`: runs, what is running, open setups, working orders, positions, today's P&L, health."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from slob_cli.errors import ExitCode, UsageError


def _damage(store: Any) -> str | None:
    """Return what SQLite's quick_check finds wrong with the store, or None."""
    import sqlite3

    try:
        return store.integrity_problem()
    except sqlite3.DatabaseError as exc:
        return str(exc)


def status(
    ctx: typer.Context,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Print nothing but one line (not with --json); exit 0 only when a session holds the lock and shows "
        "life within --max-age (one started by an older slob, which never pulses: while its process is not "
        "stopped), else 1 (for container health checks).")] = False,
    max_age: Annotated[float, typer.Option(
        "--max-age", min=1.0, help="Real seconds after which a running session is stale: its last heartbeat, or "
        "for a run on a simulated clock its last pulse.")] = 60.0,
    runs: Annotated[int, typer.Option("--runs", min=1, help="How many recent runs to list.")] = 10,
) -> None:
    """Show the store's state: recent runs, the running session, setups, orders, positions, P&L.

    Reads the store without locking or writing, so it is safe while a session runs.

    Example: slob status --json
    """
    import json
    from datetime import datetime, timezone

    from slob_cli.cli.context import app_context
    from slob_cli.runtime.status import StoreBeingMade, check_health, collect_status, open_for_reading, running_text

    if check and json_out:
        raise UsageError("--check prints one line of text for health checks: use it without --json")
    settings = app_context(ctx).settings
    try:
        opened = open_for_reading(settings.db_path, max_age)
    except StoreBeingMade as exc:  # a session creates or upgrades it: judged by its pulse
        if not check:
            raise
        problem = exc.liveness.problem(exc.holder)
        typer.echo(f"unhealthy: {exc.what}: {problem}" if problem else f"healthy: {exc.what}, {exc.life}")
        raise typer.Exit(int(ExitCode.UNEXPECTED if problem else ExitCode.OK)) from None
    with opened as store:
        damage = _damage(store) if check else None  # first: reading a damaged store can fail anywhere
        if damage:
            typer.echo(f"unhealthy: store {str(settings.db_path)!r} is damaged ({damage})")
            raise typer.Exit(int(ExitCode.UNEXPECTED))
        report = collect_status(store, settings.db_path, datetime.now(timezone.utc), run_limit=runs, max_age=max_age)
    if check:
        problem = check_health(report)
        if problem:
            typer.echo(f"unhealthy: {problem}")
            raise typer.Exit(int(ExitCode.UNEXPECTED))
        assert report.running is not None and report.liveness is not None  # check_health found a live holder
        simulated = bool((report.clock or {}).get("simulated"))  # its start is then named on the wall clock
        running = running_text(report.running, simulated)
        typer.echo(f"healthy: {running}, {report.liveness.describe(report.health_age_seconds)}")
        return
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    from slob_cli.cli.status_render import render_status
    from slob_cli.cli.tables import fitting_console

    rendered = render_status(report, settings.zone)
    fitting_console(rendered).print(rendered)
