"""`slob test-connection` and `slob record`: the commands that talk to an IB gateway."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from slob_cli.cli.guard import FailIfRunningOption

HostOption = Annotated[str | None, typer.Option("--host", help="Gateway host [env SLOB_IB_HOST, default 127.0.0.1].")]
PortOption = Annotated[int | None, typer.Option("--port", help="Gateway port [env SLOB_IB_PORT, default 4002].")]
ClientIdOption = Annotated[int | None, typer.Option("--client-id", help="API client id [env SLOB_IB_CLIENT_ID, default 1].")]
AccountOption = Annotated[str | None, typer.Option("--account", help="IB account [env SLOB_IB_ACCOUNT].")]
ConnectTimeoutOption = Annotated[float | None, typer.Option(
    "--connect-timeout", min=0.1,
    help="Seconds to make the first connection, retrying inside; then exit 4 [env SLOB_CONNECT_TIMEOUT, default 60].")]


def gateway_settings(ctx: typer.Context, host: str | None, port: int | None, client_id: int | None,
                     account: str | None, connect_timeout: float | None = None, **more: Any) -> Any:
    """Return settings with the gateway flags applied over SLOB_IB_* (shared by every gateway command)."""
    from slob_cli.cli.context import app_context

    return app_context(ctx).with_overrides(ib_host=host, ib_port=port, ib_client_id=client_id, ib_account=account,
                                           connect_timeout=connect_timeout, **more)


def test_connection(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    symbol: Annotated[str, typer.Option("--symbol", help="Futures root to check (NQ or MNQ).")] = "NQ",
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each answer and for ticks.")] = 10.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as one JSON object.")] = False,
) -> None:
    """Check that slob can use an IB gateway: reachability, login, account, contract, data, clock.

    Exit 0 when every check passes, 4 when the gateway is unreachable, 5 when it answers but a
    check fails; each failure prints one line of advice.

    Example: slob test-connection --port 4002 --account DU123456
    """
    import asyncio
    import json

    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.adapters.ib.diagnostics import run_checks
    from slob_cli.core.models import INSTRUMENTS
    from slob_cli.errors import UsageError

    symbol = symbol.upper()
    if symbol not in INSTRUMENTS:
        raise UsageError(f"unknown symbol {symbol!r} (known: {', '.join(INSTRUMENTS)})")
    settings = gateway_settings(ctx, host, port, client_id, account)
    config = GatewayConfig.from_settings(settings, connect_timeout=min(settings.ib_connect_timeout, timeout))
    report = asyncio.run(run_checks(config, symbol, timeout, settings.market_data_type, settings.zone))
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _render_checks(report)
    raise typer.Exit(int(report.exit_code))


def _render_checks(report: Any) -> None:
    from rich.table import Table

    from slob_cli.cli.tables import fitting_console

    table = Table(title="IB gateway checks")
    table.add_column("", width=2)
    table.add_column("check")
    table.add_column("result")
    table.add_column("advice")
    marks = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[dim]-[/dim]"}
    for check in report.checks:
        table.add_row(marks[check.ok], check.name, check.detail, check.advice)
    console = fitting_console(table)  # piped, no word is split (a host, a time)
    console.print(table)
    verdict = {0: "[green]all checks passed[/green]", 4: "[red]gateway unreachable[/red]",
               5: "[red]gateway reachable, but a check failed[/red]"}[int(report.exit_code)]
    console.print(verdict)


def record(
    ctx: typer.Context,
    host: HostOption = None,
    port: PortOption = None,
    client_id: ClientIdOption = None,
    account: AccountOption = None,
    symbols: Annotated[str | None, typer.Option("--symbols", help="Comma-separated roots, e.g. NQ,MNQ [env SLOB_SYMBOLS].")] = None,
    duration: Annotated[str | None, typer.Option(
        "--duration", help="Stop after hours (2) or 90m, 2h, 1h30m, 1d of real time.")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Stop at HH:MM in the display time zone, on the session's clock (a simulated gateway's).")] = None,
    warm_up: Annotated[bool, typer.Option("--warm-up/--no-warm-up", help="Fetch today's 1-min bars first.")] = True,
    fail_if_running: FailIfRunningOption = False,
    connect_timeout: ConnectTimeoutOption = None,
) -> None:
    """Stream trade ticks from the gateway into the store until stopped.

    Batches are committed about every quarter second, so a crash loses at most the last ~1 s.
    Reconnects on its own after gateway restarts (the gap is recorded as an event, no tick is
    stored twice). Stops cleanly on Ctrl-C / SIGTERM or at the end of --duration / --until.

    Example: slob record --symbols NQ --duration 2h
    """
    import asyncio
    from datetime import timedelta

    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.cli.guard import run_guard
    from slob_cli.cli.options import parse_duration
    from slob_cli.errors import GatewayGone, StoppedEarly
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.runtime.recorder import RecorderOptions, parse_until

    settings = gateway_settings(ctx, host, port, client_id, account, connect_timeout, symbols=symbols)
    now = _now()
    end = None if duration is None else now + timedelta(seconds=parse_duration(duration))  # real time
    if until is not None:
        parse_until(until, now, settings.zone)  # bad input exits 2 before connecting; read on the session's clock
    options = RecorderOptions(symbols=list(settings.symbols), until=end, stop_at=until, zone=settings.zone,
                              data_type=settings.market_data_type, warm_up=warm_up, stale_after=settings.stale_after)
    config = GatewayConfig.from_settings(settings)
    args = {"symbols": options.symbols, "duration": duration, "until": until, "host": config.host,
            "port": config.port, "client_id": config.client_id, "account": config.account,
            "sim_clock": False}  # True once a simulated gateway answers: the clock follows it (Recorder)
    # The wall clock, until a simulated gateway says it is one: then its time, as the ticks' (a speed or a
    # start of its own), so the run's start and end agree with them in `status`.
    clock = FollowedClock.for_record()  # and its pace, learned from the trades (--speed)
    with run_guard(ctx, "record", fail_if_running=fail_if_running, args=args, clock=clock) as run:  # its own lock
        run.data_mode = options.data_type
        stats = asyncio.run(_record(run, config, options, clock))
        run.stats, run.data_mode = stats, stats["data_mode"]
        cut = stats.get("stopped_by") if options.until is not None or options.stop_at is not None else None
        typer.echo(f"Recorded {stats['ticks_stored']:,} ticks ({stats['reconnects']} reconnects, "
                   f"{stats['backfilled']:,} backfilled after outages, {stats['gaps']} gaps not recovered, "
                   f"{stats['dropped']} dropped, data {stats['data_mode']})"
                   + (f"; stopped by {cut} before its --duration/--until." if cut else "."))
        if cut:  # every tick it got is stored, but the period it was asked for was cut short
            raise StoppedEarly(cut, f"record was cut short: {cut} stopped it before its --duration/--until")
        if stats.get("gateway_gone_at"):  # the period ended without its gateway: exit 4, never 0
            raise GatewayGone("record", stats["gateway_gone_at"], "--duration/--until")


def _now() -> Any:
    from slob_cli.runtime.clock import SystemClock

    return SystemClock().now()


async def _record(run: Any, config: Any, options: Any, clock: Any) -> dict[str, Any]:
    import signal
    import sys

    from slob_cli.aio import on_signals
    from slob_cli.runtime.alerting import subscribe_alerts
    from slob_cli.runtime.bus import EventBus
    from slob_cli.runtime.recorder import Recorder

    live = _StatusLine() if sys.stderr.isatty() else None
    async with EventBus() as bus:
        subscribe_alerts(bus, run.notifier)
        recorder = Recorder(run.store, config, options, run_id=run.run_id, bus=bus, clock=clock,
                            on_status=(lambda status: live.update(status.line())) if live else _log_status())
        stopped_by: list[str] = []

        def stop_on(signum: signal.Signals) -> None:
            stopped_by.append(signum.name)
            recorder.stop()

        with on_signals((signal.SIGINT, signal.SIGTERM), stop_on):
            try:
                if live is not None:
                    live.start()
                stats = await recorder.run()
                # A signal is a clean stop (exit 0), but the runs row and the summary say that it, not the period, ended it.
                return {**stats, "stopped_by": stopped_by[0] if stopped_by else None}
            finally:
                if live is not None:
                    live.stop()


class _StatusLine:
    """One rich Live line on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._text = Text
        self._live = Live(Text("connecting..."), console=Console(stderr=True), refresh_per_second=4, transient=False)

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def update(self, line: str) -> None:
        style = "bold yellow" if "DELAYED" in line or "RECONNECTING" in line else ""
        self._live.update(self._text(line, style=style))


def _log_status() -> Any:
    import logging
    import time

    log = logging.getLogger("slob.record")
    last = [0.0]

    def emit(status: Any) -> None:
        now = time.monotonic()
        if now - last[0] >= 30.0:
            last[0] = now
            log.info("%s", status.line())

    return emit
