"""`slob candles`: aggregate, import, export, show, stats."""

from __future__ import annotations

import typer

app = typer.Typer(help="Build, import, export and inspect M1 candles.", no_args_is_help=True)


@app.command("stats")
def stats(ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print rows per table, time span per symbol and file size of the store.

    Example: slob candles stats --json
    """
    import json

    from slob_cli.cli.context import app_context

    with app_context(ctx).open_store() as store:
        data = store.stats()
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Store {data['path']} (schema v{data['schema_version']}, {data['size_bytes']:,} bytes)")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in data["rows"].items():
        table.add_row(name, f"{count:,}")
    Console().print(table)
