"""`slob setups`: run the tracker over stored candles, list stored candidates, show one."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from slob_cli.cli.groups import WholeHelpGroup
from slob_cli.errors import InputError, StoreError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.text import Text

    from slob_cli.adapters.store import Store
    from slob_cli.adapters.store.setups import StoredEvent
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig
    from slob_cli.runtime.track_split import DayHelper
    from slob_cli.runtime.tracking import TrackResult

app = typer.Typer(help="Track 5/1 SLOB setups over stored candles, list them, show one.", no_args_is_help=True, cls=WholeHelpGroup)

SymbolOption = Annotated[str | None, typer.Option("--symbol", help="Futures root (default: first of SLOB_SYMBOLS).")]
FromOption = Annotated[str | None, typer.Option("--from", help="First New York trading date, YYYY-MM-DD.")]
ToOption = Annotated[str | None, typer.Option("--to", help="Last New York trading date, YYYY-MM-DD.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def parse_date(text: str | None, flag: str) -> date | None:
    """Return the date of a YYYY-MM-DD flag value, or raise UsageError naming the flag."""
    if text is None:
        return None
    from slob_cli.cli.options import check_supported

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"bad {flag} date {text!r}: expected YYYY-MM-DD") from None
    return check_supported(day, flag, text)


def parse_range(start_text: str | None, end_text: str | None) -> tuple[date | None, date | None]:
    """Return (--from, --to) as dates; --from after --to is a usage error."""
    start, end = parse_date(start_text, "--from"), parse_date(end_text, "--to")
    if start and end and start > end:
        raise UsageError(f"--from {start} is after --to {end}")
    return start, end


def _symbol(ctx: typer.Context, symbol: str | None) -> str:
    from slob_cli.cli.candles import _symbol as checked_symbol
    from slob_cli.cli.context import app_context

    return checked_symbol(symbol) or app_context(ctx).settings.symbols[0]


@app.command("track")
def track(
    ctx: typer.Context,
    symbol: SymbolOption = None,
    start_text: FromOption = None,
    end_text: ToOption = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", help="TOML or JSON file overriding strategy numbers [env SLOB_STRATEGY_CONFIG].")] = None,
    json_out: JsonOption = False,
) -> None:
    """Run the setup tracker over stored candles, store candidates and events, print one row each.

    Without --from/--to the whole span of stored candles is tracked. A day that has ended reports
    its open candidates as MARKET_CLOSED; running it twice gives the same ids and rows.

    Example: slob setups track --symbol NQ --from 2026-03-09 --to 2026-03-13 --json
    """
    from slob_cli.cli.context import app_context

    context = app_context(ctx)
    chosen = _symbol(ctx, symbol)
    start, end = parse_range(start_text, end_text)
    from slob_cli.adapters.strategy_config import load_strategy_config

    config = load_strategy_config(config_path or context.settings.strategy_config)
    result = plan = None
    with contextlib.suppress(StoreError, sqlite3.Error):  # not there, an older schema...: the writing open says so
        with context.open_store(readonly=True) as store:  # nothing to write: no write lock, no integrity scan
            plan = _plan(store, chosen, start, end)
            result = _track(store, plan, config, reuse_only=True, count=not json_out)
            if result is None:
                _refuse_a_day_a_session_trades(store, plan)
    if result is None:
        from slob_cli.cli.options import day_progress
        from slob_cli.runtime.track_split import start_helper

        # Between the two opens nothing holds the file: a helper process may share the days.
        helper = None if plan is None else start_helper(context.settings.db_path, chosen, plan.start, plan.end, config,
                                                        plan.calendar, plan.now, context.settings.track_processes)
        try:
            # the writing open's check runs while the first days are computed
            with context.open_store(create=False, check_in_background=True) as store, \
                    day_progress(f"Tracking {chosen}") as progress:
                try:
                    plan = plan or _plan(store, chosen, start, end)
                    result = _track(store, plan, config, reuse_only=False, count=not json_out, progress=progress,
                                    helper=helper, render=_json_text if json_out else None)
                except sqlite3.DatabaseError:
                    store.confirm_integrity()  # a read hit damage before the check was done: say what the check says
                    raise
        finally:
            if helper is not None:
                helper.close()
    assert result is not None and plan is not None
    start, end = plan.start, plan.end
    if json_out:
        typer.echo(result.rendered if result.rendered is not None else _json_text(result.candidates))
        return
    title = f"{chosen} setups {start} .. {end}"
    render_candidates(result.candidates, context.settings.zone, title)
    from slob_cli.runtime.views import counted

    typer.echo(f"{counted(result.days, 'day')}, {counted(result.candles or 0, 'candle')}, "
               f"{counted(len(result.candidates), 'candidate')}; {counted(result.new_events, 'new event')}, "
               f"{counted(result.changed_setups, 'candidate')} written"
               + (f", {counted(len(result.replaced_days), 'day')} recomputed" if result.replaced_days else ""))


def _refuse_a_day_a_session_trades(store: Store, plan: _Plan) -> None:
    """Refuse (exit 2) to rewrite the day a running trade/run/paper session is tracking: it would stop that session."""
    from slob_cli.runtime.views import refuse_the_day_a_session_tracks

    refuse_the_day_a_session_tracks(
        store, lambda day: plan.start <= day <= plan.end, "tracking", "rewrite its events under it and stop it",
        lambda day: f"--to {day - timedelta(days=1)}", "track it")


class _Plan(NamedTuple):
    """What a track runs over: the symbol's dates, the instant it counts as now, and the exchange calendar."""

    symbol: str
    start: date
    end: date
    now: datetime
    calendar: TradingCalendar


def _plan(store: Store, symbol: str, start: date | None, end: date | None) -> _Plan:
    """Return the range to track: [start, end], by default the stored span; now; the calendar around it."""
    from slob_cli.adapters.calendar import load_calendar
    from slob_cli.core.sessions import trading_date_of
    from slob_cli.runtime.clock import SystemClock

    now = SystemClock().now()
    first, last = store_span(store, symbol)
    start = start or first or trading_date_of(now)
    end = end or last or trading_date_of(now)
    if start > end:
        span = f"{first} .. {last}" if first else "nothing"
        raise UsageError(f"nothing to track from {start} to {end}: stored {symbol} candles span {span}")
    # A margin each side: the calendar needs start < end, and the tracker looks ahead for the next session.
    margin = timedelta(days=14)
    calendar = load_calendar(start - margin, max(start, min(end, trading_date_of(now))) + margin)
    return _Plan(symbol, start, end, now, calendar)


def _track(
    store: Store, plan: _Plan, config: StrategyConfig, reuse_only: bool, count: bool = True,
    progress: Callable[[int, int], None] | None = None, helper: DayHelper | None = None,
    render: Callable[[list[dict[str, Any]]], Any] | None = None,
) -> TrackResult | None:
    """Track the plan's range on the store; with `reuse_only`, only if nothing needs computing (else None).

    `count` asks for the candles of the range to be counted (the summary line prints them, --json does
    not); a `helper` (runtime.track_split) shares the range's days meanwhile; `render` makes the output
    of the candidates while the last writes go on (`TrackResult.rendered`).
    """
    from slob_cli.runtime.tracking import reuse_range, track_range

    symbol, start, end, now, calendar = plan
    if reuse_only:
        return reuse_range(store, symbol, start, end, config, calendar, now, count_candles=count)
    return track_range(store, symbol, start, end, config, calendar, now, count_candles=count, progress=progress,
                       helper=helper, render=render)


def store_span(store: Store, symbol: str) -> tuple[date | None, date | None]:
    """Return the New York trading dates of the first and last stored candle of a symbol."""
    from slob_cli.adapters.store import from_us
    from slob_cli.core.sessions import trading_date_of

    first, last = store.candle_span(symbol)
    if first is None or last is None:
        return None, None
    return trading_date_of(from_us(first)), trading_date_of(from_us(last))


@app.command("list")
def list_setups(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option("--state", help="Only this state, e.g. SETUP_COMPLETE.")] = None,
    start_text: FromOption = None,
    end_text: ToOption = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this futures root.")] = None,
    json_out: JsonOption = False,
) -> None:
    """List stored candidates, filtered by state, symbol and trading-date range.

    Example: slob setups list --state SETUP_COMPLETE --from 2026-03-01 --json
    """
    from slob_cli.adapters.store.setups import SetupRepository
    from slob_cli.cli.context import app_context
    from slob_cli.core.strategy.states import CANDIDATE_STATES

    start, end = parse_range(start_text, end_text)
    if state is not None:
        state = state.upper()
        known = [member.value for member in CANDIDATE_STATES]  # what a stored candidate can be
        if state not in known:
            raise UsageError(f"unknown --state {state!r} (known: {', '.join(known)})")
    context = app_context(ctx)
    chosen = _symbol(ctx, symbol) if symbol else None
    with context.open_store(readonly=True) as store:
        rows = SetupRepository(store).find(symbol=chosen, state=state, start=start, end=end)
    if json_out:
        _print_json(rows)
        return
    render_candidates(rows, context.settings.zone, f"{len(rows)} setups")


@app.command("show")
def show(
    ctx: typer.Context,
    setup_id: Annotated[str, typer.Argument(help="Setup id, e.g. NQ-20260310-S1.")],
    json_out: JsonOption = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a candlestick chart PNG here.")] = None,
) -> None:
    """Print the event timeline of one setup; --plot writes its candlestick chart.

    Example: slob setups show NQ-20260310-S1 --plot setup.png
    """
    from slob_cli.adapters.store.setups import SetupRepository
    from slob_cli.cli.context import app_context
    from slob_cli.cli.options import check_png

    context = app_context(ctx)
    check_png(plot)
    with context.open_store(readonly=True) as store:
        repository = SetupRepository(store)
        setup = repository.get(setup_id)
        if setup is None:
            raise InputError(f"unknown setup id {setup_id!r} (see `slob setups list`)")
        events = repository.timeline(setup_id)
        if plot is not None:
            from slob_cli.adapters.setup_chart import write_setup_chart

            write_setup_chart(store, setup, events, plot, context.settings.zone)
    if json_out:
        _print_json({"setup": setup, "events": [event.to_dict() for event in events]})
    else:
        render_timeline(setup, events, context.settings.zone)
    if plot is not None:
        typer.echo(f"chart written to {plot}", err=json_out)


def _print_json(data: Any) -> None:
    typer.echo(_json_text(data))


def _json_text(data: Any) -> str:
    from slob_cli.cli.jsontext import indented_json

    return indented_json(data)


def _clock(text: str | None, zone: ZoneInfo) -> str:
    from slob_cli.adapters.store import from_iso

    moment = from_iso(text)
    return moment.astimezone(zone).strftime("%H:%M") if moment else ""


def _price(value: float | None) -> str:
    """Return a price as every surface writes it (core/pnl.price_text), or nothing: an empty cell."""
    from slob_cli.core.pnl import price_text

    return "" if value is None else price_text(value)


def render_candidates(rows: list[dict[str, Any]], zone: ZoneInfo, title: str, screen: Console | None = None) -> None:
    """Print candidates as a rich table, times in the display zone.

    As wide as its whole columns need (never a fixed width): no id, time, price or reason is cut
    or folded (`grep CONSOL_RANGE_INVALID` finds every row it ended), the reason last. A terminal
    narrower than that gets one block of lines per setup instead (`candidate_blocks`), every value whole.
    """
    from rich.console import Console
    from rich.table import Table

    from slob_cli.cli.tables import needed_width

    table = Table(title=f"{title} (times {zone.key})", title_justify="left")
    for name in ("id", "dir", "state", "LIQ1", "HIGH", "LOW", "no-wick", "LIQ2", "trigger",
                 "entry", "stop", "target", "R:R", "reason"):
        table.add_column(name, justify="right" if name in ("entry", "stop", "target", "R:R") else "left",
                         no_wrap=True)
    for row in rows:
        table.add_row(
            row["id"], row["direction"], row["state"],
            f"{_clock(row['liq1_time'], zone)} {_price(row['liq1_price'])}".strip(),
            f"{_clock(row['high_time'], zone)} {_price(row['high'])}".strip(),
            f"{_clock(row['low_time'], zone)} {_price(row['low'])}".strip(),
            _clock(row["nowick_time"], zone),
            f"{_clock(row['liq2_time'], zone)} {_price(row['liq2_price'])}".strip(),
            _clock(row["trigger_time"], zone),
            _price(row["entry_estimate"]), _price(row["stop"]), _price(row["target"]),
            "" if row["risk_reward"] is None else f"{row['risk_reward']:.2f}",
            row["invalidation_reason"] or "",
        )
    screen = screen or Console()
    needed = needed_width(table)
    if needed <= screen.width:
        screen.print(table)
    elif screen.is_terminal:
        screen.print(candidate_blocks(rows, zone, table.title))
    else:  # piped: the whole table at its own width, for grep and files
        Console(file=screen.file, width=needed).print(table)


def candidate_blocks(rows: list[dict[str, Any]], zone: ZoneInfo, title: Any) -> Text:
    """Return candidates as blocks of short lines (a narrow terminal): id, direction, state, then levels and plan.

    Each line holds three or four values (under 70 columns with NQ's prices), so it fits 80 columns
    and no value is split.
    """
    from rich.text import Text

    def level(name: str, time_key: str, price_key: str | None = None) -> str | None:
        shown = " ".join(part for part in (_clock(row[time_key], zone), _price(row[price_key]) if price_key else "")
                         if part)
        return f"{name} {shown}" if shown else None

    text = Text(f"{title}\n", style="italic")
    for row in rows:
        reason = f" ({row['invalidation_reason']})" if row["invalidation_reason"] else ""
        text.append(f"{row['id']} {row['direction']} {row['state']}{reason}\n", style="bold")
        plan = [f"{name} {_price(row[key])}" for name, key in (("entry", "entry_estimate"), ("stop", "stop"),
                                                               ("target", "target")) if row[key] is not None]
        if row["risk_reward"] is not None:
            plan.append(f"R:R {row['risk_reward']:.2f}")
        for line in ([level("LIQ1", "liq1_time", "liq1_price"), level("HIGH", "high_time", "high"),
                      level("LOW", "low_time", "low")],
                     [level("no-wick", "nowick_time"), level("LIQ2", "liq2_time", "liq2_price"),
                      level("trigger", "trigger_time")], plan):
            parts = [part for part in line if part]
            if parts:
                text.append("  " + " · ".join(parts) + "\n")
    return text


def render_timeline(setup: dict[str, Any], events: list[StoredEvent], zone: ZoneInfo) -> None:
    """Print one setup's summary line and its events in sequence order (the details fold to the terminal)."""
    from rich.table import Table

    from slob_cli.cli.tables import fitting_console

    reason = f" ({setup['invalidation_reason']})" if setup["invalidation_reason"] else ""
    table = Table(title=f"{setup['id']} {setup['direction']} {setup['state']}{reason} (times {zone.key})",
                  title_justify="left")
    for name in ("seq", "time", "event", "details"):
        table.add_column(name, no_wrap=name != "details", overflow="fold")
    for event in events:
        data = event.payload.get("data") or {}
        details = " ".join(f"{key}={_detail(key, value, zone)}" for key, value in data.items())
        table.add_row(str(event.seq), event.bar_time.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                      event.type, details)
    fitting_console(table).print(table)


def _detail(key: str, value: Any, zone: ZoneInfo) -> str:
    from slob_cli.core.strategy.events import PRICE_FIELDS

    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        return _clock(value, zone)
    if key in PRICE_FIELDS and isinstance(value, int | float):
        return _price(value)
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)
