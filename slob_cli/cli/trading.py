"""`slob trade` and `slob run`: the live engine, alone or chained with the embedded simulated gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from slob_cli.runtime.session import SimOptions
    from slob_cli.runtime.wiring import SessionWiring

MonitorOption = Annotated[bool, typer.Option("--monitor-only", help="Run everything but send no orders.")]
LiveOption = Annotated[bool, typer.Option("--live", help="Allow a live (non-paper) account; also needs SLOB_ALLOW_LIVE=yes.")]
DurationOption = Annotated[str | None, typer.Option("--duration", help="Stop after a duration: hours (6) or 90m, 2h, 1h30m, 2d (engine clock).")]
FollowClockOption = Annotated[float | None, typer.Option(
    "--follow-sim-clock", hidden=True,
    help="Follow a simulated gateway's virtual clock running at this speed (tests, demos).")]
LockstepOption = Annotated[bool, typer.Option(
    "--lockstep", hidden=True,
    help="Drive a `slob sim-gateway --lockstep` clock step by step (same results at any speed).")]


def trade(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    monitor_only: MonitorOption = False,
    live: LiveOption = False,
    duration: DurationOption = None,
    fail_if_running: FailIfRunningOption = False,
    follow_sim_clock: FollowClockOption = None,
    connect_timeout: ConnectTimeoutOption = None,
    lockstep: LockstepOption = False,
) -> None:
    """Run the trading engine against the gateway: ticks, candles, setups, brackets.

    Paper by default: orders go only to a paper account (DU...) unless --live and SLOB_ALLOW_LIVE=yes.
    Stops cleanly on Ctrl-C / SIGTERM (protective orders stay at the broker) or after --duration.

    Example: slob trade --port 4002 --account DU1234567
    """
    settings = gateway_settings(ctx, host, port, client_id, account, connect_timeout)
    _session(ctx, settings, "trade", monitor_only=monitor_only, live=live, duration=duration,
             fail_if_running=fail_if_running, steps=("record", "aggregate", "track", "trade"), sim=None,
             follow_speed=follow_sim_clock, lockstep=lockstep)


def run(
    ctx: typer.Context,
    steps: Annotated[str, typer.Option("--steps", help="Comma-separated: record,aggregate,track,trade.")] = "record,aggregate,track,trade",
    sim: Annotated[bool, typer.Option("--sim", help="Start the embedded simulated gateway on a free port and trade a seeded day.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated day (--sim).")] = 7,
    speed: Annotated[str, typer.Option("--speed", help="Simulated clock speed: a factor like 600, or max (--sim).")] = "1000",
    scenario: Annotated[str, typer.Option("--scenario", help="Simulated day: both_setups, short_setup, long_setup, quiet, volatile_gaps (--sim).")] = "both_setups",
    day: Annotated[str | None, typer.Option("--date", help="Trading date of the simulated day, YYYY-MM-DD (--sim).")] = None,
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    monitor_only: MonitorOption = False,
    live: LiveOption = False,
    duration: DurationOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    fail_if_running: FailIfRunningOption = False,
    connect_timeout: ConnectTimeoutOption = None,
) -> None:
    """Chain record -> aggregate -> track -> trade in one process and print a summary.

    With --sim the embedded simulated gateway serves a seeded day with planted setups, as fast
    as the data allows; without it, the steps run against the configured gateway.

    Example: slob run --sim --seed 7 --speed 1000
    """
    from datetime import date

    from slob_cli.cli.options import parse_sim_speed
    from slob_cli.errors import UsageError
    from slob_cli.runtime.session import SimOptions, parse_steps

    chosen = parse_steps(steps)
    settings = gateway_settings(ctx, host, port, client_id, account, connect_timeout)
    sim_options = None
    if sim:
        try:
            trading_date = date.fromisoformat(day) if day else None
        except ValueError:
            raise UsageError(f"--date {day!r} is not YYYY-MM-DD") from None
        sim_options = SimOptions(seed=seed, scenario=scenario, trading_date=trading_date, speed=parse_sim_speed(speed))
    _session(ctx, settings, "run", monitor_only=monitor_only or "trade" not in chosen, live=live,
             duration=duration, fail_if_running=fail_if_running, steps=chosen, sim=sim_options, json_out=json_out)


def run_args(wired: SessionWiring, *, steps: tuple[str, ...], monitor_only: bool, live: bool,
             duration: str | None) -> dict[str, Any]:
    """Return the options of a session as the runs row records them."""
    return {"steps": list(steps), "sim": wired.gateway is not None, "monitor_only": monitor_only, "live": live,
            "host": wired.config.host, "port": wired.config.port, "account": wired.config.account,
            "duration": duration,
            "sim_clock": wired.sim_clock}


def _session(ctx: typer.Context, settings: Any, command: str, *, monitor_only: bool, live: bool,
             duration: str | None, fail_if_running: bool, steps: tuple[str, ...], sim: SimOptions | None,
             json_out: bool = False, follow_speed: float | None = None, lockstep: bool = False) -> None:
    from contextlib import ExitStack

    from slob_cli.cli.guard import run_guard, session_lock, start_failure_recorded
    from slob_cli.cli.options import parse_duration
    from slob_cli.errors import GatewayGone, RunCutShort, StoppedEarly
    from slob_cli.runtime import wiring
    from slob_cli.runtime.session import run_session

    seconds = None if duration is None else parse_duration(duration)
    with ExitStack() as stack:
        # Before the embedded gateway or anything else starts; a failed start leaves no new store behind.
        lock = stack.enter_context(session_lock(ctx, command, fail_if_running))
        with start_failure_recorded(ctx, command, lock):
            wired = wiring.prepare_session(stack, settings, monitor_only=monitor_only, live=live, duration_seconds=seconds,
                                           steps=steps, sim=sim, follow_speed=follow_speed, lockstep=lockstep)
        args = run_args(wired, steps=steps, monitor_only=monitor_only, live=live, duration=duration)
        with run_guard(ctx, command, fail_if_running=fail_if_running, args=args, clock=wired.clock,
                       lock=lock) as guarded:
            guarded.data_mode = "sim" if wired.sim_clock else settings.market_data_type
            guarded.store.set_run_mode(guarded.run_id, guarded.data_mode)  # shown while it runs, too
            if sim is not None:
                replace_earlier_rehearsal(guarded, wired)
            try:
                result = run_session(guarded.store, wired.config, wired.options, strategy=wired.strategy,
                                     risk=wired.risk, calendar=wired.calendar, clock=wired.clock,
                                     run_id=guarded.run_id, notifier=guarded.notifier)
            except RunCutShort as exc:  # the run row keeps how far it got (exit 1 follows)
                guarded.stats, guarded.ended_at = {"stats": cut_short_stats(exc, "sim")}, exc.at
                raise
            if wired.sim_clock:
                result.stats.data_mode = "sim"  # the feed says "live": live from a simulated gateway
            guarded.stats = result.as_dict()
            cut = result.stats.stopped_by if wired.options.until is not None else None
            if cut:  # a period asked for and not reached: the summary, then exit 130/143, never 0
                _render(result, json_out)  # here, while the run row is open; the raise skips the one below
                raise StoppedEarly(cut, f"{command} was cut short: {cut} stopped it before its --duration")
            if result.stats.gateway_gone_at is not None:  # the period ended without its gateway: exit 4, never 0
                _render(result, json_out)
                raise GatewayGone(command, result.stats.gateway_gone_at, "--duration")
    _render(result, json_out)


def cut_short_stats(cut: Any, data_mode: str) -> dict[str, Any]:
    """Return the counters of a run cut short (errors.RunCutShort), as its run row stores them."""
    stats = cut.stats.as_dict() if cut.stats is not None else {}
    return {**stats, "data_mode": data_mode}


def replace_earlier_rehearsal(guarded: Any, wired: SessionWiring) -> None:
    """Clear what earlier sim runs stored for the days this sim run plays (runtime/sim_days.py)."""
    from slob_cli.runtime.sim_days import replace_sim_days, sim_run_days

    replace_sim_days(guarded.store, wired.options.symbol, sim_run_days(wired.clock.now(), wired.options.until),
                     guarded.run_id)


def _render(result: Any, json_out: bool) -> None:
    import json

    if json_out:
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    from rich.table import Table

    from slob_cli.cli.tables import fitting_console
    from slob_cli.core.pnl import money_text, points_text, price_text
    from slob_cli.runtime.views import format_quantity

    stats = result.stats
    table = Table(title="slob session summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("ticks processed", f"{stats.ticks:,}")
    table.add_row("ticks stored", f"{result.ticks_stored:,}")
    table.add_row("candles", f"{stats.candles:,}")
    table.add_row("setups", ", ".join(f"{k} {v}" for k, v in sorted(result.setups_by_state.items())) or "none")
    table.add_row("skipped", str(len(result.skipped)))
    table.add_row("orders", str(result.orders))
    table.add_row("fills", str(result.fills))
    table.add_row("reconnects", str(stats.reconnects))
    table.add_row("data", stats.data_mode)
    for trade in result.trades:
        # SHORT 1 @ 25,571.75 -> target 25,501.00, +70.75 points, $+1,410.50: as status and the web page word them.
        outcome = trade["exit_reason"] or "open"
        if trade["exit_price"] is not None:
            outcome += f" {price_text(trade['exit_price'])}, {points_text(trade['pnl_points'])} points"
        if trade["pnl_money"] is not None:
            outcome += f", {money_text(trade['pnl_money'])}"
        table.add_row(f"trade {trade['setup_id']}", f"{trade['direction']} {format_quantity(trade['quantity'])} @ "
                                                    f"{price_text(trade['entry_price'])} -> {outcome}")
    table.add_row("P&L (closed, after commission)", money_text(result.pnl))
    fitting_console(table).print(table)
