"""Rich rendering of a StatusReport."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from slob_cli.runtime.status import StatusReport
from slob_cli.runtime.views import format_price, local_time


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def render_status(report: StatusReport, zone: ZoneInfo) -> RenderableType:
    """Return the status as rich tables, times in the display zone."""
    parts: list[RenderableType] = []
    if report.running:
        parts.append(Text(f"Running: {report.running.describe()}", style="bold green"))
    else:
        parts.append(Text("Running: nothing holds the lock", style="yellow"))
    runs = _table("Recent runs", "id", "command", "started", "ended", "exit", "data")
    for run in report.runs:
        exit_code = "running" if run["exit_code"] is None else str(run["exit_code"])
        runs.add_row(str(run["id"]), run["command"], local_time(run["started_at"], zone),
                     local_time(run["ended_at"], zone), exit_code, run["data_mode"] or "-")
    parts.append(runs)
    setups = _table("Open setups", "setup", "date", "dir", "state", "high", "low", "entry", "stop", "target")
    for setup in report.open_setups:
        setups.add_row(setup["id"], setup["trading_date"], setup["direction"], setup["state"],
                       format_price(setup["high"]), format_price(setup["low"]),
                       format_price(setup["entry_estimate"]), format_price(setup["stop"]),
                       format_price(setup["target"]))
    parts.append(setups)
    orders = _table("Working orders", "order ref", "role", "action", "type", "qty", "price", "status")
    for order in report.working_orders:
        price = order["limit_price"] if order["limit_price"] is not None else order["stop_price"]
        orders.add_row(order["order_ref"], order["role"], order["action"], order["order_type"],
                       f"{order['quantity']:g}", format_price(price), order["status"])
    parts.append(orders)
    positions = _table("Positions", "setup", "symbol", "dir", "qty", "entry", "since")
    for position in report.positions:
        positions.add_row(position["setup_id"], position["symbol"], position["direction"],
                          f"{position['quantity']:g}", format_price(position["entry_price"]),
                          local_time(position["entry_time"], zone))
    parts.append(positions)
    today = report.today
    parts.append(Text(
        f"Today ({today['trading_date']} New York): {today['closed_trades']} closed trades, "
        f"P&L {today['pnl_points']:+.2f} points, ${today['pnl_money']:+,.2f}, commission ${today['commission']:,.2f}"
    ))
    health = report.health
    if health is None:
        parts.append(Text("Health: no heartbeat recorded"))
    else:
        connected = {True: "connected", False: "DISCONNECTED", None: "unknown"}[health["connected"]]
        tick_age = "-" if health["last_tick_age"] is None else f"{health['last_tick_age']:.1f}s"
        parts.append(Text(
            f"Health at {local_time(health['ts'], zone)} ({report.health_age_seconds:.0f}s ago): {connected}, "
            f"last tick {tick_age} old, open orders {health['open_orders']}, positions {health['positions']}"
            f"{_unrealized_text(health.get('payload') or {})}"
        ))
    return Group(*parts)


def _unrealized_text(payload: dict[str, Any]) -> str:
    """Return ', unrealized $X (broker $Y)' from a heartbeat that carries them, else ''."""
    ours, broker = payload.get("unrealized_pnl"), payload.get("broker_unrealized_pnl")
    if ours is None and broker is None:
        return ""
    shown = [f"${value:+,.2f}" if isinstance(value, int | float) else "?" for value in (ours, broker)]
    return f", unrealized {shown[0]} (broker {shown[1]})"
