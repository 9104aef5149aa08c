"""`slob trade` and `slob run`: the live engine, alone or chained with the embedded simulated gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import typer

from slob_cli.cli.connection import AccountOption, ClientIdOption, HostOption, PortOption, gateway_settings
from slob_cli.cli.guard import FAIL_IF_RUNNING_HELP

MonitorOption = Annotated[bool, typer.Option("--monitor-only", help="Run everything but send no orders.")]
LiveOption = Annotated[bool, typer.Option("--live", help="Allow a live (non-paper) account; also needs SLOB_ALLOW_LIVE=yes.")]
DurationOption = Annotated[str | None, typer.Option("--duration", help="Stop after a duration: hours (6) or 90m, 2h, 1h30m, 2d (engine clock).")]
FollowClockOption = Annotated[float | None, typer.Option(
    "--follow-sim-clock", hidden=True,
    help="Follow a simulated gateway's virtual clock running at this speed (tests, demos).")]


def trade(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    monitor_only: MonitorOption = False,
    live: LiveOption = False,
    duration: DurationOption = None,
    fail_if_running: Annotated[bool, typer.Option("--fail-if-running", help=FAIL_IF_RUNNING_HELP)] = False,
    follow_sim_clock: FollowClockOption = None,
) -> None:
    """Run the trading engine against the gateway: ticks, candles, setups, brackets.

    Paper by default: orders go only to a paper account (DU...) unless --live and SLOB_ALLOW_LIVE=yes.
    Stops cleanly on Ctrl-C / SIGTERM (protective orders stay at the broker) or after --duration.

    Example: slob trade --port 4002 --account DU1234567
    """
    settings = gateway_settings(ctx, host, port, client_id, account)
    _session(ctx, settings, "trade", monitor_only=monitor_only, live=live, duration=duration,
             fail_if_running=fail_if_running, steps=("record", "aggregate", "track", "trade"), sim=None,
             follow_speed=follow_sim_clock)


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
    fail_if_running: Annotated[bool, typer.Option("--fail-if-running", help=FAIL_IF_RUNNING_HELP)] = False,
) -> None:
    """Chain record -> aggregate -> track -> trade in one process and print a summary.

    With --sim the embedded simulated gateway serves a seeded day with planted setups, as fast
    as the data allows; without it, the steps run against the configured gateway.

    Example: slob run --sim --seed 7 --speed 1000
    """
    from datetime import date

    from slob_cli.errors import UsageError
    from slob_cli.runtime.session import SimOptions, parse_steps

    chosen = parse_steps(steps)
    settings = gateway_settings(ctx, host, port, client_id, account)
    sim_options = None
    if sim:
        try:
            trading_date = date.fromisoformat(day) if day else None
        except ValueError:
            raise UsageError(f"--date {day!r} is not YYYY-MM-DD") from None
        speed_value: float | str = speed
        if speed != "max":
            try:
                speed_value = float(speed)
            except ValueError:
                raise UsageError(f"--speed {speed!r} is not a number or 'max'") from None
            if speed_value <= 0:
                raise UsageError("--speed must be positive")
        sim_options = SimOptions(seed=seed, scenario=scenario, trading_date=trading_date, speed=speed_value)
    _session(ctx, settings, "run", monitor_only=monitor_only or "trade" not in chosen, live=live,
             duration=duration, fail_if_running=fail_if_running, steps=chosen, sim=sim_options, json_out=json_out)


@dataclass
class Prepared:
    """Everything a session needs, wired: gateway address, clock, engine options, configs."""

    config: Any
    clock: Any
    options: Any
    strategy: Any
    risk: Any
    calendar: Any
    args: dict[str, Any]
    gateway: Any = None  # the embedded simulated gateway, with --sim


def prepare(stack: Any, settings: Any, *, monitor_only: bool, live: bool, duration: str | None,
            steps: tuple[str, ...], sim: Any, follow_speed: float | None = None) -> Prepared:
    """Wire one session: the gateway (or the embedded sim started on `stack`), its clock, the options."""
    from slob_cli.adapters.calendar import load_calendar_isolated
    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.adapters.risk_config import load_risk_config
    from slob_cli.adapters.strategy_config import load_strategy_config
    from slob_cli.cli.options import parse_duration
    from slob_cli.errors import UsageError
    from slob_cli.runtime.clock import FollowedClock, SystemClock
    from slob_cli.runtime.engine import EngineOptions
    from slob_cli.runtime.executor import ExecutorOptions
    from slob_cli.runtime.guard import check_live_allowed
    from slob_cli.runtime.session import grace_for_speed, start_sim

    strategy = load_strategy_config(settings.strategy_config)
    risk = load_risk_config(settings.strategy_config)
    clock_now = SystemClock().now()
    first = clock_now.date().replace(year=clock_now.year - 1)
    if sim is not None and sim.trading_date is not None:
        first = min(first, sim.trading_date)
    calendar = load_calendar_isolated(first, clock_now.date().replace(year=clock_now.year + 1))
    config = GatewayConfig.from_settings(settings)
    clock: Any = SystemClock()
    until = None
    gateway = None
    if sim is not None:
        gateway, _, end = start_sim(stack, sim, calendar)
        config = GatewayConfig.from_settings(settings, host=gateway.host, port=gateway.port,
                                             account=None, heartbeat_interval=3600.0)
        clock = gateway.clock
        until = end
    elif follow_speed is not None:
        if follow_speed <= 0 or duration is not None:
            raise UsageError("--follow-sim-clock needs a positive speed and no --duration")
        clock = FollowedClock(follow_speed)
    if not monitor_only:
        # Before any order connection: refuse a live account unless both opt-ins are given.
        check_live_allowed(config.account, live, settings.live_allowed_by_env, gateway_is_sim=sim is not None)
    if duration is not None:
        from datetime import timedelta

        limit = clock.now() + timedelta(seconds=parse_duration(duration))
        until = limit if sim is None or sim.stop_at_duration else min(until, limit)
    options = EngineOptions(
        symbol=settings.symbols[0], data_type=settings.market_data_type, until=until,
        grace_seconds=sim.grace_seconds if sim is not None else grace_for_speed(follow_speed or 1.0),
        clock_speed=sim.clock_speed if sim is not None else follow_speed or 1.0,
        store_ticks="record" in steps, track="track" in steps, lockstep=sim is not None and sim.lockstep,
        executor=ExecutorOptions(monitor_only=monitor_only, kill_switch_path=settings.kill_switch_path),
    )
    args = {"steps": list(steps), "sim": sim is not None, "monitor_only": monitor_only, "live": live,
            "host": config.host, "port": config.port, "account": config.account, "duration": duration}
    return Prepared(config, clock, options, strategy, risk, calendar, args, gateway)


def _session(ctx: typer.Context, settings: Any, command: str, *, monitor_only: bool, live: bool,
             duration: str | None, fail_if_running: bool, steps: tuple[str, ...], sim: Any,
             json_out: bool = False, follow_speed: float | None = None) -> None:
    from contextlib import ExitStack

    from slob_cli.cli.guard import run_guard
    from slob_cli.runtime.session import run_session

    with ExitStack() as stack:
        wired = prepare(stack, settings, monitor_only=monitor_only, live=live, duration=duration, steps=steps,
                        sim=sim, follow_speed=follow_speed)
        with run_guard(ctx, command, fail_if_running=fail_if_running, args=wired.args, clock=wired.clock) as guarded:
            guarded.data_mode = "sim" if sim is not None else settings.market_data_type
            result = run_session(guarded.store, wired.config, wired.options, strategy=wired.strategy,
                                 risk=wired.risk, calendar=wired.calendar, clock=wired.clock, run_id=guarded.run_id,
                                 notifier=guarded.notifier)
            guarded.stats = result.as_dict()
    _render(result, json_out)


def _render(result: Any, json_out: bool) -> None:
    import json

    if json_out:
        typer.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

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
        pnl = trade["pnl_money"]
        table.add_row(f"trade {trade['setup_id']}",
                      f"{trade['direction']} {trade['quantity']:g} @ {trade['entry_price']:.2f} -> "
                      f"{trade['exit_reason'] or 'open'} {'' if pnl is None else f'{pnl:+,.2f} USD'}")
    table.add_row("P&L (closed, after commission)", f"{result.pnl:+,.2f} USD")
    Console().print(table)
