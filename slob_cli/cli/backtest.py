"""`slob backtest`: the live tracker, risk manager and bracket planning over stored candles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from slob_cli.cli.setups import FromOption, JsonOption, SymbolOption, ToOption

TRADES_SHOWN = 50


def backtest(
    ctx: typer.Context,
    symbol: SymbolOption = None,
    start_text: FromOption = None,
    end_text: ToOption = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="TOML or JSON strategy file (its [risk] table too) [env SLOB_STRATEGY_CONFIG].")] = None,
    risk: Annotated[list[str] | None, typer.Option(
        "--risk", help="Override one risk setting, KEY=VALUE (repeatable), e.g. risk_pct=0.02.")] = None,
    slippage_ticks: Annotated[int, typer.Option(
        "--slippage-ticks", min=0, help="Ticks against the trader on market entries, stops and the flatten.")] = 1,
    equity: Annotated[float, typer.Option("--equity", min=1.0, help="Starting equity in USD.")] = 100_000.0,
    name: Annotated[str | None, typer.Option(
        "--name", help="Store the run under this name (a run of the same name is replaced).")] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store the run (listed by slob status).")] = True,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the equity curve to this PNG file.")] = None,
    sweep: Annotated[list[str] | None, typer.Option(
        "--sweep", help="Grid axis KEY=V1,V2,... (repeatable; strategy, risk or fill keys): one ranked table.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Worker processes for --sweep.")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Backtest stored candles with the live tracker, risk manager and bracket planning.

    Fill model (M1 bars cannot show the order of prices inside a bar; ambiguity goes against the
    trader): market entry at the next bar's open plus --slippage-ticks; a bar touching stop and
    target counts as the stop; stops fill at the worse of stop and bar open plus slippage; targets at
    their price; a position still open is flattened at the session's last close; commission per
    contract per side (NQ 2.25, MNQ 0.62). Dates are New York trading dates; without --from/--to the
    whole stored span is used. The run is stored under --name (default: symbol, range and time).

    Example: slob backtest --from 2026-01-05 --to 2026-03-27 --risk risk_pct=0.02 --plot equity.png
    """
    from datetime import datetime, timezone

    from slob_cli.adapters.calendar import load_calendar_isolated
    from slob_cli.adapters.risk_config import load_risk_config
    from slob_cli.adapters.strategy_config import load_strategy_config
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import check_png, progress_bar
    from slob_cli.cli.setups import _symbol, parse_range, store_span
    from slob_cli.core.backtest import FillModel
    from slob_cli.errors import UsageError
    from slob_cli.runtime import backtest as runner

    context = app_context(ctx)
    chosen = _symbol(ctx, symbol)
    check_png(plot)
    if name is not None and name and not name.strip():  # '' keeps the default name; blanks were stored as a name
        raise UsageError(f"--name {name!r} is blank: give a name or leave the option out")
    start, end = parse_range(start_text, end_text)
    path = config_path or context.settings.strategy_config
    base = runner.BacktestSettings(load_strategy_config(path), load_risk_config(path),
                                   FillModel(slippage_ticks=slippage_ticks, initial_equity=float(equity)))
    base = runner.apply_overrides(base, {f"risk.{key.removeprefix('risk.')}": value for key, value in
                                         runner.parse_assignments(risk or [], "--risk").items()})
    grid = runner.parse_sweep(sweep) if sweep else None
    now = datetime.now(timezone.utc)
    with context.open_store(create=False) as store:
        first, last = store_span(store, chosen)
        if first is None or last is None:
            raise UsageError(f"no stored {chosen} candles to backtest (slob candles import / backfill first)")
        start, end = start or first, end or last
        if start > end or start > last or end < first:  # a range without stored candles would store a run of none
            raise UsageError(f"nothing to backtest from {start} to {end}: stored {chosen} candles span {first} .. {last}")
        calendar = load_calendar_isolated(*runner.calendar_range(start, end))
        if grid is not None:
            with progress_bar(f"Sweeping {len(grid)} runs", lambda: len(grid)) as advance:
                rows = runner.run_sweep(store.path, chosen, start, end, base, grid, calendar, now, jobs, advance)
            return _render_sweep(rows, chosen, start, end, json_out)
        report = runner.run_backtest(store, chosen, start, end, base, calendar, now)
        if plot is not None:  # before the run is stored: a chart that cannot be written stores nothing
            from slob_cli.adapters.backtest_chart import write_equity_png
            from slob_cli.core.backtest import FILL_MODEL_NOTE
            from slob_cli.core.backtest_stats import equity_curve

            write_equity_png(plot, equity_curve(report.outcome.initial_equity, report.outcome.trades),
                             f"{chosen} backtest {start} .. {end}: equity after each trade", FILL_MODEL_NOTE)
        if save:
            runner.save_report(store, report, name or runner.default_name(chosen, start, end, now), now)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    _render(report, context.settings.zone, plot)


def _render(report: Any, zone: Any, plot: Path | None) -> None:
    from rich.table import Table

    from slob_cli.cli.tables import wide_console
    from slob_cli.core.backtest import FILL_MODEL_NOTE
    from slob_cli.core.pnl import money_text, price_text
    from slob_cli.runtime.views import local_time

    stats = report.stats
    trades = Table(title=f"Trades ({stats.trades}, times in {zone.key})", title_justify="left")
    for column in ("setup", "dir", "qty", "entry time", "entry", "stop", "target", "exit time", "exit", "why",
                   "R", "net"):
        trades.add_column(column, justify="left" if column in ("setup", "dir", "entry time", "exit time", "why")
                          else "right", no_wrap=True)
    for trade in report.outcome.trades[:TRADES_SHOWN]:
        row = trade.to_dict()
        trades.add_row(row["setup_id"], row["direction"], str(row["contracts"]), local_time(row["entry_time"], zone),
                       price_text(row['entry_price']), price_text(row['stop']), price_text(row['target']),
                       local_time(row["exit_time"], zone), price_text(row['exit_price']), row["exit_reason"],
                       f"{row['r_multiple']:+.2f}", money_text(row["pnl"]))
    console = wide_console(trades)
    console.print(f"[bold]{report.symbol} backtest {report.start} .. {report.end}[/bold]"
                  + (f"  (stored as {report.name!r})" if report.name else ""))
    console.print(FILL_MODEL_NOTE, style="yellow")
    console.print(trades)
    if stats.trades > TRADES_SHOWN:
        console.print(f"... {stats.trades - TRADES_SHOWN} more trades (all of them with --json)")
    summary = Table(title="Summary", title_justify="left", show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    rows = [
        ("candles", f"{report.outcome.candles:,}"),
        ("trades (wins / losses)", f"{stats.trades} ({stats.wins} / {stats.losses})"),
        ("win rate", "-" if stats.win_rate is None else f"{stats.win_rate:.1%}"),
        ("profit factor", "-" if stats.profit_factor is None else f"{stats.profit_factor:.2f}"),
        ("expectancy", "-" if stats.expectancy_r is None else f"{stats.expectancy_r:+.2f} R"),
        ("net P&L (after commission)", money_text(stats.net_pnl)),
        ("commission", money_text(stats.commission, signed=False)),
        ("max drawdown", f"{money_text(stats.max_drawdown, signed=False)} ({stats.max_drawdown_pct:.2f} %)"),
        ("longest losing streak", str(stats.longest_losing_streak)),
        ("equity", f"{money_text(stats.initial_equity, signed=False)} -> {money_text(stats.final_equity, signed=False)}"
                   f" ({stats.return_pct:+.2f} %)"),
    ]
    for label, value in rows:
        summary.add_row(label, value)
    console.print(summary)
    for title, figures in (("P&L by month", stats.by_month), ("P&L by weekday", stats.by_weekday)):
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("when")
        table.add_column("net", justify="right")
        for key, value in figures.items():
            table.add_row(key, money_text(value))
        console.print(table)
    setups = Table(title="Setups by final state", title_justify="left", show_header=False)
    setups.add_column("state")
    setups.add_column("count", justify="right")
    for state, count in stats.setups_by_state.items():
        setups.add_row(state, str(count))
    for reason, count in stats.skipped.items():
        setups.add_row(f"  completed, not traded ({reason})", str(count))
    console.print(setups)
    if plot is not None:
        console.print(f"Equity curve written to {plot}")


def _render_sweep(rows: list[dict[str, Any]], symbol: str, start: Any, end: Any, json_out: bool) -> None:
    from slob_cli.runtime.backtest import OVERFITTING_CAVEAT

    if json_out:
        typer.echo(json.dumps({"symbol": symbol, "from": start.isoformat(), "to": end.isoformat(),
                               "caveat": OVERFITTING_CAVEAT, "rows": rows}, indent=2, default=str))
        return
    from rich.table import Table

    from slob_cli.cli.tables import wide_console
    from slob_cli.core.pnl import money_text

    table = Table(title=f"{symbol} sweep {start} .. {end}: {len(rows)} runs ranked by net P&L", title_justify="left")
    for column in ("rank", "settings", "trades", "win rate", "PF", "exp. R", "net", "max DD %"):
        table.add_column(column, justify="left" if column == "settings" else "right", no_wrap=True)
    for row in rows:
        settings = " ".join(f"{key}={value}" for key, value in row["settings"].items())
        table.add_row(str(row["rank"]), settings, str(row["trades"]),
                      "-" if row["win_rate"] is None else f"{row['win_rate']:.1%}",
                      "-" if row["profit_factor"] is None else f"{row['profit_factor']:.2f}",
                      "-" if row["expectancy_r"] is None else f"{row['expectancy_r']:+.2f}",
                      money_text(row["net_pnl"]), f"{row['max_drawdown_pct']:.2f}")
    console = wide_console(table)
    console.print(table)
    console.print(OVERFITTING_CAVEAT, style="yellow")
