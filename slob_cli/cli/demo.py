"""`slob demo`: a seeded synthetic NQ session, aggregated, stored and summarised."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from slob_cli.cli.guard import FailIfRunningOption


def demo(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the synthetic session.")] = 7,
    minutes: Annotated[int, typer.Option("--minutes", min=1, max=1440, help="Session length in minutes.")] = 390,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    fail_if_running: FailIfRunningOption = False,
) -> None:
    """Generate a seeded synthetic NQ session, aggregate it to M1 candles through the streaming path, store both.

    Example: slob --db demo.db demo --seed 7
    """
    from slob_cli.cli.guard import run_guard, session_lock, start_failure_recorded
    from slob_cli.runtime.demo import run_demo

    with session_lock(ctx, "demo", fail_if_running) as lock:
        with start_failure_recorded(ctx, "demo", lock):  # refused at its start, as `run` and `paper` are
            _refuse_others_data(ctx, minutes, fresh=bool(lock.created))
        # On this machine's clock (its run row's start and end are wall times): its generated day is data, not
        # a simulated clock, so `status` does not read "now" from the day's ticks (runtime/views.on_sim_clock).
        args = {"seed": seed, "minutes": minutes, "sim_clock": False}
        with run_guard(ctx, "demo", fail_if_running, args, lock=lock) as run:
            report = run_demo(run.store, seed=seed, minutes=minutes, run_id=run.run_id, zone=run.settings.zone)
            run.stats = report.to_dict()
            run.data_mode = "sim"
            zone = run.settings.zone
            zone_name = run.settings.display_tz
            db_path = run.settings.db_path
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    from rich.table import Table

    from slob_cli.cli.tables import fitting_console
    from slob_cli.core.pnl import price_text

    table = Table(title=f"Demo session {report.symbol} (seed {report.seed}) -> {db_path}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("session", f"{report.session_start.astimezone(zone):%Y-%m-%d %H:%M} - "
                    f"{report.session_end.astimezone(zone):%H:%M} {zone_name}"),
        ("ticks", f"{report.ticks:,}"),
        ("M1 candles", f"{report.candles:,}"),
        ("gaps (minutes without trades)", f"{report.gaps:,}"),
        ("late / dropped ticks", f"{report.late_ticks:,} / {report.dropped_ticks:,}"),
        ("open / high / low / close", " / ".join(price_text(p) for p in (report.open, report.high, report.low, report.close))),
        ("volume (contracts)", f"{report.volume:,.0f}"),
        ("elapsed", f"{report.elapsed_seconds:.2f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    fitting_console(table).print(table)
    typer.echo(f"Next: slob --db {db_path} candles show   |   slob --db {db_path} candles export --format csv")


def _refuse_others_data(ctx: typer.Context, minutes: int, fresh: bool) -> None:
    """Refuse before the run starts a window holding data the demo did not write (run_demo checks again)."""
    from slob_cli.cli.context import app_context
    from slob_cli.errors import StoreError
    from slob_cli.runtime.demo import refuse_others_data

    if fresh:  # a store this command makes holds nobody's data
        return
    context = app_context(ctx)
    try:
        store = context.open_store(readonly=True)
    except StoreError:  # an older schema, say: the run opens (and upgrades) it, and run_demo checks there
        return
    with store:
        refuse_others_data(store, minutes, zone=context.settings.zone)
