"""Draw one dashboard frame from a DashboardSnapshot (a pure function: same snapshot, same frame)."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from slob_cli.core.pnl import money_text, points_text, price_text
from slob_cli.runtime.dashboard import Bar, DashboardSnapshot
from slob_cli.runtime.status import running_text
from slob_cli.runtime.views import ago, format_quantity, local_time

STALE_TICK_SECONDS = 60.0
CHART_HEIGHT = 10


def ohlc_chart(bars: Sequence[Bar], height: int = CHART_HEIGHT, levels: Sequence[float] = ()) -> Text:
    """Draw candles as columns of `│` (wick) and `█` (body), newest right, with a price axis.

    Reference levels inside the price range are drawn as `·` across empty cells.
    """
    if not bars:
        return Text("no candles yet", style="dim")
    top = max(bar.high for bar in bars)
    bottom = min(bar.low for bar in bars)
    step = (top - bottom or 1.0) / height

    def row_of(price: float) -> int:
        return min(height - 1, max(0, int((top - price) / step)))

    level_rows = {row_of(level) for level in levels if bottom <= level <= top}
    spans = [(row_of(max(b.open, b.close)), row_of(min(b.open, b.close)), row_of(b.high), row_of(b.low),
              "yellow" if b.forming else ("green" if b.close >= b.open else "red")) for b in bars]
    text = Text()
    for row in range(height):
        for body_top, body_bottom, wick_top, wick_bottom, style in spans:
            if body_top <= row <= body_bottom:
                text.append("█", style=style)
            elif wick_top <= row <= wick_bottom:
                text.append("│", style=style)
            elif row in level_rows:
                text.append("·", style="cyan")
            else:
                text.append(" ")
        label = f" {price_text(top)}" if row == 0 else (f" {price_text(bottom)}" if row == height - 1 else "")
        text.append(label + "\n", style="dim")
    text.rstrip()
    return text


def _status_line(snapshot: DashboardSnapshot, zone: ZoneInfo) -> Text:
    line = Text()
    if snapshot.running:
        simulated = snapshot.clock is not None and snapshot.clock.simulated
        line.append(f"● {running_text(snapshot.running, simulated, zone)}", style="bold green")
    else:
        line.append("○ no session running", style="yellow")
    if snapshot.running is None:
        pass  # nobody holds a connection: a stored heartbeat's "connected" is history, not now
    elif snapshot.connected is None:
        line.append("   gateway: unknown", style="dim")
    elif snapshot.connected:
        line.append("   gateway: connected", style="green")
    else:
        line.append("   gateway: DISCONNECTED", style="bold red")
    mode = snapshot.data_mode or "unknown"
    line.append(f"   data: {mode}", style="yellow" if mode == "delayed" else "")
    if snapshot.last_tick_age is None:
        line.append("   last tick: none", style="dim")
    else:
        stale = snapshot.last_tick_age > STALE_TICK_SECONDS
        line.append(f"   last tick: {ago(snapshot.last_tick_age)}", style="red" if stale else "")
    liveness = snapshot.liveness
    stale = liveness is not None and liveness.stale
    if snapshot.health_age is not None:
        age = liveness.heartbeat_age(snapshot.health_age) if liveness else ago(snapshot.health_age)
        late = liveness is not None and liveness.stale and liveness.sign == "heartbeat"
        # With no session running, the heartbeat is the last run's final one: named so.
        label = "heartbeat" if snapshot.running else "last heartbeat" + (
            "" if snapshot.health_run_id is None else f" (run {snapshot.health_run_id})")
        line.append(f"   {label}: {age}", style="red" if late else "")
    elif snapshot.running is not None and liveness is not None:  # its first seconds
        line.append(f"   {liveness.heartbeat_text(None)}", style="dim")
    if liveness is not None and liveness.sign == "pulse" and liveness.age_seconds is not None:
        line.append(f"   alive: {liveness.alive_age()} (real time)", style="red" if stale else "")
    if liveness is not None and liveness.sign == "process" and not stale:
        line.append(f"   alive ({liveness.note})", style="yellow")
    if liveness is not None and stale:  # worded as status's Alive line: `STALE, last heartbeat ...`
        line.append(f"   {liveness.stale_text(snapshot.running)}", style="bold red")
    return line


def _chart_panel(snapshot: DashboardSnapshot, zone: ZoneInfo) -> Panel:
    levels = snapshot.levels or {}
    values = [v for v in (levels.get("high"), levels.get("low")) if isinstance(v, int | float)]
    chart = ohlc_chart(snapshot.bars, levels=values)
    caption = Text()
    if snapshot.bars:
        last = snapshot.bars[-1]
        state = "forming" if last.forming else "last"
        caption.append(
            f"{state} {local_time(last.ts.isoformat(), zone, with_date=False)}: O {price_text(last.open)} "
            f"H {price_text(last.high)} L {price_text(last.low)} C {price_text(last.close)}"
        )
    if levels:
        day = f" of {levels['trading_date']}" if levels.get("trading_date") else ""
        caption.append(f"\nreference levels{day}: high {price_text(levels.get('high'))}  "
                       f"low {price_text(levels.get('low'))}", style="cyan")
    else:
        caption.append("\nreference levels: not frozen yet", style="dim")
    return Panel(Group(chart, caption), title=f"{snapshot.symbol or '-'} M1", title_align="left", expand=False)


def listing_table(title: str, columns: Sequence[str], folding: Sequence[str] = ()) -> Table:
    """Return a compact table whose `folding` (text) columns give way on a narrow console.

    Every other column (ids, states, prices, sizes, times) is never wrapped: a number cut over two
    lines ('+2,8' / '21.0') reads as two numbers. Print it with cli/tables.fitting_console so
    even the whole columns fit.
    """
    table = Table(title=title, title_justify="left", expand=False, padding=(0, 1))
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column not in folding)
    return table


def _small_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], empty: str,
                 folding: Sequence[str] = ()) -> RenderableType:
    if not rows:
        return Text(f"{title}: {empty}", style="dim")
    table = listing_table(title, columns, folding)
    for row in rows:
        table.add_row(*row)
    return table


def render_frame(snapshot: DashboardSnapshot, zone: ZoneInfo) -> RenderableType:
    """Return the whole dashboard frame for a snapshot, times in the display zone."""
    setups = [(s["id"], s["direction"], s["state"], price_text(s["high"]), price_text(s["low"]),
               price_text(s["entry_estimate"]), price_text(s["stop"]), price_text(s["target"]))
              for s in snapshot.open_setups]
    orders = [(o["order_ref"], o["action"], format_quantity(o['quantity']),
               price_text(o["limit_price"] if o["limit_price"] is not None else o["stop_price"]),
               "ended sim" if o.get("ended_sim_run") else o["status"])
              for o in snapshot.working_orders]
    # The side is in the setup id (-S1 short, -L1 long): no column, so the table fits 80 columns.
    positions = [(p["setup_id"] + ("*" if p.get("ended_sim_run") else ""), format_quantity(p['quantity']), price_text(p["entry_price"]), price_text(p.get("last_price")),
                  money_text(p.get("unrealized_money")), points_text(p.get("to_stop")), points_text(p.get("to_target")))
                 for p in snapshot.positions]
    events = [(local_time(e["ts"], zone, with_date=False), e["type"],
               " ".join(str(part) for part in (e.get("setup_id") or (e.get("payload") or {}).get("order_ref")
                                                or e.get("symbol"), e.get("detail")) if part))
              for e in snapshot.events]
    today = snapshot.today
    pnl = Text()
    if today:
        money = today.get("pnl_money", 0.0)
        label = "Sim day" if snapshot.clock is not None and snapshot.clock.simulated else "Today"
        pnl.append(f"{label} {today['trading_date']}: {today['closed_trades']} closed, ")
        pnl.append(f"{points_text(today['pnl_points'])} pts  {money_text(money)}", style="green" if money >= 0 else "red")
        pnl.append(f"  (commission {money_text(today['commission'], signed=False)})", style="dim")
    header = Text(f"slob dashboard — {snapshot.db_path} — {local_time(snapshot.now.isoformat(), zone)} {zone.key}",
                  style="bold")
    if snapshot.clock is not None and snapshot.clock.label:
        header.append(f" on the {snapshot.clock.label}", style="bold magenta")
    return Group(
        header,
        _status_line(snapshot, zone),
        _chart_panel(snapshot, zone),
        _small_table("Open setups", ("setup", "dir", "state", "high", "low", "entry", "stop", "target"),
                     setups, "none"),
        _small_table("Working orders", ("order ref", "side", "qty", "price", "status"), orders, "none", ("status",)),
        _small_table("Positions", ("setup", "qty", "entry", "last", "unreal.", "to stop", "to tgt"),
                     positions, "flat"),
        *([Text("* of an ended sim run: its gateway is gone, not a live position", style="dim")]
          if any(p.get("ended_sim_run") for p in snapshot.positions) else []),
        pnl,
        _small_table("Latest events", ("time", "event", "about"), events, "none", ("event", "about")),
    )
