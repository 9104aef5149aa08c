"""`slob candles`: aggregate, import, export, show, stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from slob_cli.cli.groups import WholeHelpGroup

app = typer.Typer(help="Build, import, export and inspect M1 candles.", no_args_is_help=True, cls=WholeHelpGroup)

SymbolOption = Annotated[str | None, typer.Option("--symbol", help="Futures root, e.g. NQ or MNQ.")]
FromOption = Annotated[str | None, typer.Option("--from", help="Start (inclusive): ISO-8601 with Z/offset, or YYYY-MM-DD (UTC).")]
ToOption = Annotated[str | None, typer.Option("--to", help="End (exclusive): ISO-8601 with Z/offset, or YYYY-MM-DD (UTC).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _symbol(value: str | None) -> str | None:
    from slob_cli.core.models import INSTRUMENTS
    from slob_cli.errors import UsageError

    if value is None:
        return None
    symbol = value.strip().upper()
    if symbol not in INSTRUMENTS:
        raise UsageError(f"--symbol {value!r} is not a known symbol (known: {', '.join(INSTRUMENTS)})")
    return symbol


@app.command("aggregate")
def aggregate(
    ctx: typer.Context,
    symbol: SymbolOption = None,
    ticks_file: Annotated[Path | None, typer.Option("--ticks-file", help="Read ticks from this CSV, Parquet or JSON lines file instead of the store.")] = None,
    start: FromOption = None,
    end: ToOption = None,
    fill_gaps: Annotated[int, typer.Option("--fill-gaps", min=0, help="Fill gaps of up to N minutes with flat synthetic candles.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Build M1 candles from stored ticks (or --ticks-file) and upsert them into the store.

    Example: slob candles aggregate --ticks-file ticks.csv --symbol NQ
    """
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import check_range, parse_instant, progress_bar
    from slob_cli.runtime.candles import aggregate_candles, day_start, refuse_a_tracked_day

    chosen = _symbol(symbol)
    begin, finish = parse_instant(start, "--from"), parse_instant(end, "--to")
    check_range(begin, finish, (start, end))
    parsed = None
    if ticks_file is not None:
        from slob_cli.adapters.file_reading import read_ticks

        with progress_bar("Reading ticks", lambda: None):
            parsed = read_ticks(ticks_file, chosen)  # every line checked before a store is opened, or created
    # Stored ticks are read from a store that exists; a --ticks-file may start a new one.
    with app_context(ctx).open_store(create=ticks_file is not None) as store:
        stored_ticks = (lambda: store.tick_count(chosen)) if ticks_file is None else (lambda: None)
        with progress_bar("Aggregating ticks", stored_ticks) as advance:
            report = aggregate_candles(
                store, [chosen] if chosen and ticks_file is None else None, ticks_file, chosen, begin, finish,
                fill_gaps, advance, parsed,
                refuse_a_tracked_day(store, "aggregating", lambda day: f"--to {day_start(day)}", "aggregate it"),
            )
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(
        f"Aggregated {report.ticks:,} ticks from {report.source} into {report.candles:,} candles "
        f"({report.synthetic_candles:,} synthetic, {report.gaps:,} gaps, {report.late_ticks:,} late ticks skipped)"
        f"{_left_out(report.other_symbols, 'ticks')}{_ignored(report.ignored_columns)}{_partial(report.partial_minutes, report.partial_minute_ticks)}."
    )


def _partial(minutes: int, ticks: int) -> str:
    """Say how many first/last minutes of recordings (and their ticks) were left out as partial (nothing when none)."""
    if not minutes:
        return ""
    from slob_cli.runtime.views import counted

    return (f"; left out {counted(minutes, 'partial minute')} ({counted(ticks, 'tick')}) at the start or end of a "
            "recording (not covered whole)")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON lines: timestamp,open,high,low,close,volume[,symbol].")],
    symbol: SymbolOption = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip bad rows (and report how many) instead of importing nothing.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Import M1 candles from a file in one transaction; a bad row aborts the import unless --skip-bad.

    Example: slob candles import nq-2026-01.csv --symbol NQ
    """
    from slob_cli.adapters.file_reading import count_rows
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import progress_bar
    from slob_cli.runtime.candles import read_candle_file, refuse_a_tracked_day, store_candle_file
    from slob_cli.runtime.views import counted

    chosen = _symbol(symbol)
    rows = (lambda: None if (count := count_rows(file)) is None else 2 * count)  # read, then written
    with progress_bar(f"Importing {file.name}", rows) as advance:
        read = read_candle_file(file, chosen, skip_bad, advance)  # a bad file leaves no new store behind
        with app_context(ctx).open_store() as store:
            report = store_candle_file(store, read, advance, refuse_a_tracked_day(
                store, "importing", lambda day: "import a file without its rows", "import it"))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    for problem in report.problems[:5]:
        typer.echo(f"Skipped {problem}", err=True)
    skipped = f"; skipped {counted(report.skipped, 'bad row')}" if skip_bad else ""
    effect = (f" ({report.new:,} new, {report.replaced:,} replaced a stored candle with other values,"
              f" {report.unchanged:,} unchanged)" if report.new != report.imported else "")  # said when some were stored
    typer.echo(f"Imported {counted(report.imported, 'candle')} from {file}{effect}{skipped}"
               f"{_left_out(report.other_symbols, 'rows')}{_ignored(report.ignored_columns)}.")


def _left_out(other_symbols: dict[str, int], what: str) -> str:
    """Say how many rows of a file --symbol left out, per symbol (nothing when none)."""
    if not other_symbols:
        return ""
    return f"; left out {sum(other_symbols.values()):,} {what} of other symbols ({', '.join(other_symbols)})"


def _ignored(columns: list[str]) -> str:
    """Name a file's columns slob does not read (nothing when none): none is dropped without a word."""
    return f"; ignored columns slob does not read: {', '.join(columns)}" if columns else ""


@app.command("export")
def export(
    ctx: typer.Context,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv, parquet or jsonl (default: as -o FILE is named, .jsonl or .parquet, else csv).")] = None,
    symbol: SymbolOption = None,
    start: FromOption = None,
    end: ToOption = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")] = None,
    tz: Annotated[str | None, typer.Option("--tz", help="Render times in this zone (default: UTC with Z).")] = None,
    partition: Annotated[bool, typer.Option(
        "--partition", help="With --format parquet: write a hive-partitioned dataset symbol=/date=/ under -o DIR.")] = False,
) -> None:
    """Export stored candles as csv, parquet or jsonl (UTC ISO-8601 times unless --tz).

    --partition writes a directory that DuckDB, Polars and Spark read directly (docs/research.md).

    Example: slob candles export --format jsonl --symbol NQ --from 2026-01-06 -o nq.jsonl
    """
    from slob_cli.adapters.files import EXPORT_FORMATS, export_format
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import check_range, parse_instant, parse_zone
    from slob_cli.errors import UsageError
    from slob_cli.runtime.candles import export_candles

    fmt = fmt if fmt is not None else export_format(output)
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    chosen = _symbol(symbol)
    begin, finish = parse_instant(start, "--from"), parse_instant(end, "--to")
    check_range(begin, finish, (start, end))
    zone = parse_zone(tz)
    if fmt == "parquet" and output is None:
        raise UsageError("--format parquet is binary: pass -o FILE")
    if partition and (fmt != "parquet" or zone is not None):
        raise UsageError("--partition needs --format parquet and no --tz (partitions hold UTC times)")
    with app_context(ctx).open_store(readonly=True) as store:
        if partition:
            from slob_cli.runtime.candles import export_partitioned

            assert output is not None
            count = export_partitioned(store, output, chosen, begin, finish)
        else:
            count = export_candles(store, fmt, output, chosen, begin, finish, zone)
    if output is not None:
        from slob_cli.runtime.views import counted

        typer.echo(f"Exported {counted(count, 'candle')} to {output}.", err=True)


@app.command("show")
def show(
    ctx: typer.Context,
    symbol: SymbolOption = None,
    last: Annotated[int, typer.Option("-n", "--last", min=1, help="How many of the newest candles.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Show the newest candles of a symbol in the display time zone.

    Example: slob candles show --symbol NQ -n 10
    """
    from slob_cli.cli.context import app_context
    from slob_cli.runtime.candles import candle_dict, last_candles

    context = app_context(ctx)
    settings = context.settings
    chosen = _symbol(symbol) or settings.symbols[0]
    with context.open_store(readonly=True) as store:
        candles = last_candles(store, chosen, last)
    if json_out:
        typer.echo(json.dumps([candle_dict(c) for c in candles], indent=2))
        return
    from rich.table import Table

    from slob_cli.cli.tables import wide_console
    from slob_cli.core.pnl import price_text

    zone = settings.zone
    with_drops = any(candle.dropped_ticks for candle in candles)
    table = Table(title=f"{chosen}: last {len(candles)} M1 candles, times in {settings.display_tz}")
    columns = ["time", "open", "high", "low", "close", "volume", "ticks"] + (["dropped"] if with_drops else [])
    for column in columns:
        table.add_column(column, justify="left" if column == "time" else "right", no_wrap=True)
    for candle in candles:
        ticks = "synthetic" if candle.synthetic else ("?" if candle.tick_count < 0 else f"{candle.tick_count:,}")
        cells = [candle.ts.astimezone(zone).strftime("%Y-%m-%d %H:%M"), price_text(candle.open), price_text(candle.high),
                 price_text(candle.low), price_text(candle.close), _volume(candle.volume), ticks]
        table.add_row(*cells, *([str(candle.dropped_ticks)] if with_drops else []))
    wide_console(table).print(table)


def _volume(volume: float) -> str:
    """Return a volume whole (1,234,567 or 10.5): `:g` wrote 1.23457e+06."""
    return f"{volume:,.0f}" if volume.is_integer() else f"{volume:,}"


@app.command("stats")
def stats(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Print rows per table, time span per symbol and file size of the store.

    Example: slob candles stats --json
    """
    from slob_cli.cli.context import app_context

    with app_context(ctx).open_store(readonly=True) as store:  # a mistyped --db is an error, not a new store
        data = store.stats()
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.table import Table

    from slob_cli.cli.tables import wide_console
    from slob_cli.runtime.views import local_time

    zone = app_context(ctx).settings.zone
    table = Table(title="Rows per table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in data["rows"].items():
        table.add_row(name, f"{count:,}")
    spans = Table(title=f"Time span per symbol (times in {zone.key})")
    for column in ("symbol", "table", "first", "last", "rows"):
        spans.add_column(column, justify="right" if column == "rows" else "left", no_wrap=True)
    for symbol, tables in sorted(data["symbols"].items()):
        for name, span in tables.items():
            spans.add_row(symbol, name, local_time(span["first"], zone), local_time(span["last"], zone),
                          f"{span['rows']:,}")
    console = wide_console(table, spans)
    # a line of its own: as a title of the narrow table a long path and size would wrap over several lines
    console.print(f"Store {data['path']} (schema v{data['schema_version']}, {data['size_bytes']:,} bytes)",
                  highlight=False, soft_wrap=True)
    console.print(table)
    if data["symbols"]:
        console.print(spans)


@app.command("backfill")
def backfill(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First CME trading date, YYYY-MM-DD (required).")],
    symbol: Annotated[str, typer.Option("--symbol", help="Futures root, NQ or MNQ.")] = "NQ",
    end: Annotated[str | None, typer.Option("--to", help="Last CME trading date, YYYY-MM-DD (default: the current one; on a weekend, Monday's).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Gateway host [env SLOB_IB_HOST, default 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Gateway port [env SLOB_IB_PORT, default 4002].")] = None,
    client_id: Annotated[int | None, typer.Option("--client-id", help="API client id [env SLOB_IB_CLIENT_ID, default 1].")] = None,
    json_out: JsonOption = False,
) -> None:
    """Fetch 1-minute TRADES bars from the gateway into the store, stitched by the live roll rule.

    Each trading date comes from the contract live trading would use that day (expired ones
    included) and every bar records it. Paced within IB's limits; Ctrl-C or a crash loses at most
    the day in flight, and running it again resumes; a stored minute is never duplicated or replaced.

    Example: slob candles backfill --symbol NQ --from 2025-06-01 --to 2025-06-30
    """
    import asyncio
    from datetime import datetime, timezone

    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.adapters.ib.rolls import trading_date
    from slob_cli.cli.connection import gateway_settings
    from slob_cli.cli.options import day_progress
    from slob_cli.cli.setups import parse_date
    from slob_cli.runtime import backfill as runner

    chosen = _symbol(symbol)
    assert chosen is not None
    first = parse_date(start, "--from")
    last = parse_date(end, "--to")
    assert first is not None
    today = trading_date(datetime.now(timezone.utc))
    last = last or today
    runner.check_range(first, last, today)
    settings = gateway_settings(ctx, host, port, client_id, None)
    config = GatewayConfig.from_settings(settings, account=None, sync_orders=False)
    from slob_cli.cli.context import app_context

    with day_progress(f"Backfilling {chosen}") as progress:  # the store is opened once the gateway answers
        report = asyncio.run(runner.backfill_into(config, app_context(ctx).open_store, chosen, first, last, progress))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    contracts = ", ".join(f"{name} {count:,}" for name, count in report.contracts.items()) or "none"
    empty = report.days_without_data
    no_data = (f" The gateway had no data for {len(empty)} of them: {', '.join(empty[:5])}"
               f"{' ...' if len(empty) > 5 else ''}." if empty else "")
    from slob_cli.runtime.views import counted

    typer.echo(f"Backfilled {chosen} {first} .. {last}: {counted(report.days_fetched, 'day')} fetched "
               f"({report.days_skipped} already done), {report.bars_received:,} bars received, "
               f"{report.bars_stored:,} new; bars per contract: {contracts}.{no_data}")
