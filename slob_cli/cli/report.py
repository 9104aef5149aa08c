"""`slob report`: judge a stored paper run again and write its validation report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    ctx: typer.Context,
    run: Annotated[int | None, typer.Option("--run", min=1, help="Run id (default: the newest `paper` run).")] = None,
    duration: Annotated[str | None, typer.Option(
        "--duration", help="Target duration: hours (24) or 90m, 36h, 2d (default: the run's own --duration).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too (delayed data, drops, gaps).")] = False,
    report_file: Annotated[Path | None, typer.Option(
        "--report", help="Write FILE.md and FILE.json (default: beside the db, <db>-paper-run<N>).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of a table.")] = False,
) -> None:
    """Judge a stored paper run against the validation criteria; exit 0 when it passes, 5 when not.

    The offline look-ahead replay is not part of this command: that criterion is a warning here.

    Example: slob report --run 12 --strict
    """
    from datetime import datetime, timezone

    from slob_cli.adapters.store import Store
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import parse_duration
    from slob_cli.errors import UsageError
    from slob_cli.runtime.paper_report import finish_validation, latest_run_id, recorded_duration
    from slob_cli.runtime.validation_report import report_dict, to_table

    settings = app_context(ctx).settings
    with Store.open(settings.db_path, readonly=True) as store:
        run_id = run or latest_run_id(store)
        wanted = duration or recorded_duration(store, run_id)
        if wanted is None:
            raise UsageError(f"run {run_id} recorded no duration: give --duration")
        outcome = finish_validation(store, run_id, parse_duration(wanted), datetime.now(timezone.utc),
                                    report_file, strict)
    if json_out:
        import json

        typer.echo(json.dumps(report_dict(outcome.report, strict, {"run": run_id}), indent=2, default=str))
    else:
        from rich.console import Console

        Console().print(to_table(outcome.report, strict))
        typer.echo(f"Report: {outcome.markdown} and {outcome.json}")
    raise typer.Exit(outcome.exit_code)
