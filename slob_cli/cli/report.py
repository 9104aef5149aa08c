"""`slob report`: judge a stored paper run again and write its validation report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

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
    replay: Annotated[bool, typer.Option(
        "--replay/--no-replay", help="Re-run the tracker over the stored candles for the look-ahead check.")] = True,
) -> None:
    """Judge a stored paper run against the validation criteria; exit 0 when it passes, 5 when not.

    The look-ahead check replays the tracker over the run's stored candles with the current
    strategy settings; with --no-replay that criterion is only a warning.

    Example: slob report --run 12 --strict
    """
    from datetime import timezone

    from slob_cli.adapters.store import Store
    from slob_cli.adapters.strategy_config import load_strategy_config
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import parse_duration
    from slob_cli.cli.paper import print_outcome
    from slob_cli.errors import UsageError
    from slob_cli.runtime.lock import current_holder
    from slob_cli.runtime.paper_report import finish_validation, latest_run_id, recorded_duration
    from slob_cli.runtime.validation_data import run_span

    settings = app_context(ctx).settings
    with Store.open(settings.db_path, readonly=True) as store:
        run_id = run or latest_run_id(store)
        started, _ = run_span(store, run_id, datetime.now(timezone.utc))  # a run id not in the store is named first
        holder = current_holder(settings.db_path)
        pid = store.open_run_pid(run_id)  # None once the run has ended
        if holder is not None and pid is not None and holder.owns(run_id, pid):
            raise UsageError(f"run {run_id} is still running ({holder.describe()}): it is judged when it ends; "
                             "`slob status` shows how it goes")
        _refuse_a_replaced_sim_run(store, run_id)
        wanted = duration or recorded_duration(store, run_id)
        if wanted is None:
            raise UsageError(f"run {run_id} recorded no duration: give --duration")
        # A run that died has no end: it ran until the last it recorded (on its clock), not until now.
        now = _last_recorded(store, run_id, started) if pid is not None else datetime.now(timezone.utc)
        config = load_strategy_config(settings.strategy_config) if replay else None
        outcome = finish_validation(store, run_id, parse_duration(wanted), now, report_file, strict,
                                    replay_config=config)
    print_outcome(outcome, strict, json_out)
    raise typer.Exit(outcome.exit_code)


def _refuse_a_replaced_sim_run(store: Any, run_id: int) -> None:
    """Refuse (exit 2) a sim run whose days a later `--sim` run played again: the store no longer holds its data."""
    from slob_cli.errors import UsageError
    from slob_cli.runtime.sim_days import replayed_by_a_later_sim_run

    replaced = replayed_by_a_later_sim_run(store, run_id)
    if replaced is not None:
        later, days = replaced
        named = ", ".join(day.isoformat() for day in days)
        raise UsageError(f"run {run_id} can no longer be judged: sim run {later} played its simulated "
                         f"day{'s' if len(days) > 1 else ''} {named} again on this store, replacing what run "
                         f"{run_id} stored of it (orders, fills, trades, setup events); judge run {later}")


def _last_recorded(store: Any, run_id: int, started: datetime) -> datetime:
    """Return the last a run that died recorded: its newest heartbeat, event or tick (status reads its clock so)."""
    from slob_cli.adapters.store import from_us
    from slob_cli.runtime.candles import run_newest_tick_us
    from slob_cli.runtime.views import parse_time

    tick_us = run_newest_tick_us(store, run_id)
    moments = [parse_time(store.run_last_instant(run_id)), None if tick_us is None else from_us(tick_us)]
    return max((moment for moment in moments if moment is not None), default=started)
