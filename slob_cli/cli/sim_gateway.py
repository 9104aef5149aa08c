"""`slob sim-gateway`: run the simulated IB Gateway in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from slob_cli.errors import ConfigError, InputError, UsageError

if TYPE_CHECKING:
    from slob_cli.sim.gateway import SimGateway


def sim_gateway(
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port to listen on (0 = any free port).")] = 4002,
    ctrl_port: Annotated[int | None, typer.Option("--ctrl-port", min=0, max=65535,
                                                  help="Also open the JSON fault-control channel here.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated market (same seed, same ticks).")] = 0,
    scenario: Annotated[str | None, typer.Option("--scenario", help="A built-in day: quiet, short_setup, "
                                                                    "long_setup, volatile_gaps, both_setups.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Start the clock here, e.g. 2026-03-10T13:25Z "
                                                              "(default: the wall clock).")] = None,
    replay: Annotated[Path | None, typer.Option("--replay", help="Replay ticks from a slob store (.db) or a "
                                                                 "CSV/Parquet tick file.")] = None,
    speed: Annotated[str, typer.Option("--speed", help="Clock speed: a factor such as 10, or 'max' "
                                                       "(as fast as clients read).")] = "1",
    delayed: Annotated[bool, typer.Option("--delayed", help="Serve only delayed market data, ten minutes behind (10167/354).")] = False,
    server_version: Annotated[int, typer.Option("--server-version", help="Highest TWS server version to speak "
                                                                         "(157..178).")] = 178,
    live_account: Annotated[bool, typer.Option("--live-account", help="Accept orders for accounts that do not "
                                                                      "start with DU.")] = False,
    account: Annotated[list[str] | None, typer.Option("--account", help="Managed account (repeat for several; "
                                                                         "default DU1234567).")] = None,
    lockstep: Annotated[bool, typer.Option("--lockstep", help="Move the clock one step each time every client "
                                                              "that asks reqCurrentTime has asked again.")] = False,
) -> None:
    """Run a simulated IB Gateway that speaks the real TWS API on 127.0.0.1, until Ctrl-C.

    slob (or any TWS API client) connects to it exactly as to IB Gateway; --ctrl-port accepts JSON
    lines such as {"cmd": "drop"} or {"cmd": "error", "code": 1100} to inject faults.

    Example: slob sim-gateway --port 4002 --start 2026-03-10T13:25Z --speed 10 --ctrl-port 4010
    """
    from slob_cli.cli.options import parse_sim_speed
    from slob_cli.sim.gateway import SimGateway, parse_start

    speed_value = parse_sim_speed(speed)
    try:
        start_time = parse_start(start)
    except ValueError as exc:
        raise UsageError(f"--start {start!r}: {exc}") from None
    if replay is not None and not replay.is_file():
        raise InputError(f"--replay {replay} does not exist or is not a file")
    try:
        gateway = SimGateway(port=port, ctrl_port=ctrl_port, seed=seed, scenario=scenario, start=start_time,
                             speed=speed_value, replay=replay, delayed=delayed,
                             server_version=server_version, live_account=live_account,
                             accounts=tuple(account or ("DU1234567",)), lockstep=lockstep)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    import asyncio  # here, not at the top: every command registers this module at start-up

    asyncio.run(_serve_until_stopped(gateway))


async def _serve_until_stopped(gateway: SimGateway) -> None:
    """Start the gateway, print how to reach it, and wait for SIGINT or SIGTERM."""
    import asyncio
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await gateway.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{gateway.port}: {exc.strerror or exc}") from None
    try:
        for line in describe(gateway):
            typer.echo(line)
        await stop.wait()
        typer.echo("Stopping the simulated gateway.")
    finally:
        await gateway.stop()


def describe(gateway: SimGateway) -> list[str]:
    """Return the start-up banner: where it listens and how to point clients at it."""
    if gateway.lockstep:
        pace = "as fast as they ask" if gateway.speed is None else f"at most {gateway.speed:g}x"
        clock = f"lockstep from {gateway.clock.now():%Y-%m-%d %H:%M}Z (steps when clients ask the time, {pace})"
    elif gateway.speed is None:
        clock = f"max speed from {gateway.clock.now():%Y-%m-%d %H:%M}Z"
    elif gateway.start_time is None:
        clock = "the wall clock"
    else:
        clock = f"{gateway.start_time:%Y-%m-%d %H:%M}Z at {gateway.speed:g}x"
    if gateway.replay is not None:
        market = f"replay of {gateway.replay}"
    elif gateway.scenario:
        market = f"scenario {gateway.scenario} (seed {gateway.seed})"
    else:
        market = f"generated NQ market (seed {gateway.seed})"
    lines = [
        f"Simulated IB Gateway listening on {gateway.host}:{gateway.port} "
        f"(TWS API server version <= {gateway.server_version}, accounts {', '.join(gateway.accounts)})",
        f"Clock: {clock}; market: {market}{'; delayed data only' if gateway.delayed else ''}",
        f"Point slob at it:  slob test-connection --port {gateway.port}   (or SLOB_IB_PORT={gateway.port})",
        f"Any TWS API client: host {gateway.host}, port {gateway.port}, any unused client id",
    ]
    if gateway.ctrl_port is not None:
        lines.append(f"Fault control: JSON lines on {gateway.host}:{gateway.ctrl_port}, e.g. "
                     f"echo '{{\"cmd\": \"error\", \"code\": 1100}}' | nc {gateway.host} {gateway.ctrl_port}")
    lines.append("Press Ctrl-C to stop.")
    return lines
