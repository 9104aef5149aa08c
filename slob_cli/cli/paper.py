"""`slob paper`: run the engine against the paper account for a duration, then judge the run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from slob_cli.cli.connection import (
    AccountOption,
    ClientIdOption,
    ConnectTimeoutOption,
    HostOption,
    PortOption,
    gateway_settings,
)
from slob_cli.cli.guard import FailIfRunningOption
from slob_cli.cli.trading import MonitorOption


def paper(
    ctx: typer.Context,
    duration: Annotated[str, typer.Option("--duration", help="How long to run: hours (24) or 90m, 36h, 2d.")] = "24",
    monitor_only: MonitorOption = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too (delayed data, any drop).")] = False,
    report_file: Annotated[Path | None, typer.Option(
        "--report", help="Write FILE.md and FILE.json (default: beside the db, <db>-paper-run<N>).")] = None,
    sim: Annotated[bool, typer.Option("--sim", help="Rehearse against the embedded simulated gateway, accelerated.")] = False,
    speed: Annotated[str, typer.Option("--speed", help="Simulated clock speed with --sim: a factor like 600, or max.")
                     ] = "1000",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated market (--sim).")] = 7,
    scenario: Annotated[str, typer.Option("--scenario", help="Planted first day of the simulated market (--sim).")] = "both_setups",
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of a table.")] = False,
    fail_if_running: FailIfRunningOption = False,
    connect_timeout: ConnectTimeoutOption = None,
) -> None:
    """Validate slob on the paper account for 24-48 h, then print a pass/fail report (exit 0 or 5).

    The report (Markdown and JSON beside the db, or --report) covers uptime, connection stability,
    candles, gaps and drops, no look-ahead (the tracker re-run offline over the stored candles must
    give exactly the live events), no duplicate orders, every entry protected, setups, fills, P&L
    and slippage. --sim rehearses the whole run against the embedded simulated gateway in minutes.

    Example: slob paper --duration 24
    """
    from contextlib import ExitStack

    from slob_cli.cli.guard import run_guard, session_lock, start_failure_recorded
    from slob_cli.cli.options import parse_duration, parse_sim_speed
    from slob_cli.cli.trading import cut_short_stats, replace_earlier_rehearsal, run_args
    from slob_cli.errors import BrokerUnavailable, RunCutShort, ValidationFailed
    from slob_cli.runtime import wiring
    from slob_cli.runtime.paper_report import finish_validation
    from slob_cli.runtime.session import DEFAULT_SIM_DAY, SimOptions, run_session
    from slob_cli.runtime.validation_report import check_report_base

    target = parse_duration(duration)
    if report_file is not None:
        check_report_base(report_file)  # a 24 h run must not end unable to write its report
    settings = gateway_settings(ctx, host, port, client_id, account, connect_timeout)
    sim_options = None
    if sim:
        sim_options = SimOptions(seed=seed, scenario=scenario, trading_date=DEFAULT_SIM_DAY, speed=parse_sim_speed(speed),
                                 around_the_clock=True, stop_at_duration=True)
    steps = ("record", "aggregate", "track", "trade")
    with ExitStack() as stack:
        # Before the embedded gateway or anything else starts; a failed start leaves no new store behind.
        lock = stack.enter_context(session_lock(ctx, "paper", fail_if_running))
        with start_failure_recorded(ctx, "paper", lock):
            wired = wiring.prepare_session(stack, settings, monitor_only=monitor_only, live=False,
                                           duration_seconds=target, steps=steps, sim=sim_options)
        args = {**run_args(wired, steps=steps, monitor_only=monitor_only, live=False, duration=duration),
                "strict": strict}
        with run_guard(ctx, "paper", fail_if_running=fail_if_running, args=args, clock=wired.clock,
                       lock=lock) as guarded:
            guarded.data_mode = "sim" if sim else settings.market_data_type
            guarded.store.set_run_mode(guarded.run_id, guarded.data_mode)  # shown while it runs, too
            if sim:
                replace_earlier_rehearsal(guarded, wired)
            unreachable: BrokerUnavailable | None = None
            cut: RunCutShort | None = None
            try:
                result = run_session(guarded.store, wired.config, wired.options, strategy=wired.strategy,
                                     risk=wired.risk, calendar=wired.calendar, clock=wired.clock,
                                     run_id=guarded.run_id, notifier=guarded.notifier)
                if sim:
                    result.stats.data_mode = "sim"  # the feed says "live": live from the simulated gateway
                stats = {**result.stats.as_dict(), "data_mode": result.stats.data_mode}
            except RunCutShort as exc:  # a validation run that did not last its duration has failed: judged, exit 5
                cut, stats = exc, cut_short_stats(exc, "sim" if sim else guarded.data_mode)
                guarded.ended_at = exc.at
            except BrokerUnavailable as exc:
                if lock.created:  # a new store: the failed start leaves neither it nor a report (session_lock)
                    raise
                # Never connected: the report still says so (connection criteria fail), then exit 4.
                unreachable, stats = exc, {"data_mode": guarded.data_mode, "candles": 0}
            guarded.stats = stats
            now = guarded.ended_at or wired.clock.now()
            outcome = finish_validation(guarded.store, guarded.run_id, target, now, report_file, strict,
                                        replay_config=wired.strategy, crashed=False, monitor_only=monitor_only,
                                        notifier=guarded.notifier, stats=stats)
            print_outcome(outcome, strict, json_out)
            if unreachable is not None:
                raise unreachable
            if cut is not None:
                raise ValidationFailed(str(cut)) from None
            if stats.get("stopped_by") and not outcome.passed:
                # A clean stop, but a validation run that did not last its duration was cut short: never exit 0.
                typer.echo(f"Stopped by {stats['stopped_by']} before its duration: the run was cut short.", err=True)
            if not outcome.passed:
                raise typer.Exit(outcome.exit_code)


def print_outcome(outcome: Any, strict: bool, json_out: bool) -> None:
    """Print a judged run: its report as JSON, or the criteria table (names and figures whole) and the files."""
    from slob_cli.cli.tables import fitting_console
    from slob_cli.runtime.validation_report import report_dict, to_table

    if json_out:
        import json

        typer.echo(json.dumps(report_dict(outcome.report, strict, outcome.meta), indent=2, default=str))  # as the file
        return
    table = to_table(outcome.report, strict)
    fitting_console(table).print(table)
    typer.echo(f"Report: {outcome.markdown} and {outcome.json}")
