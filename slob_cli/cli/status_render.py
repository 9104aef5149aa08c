"""Rich rendering of a StatusReport."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.text import Text

from slob_cli.core.pnl import money_text, points_text, price_text
from slob_cli.runtime.dashboard_view import listing_table
from slob_cli.runtime.status import StatusReport, running_text
from slob_cli.runtime.views import ago, counted, format_quantity, human_age, local_time


def render_status(report: StatusReport, zone: ZoneInfo) -> RenderableType:
    """Return the status as rich tables (80 columns), times in the display zone, named once."""
    parts: list[RenderableType] = []
    clock = report.clock or {}
    simulated = bool(clock.get("simulated"))
    when = f"{local_time(report.now, zone)} {zone.key}"
    if clock.get("label"):  # views.StoreClock.label: the one name of a simulated clock
        when += f" on the {clock['label']}"
    parts.append(Text(f"Now: {when}", style="bold magenta" if simulated else "bold"))
    if report.running:
        running = running_text(report.running, simulated, zone)  # Now is not on its clock
        parts.append(Text(f"Running: {running}", style="bold green"))
    else:
        parts.append(Text("Running: nothing holds the lock", style="yellow"))
    runs = listing_table("Recent runs", ("id", "command", "started", "ended", "exit", "data"), ("command", "data"))
    for run in report.runs:
        exit_code = run.get("state", "running") if run["exit_code"] is None else str(run["exit_code"])
        runs.add_row(str(run["id"]), run["command"], local_time(run["started_at"], zone),
                     local_time(run["ended_at"], zone), exit_code, run["data_mode"] or "-")
    parts.append(runs)
    # Entry, stop and target exist only once a setup completes (a terminal state): not columns here.
    setups = listing_table("Open setups", ("setup", "dir", "state", "high", "low", "updated"))
    for setup in report.open_setups:
        setups.add_row(setup["id"], setup["direction"][:1], setup["state"],
                       price_text(setup["high"]), price_text(setup["low"]),
                       local_time(setup["updated_at"], zone, with_date=False))
    parts.append(setups)
    orders = listing_table("Working orders", ("order ref", "act", "type", "qty", "price", "status"), ("type", "status"))
    for order in report.working_orders:
        price = order["limit_price"] if order["limit_price"] is not None else order["stop_price"]
        status = "ended sim" if order.get("ended_sim_run") else order["status"]
        orders.add_row(order["order_ref"], order["action"], order["order_type"], format_quantity(order['quantity']),
                       price_text(price), status)
    parts.append(orders)
    # The side is in the setup id (-S1 short, -L1 long): no column, so the table fits 80 columns.
    positions = listing_table("Positions", ("setup", "qty", "entry", "last", "unreal.", "to stop", "to tgt"))
    for position in report.positions:
        setup = position["setup_id"] + ("*" if position.get("ended_sim_run") else "")
        positions.add_row(setup, format_quantity(position['quantity']),
                          price_text(position["entry_price"]), price_text(position.get("last_price")),
                          money_text(position.get("unrealized_money")), points_text(position.get("to_stop")),
                          points_text(position.get("to_target")))
    parts.append(positions)
    if any(position.get("ended_sim_run") for position in report.positions):
        parts.append(Text("* of an ended sim run: its gateway is gone, not a live position", style="dim"))
    today = report.today
    label = "Sim day" if simulated else "Today"
    parts.append(Text(
        f"{label} ({today['trading_date']} New York): {counted(today['closed_trades'], 'closed trade')}, "
        f"P&L {points_text(today['pnl_points'])} points, {money_text(today['pnl_money'])} net, "
        f"commission {money_text(today['commission'], signed=False)}"
    ))
    for trade in today.get("trades", []):
        parts.append(Text(f"  {trade['setup_id']}: {points_text(trade['pnl_points'])} points, "
                          f"{money_text(trade['pnl_money'])} net"))
    health, liveness = report.health, report.liveness
    whose = (report.health_of or {}).get("run_id")
    if health is None and report.running is not None and liveness is not None:  # its first seconds
        of_run = f" (run {whose})" if whose is not None else ""
        parts.append(Text(f"Health{of_run}: {liveness.heartbeat_text(None)}"))
    elif health is None:
        parts.append(Text("Health: no heartbeat recorded"))
    else:
        if report.running is None:
            link, label = "no session running", f"Last health of run {whose}"
        else:
            link = {True: "connected", False: "DISCONNECTED", None: "unknown"}[report.connected]
            label = f"Health of run {whose}"
        tick_age = human_age(health["last_tick_age"])
        age = liveness.heartbeat_age(report.health_age_seconds) if liveness else ago(report.health_age_seconds)
        parts.append(Text(
            f"{label} at {local_time(health['ts'], zone, with_date=False)} "
            f"({age}): {link}, last tick {tick_age} before it"
            # A recorder's heartbeat has no book: it knows no orders nor positions.
            + ("" if health["open_orders"] is None else f", open orders {health['open_orders']}")
            + ("" if health["positions"] is None else f", positions {health['positions']}")
            + f"{_unrealized_text(health.get('payload') or {})}"
        ))
    if report.running is not None and liveness is not None:
        stale = liveness.stale_text(report.running)
        sign = "real time, its lock pulse" if liveness.sign == "pulse" else "its heartbeat"
        if stale:
            alive, style = stale, "bold red"
        elif liveness.sign == "process":
            alive, style = f"yes ({liveness.note}; judged by its process only)", "yellow"
        else:
            alive, style = f"{liveness.alive_age()} ({sign}; {liveness.limit_text()})", "green"
        parts.append(Text(f"Alive: {alive}", style=style))
    if report.backtests:
        # The name folds; the range takes two lines (from, to) so its dates and the money stay whole in 80 columns.
        backtests = listing_table("Backtest runs", ("name", "symbol", "range", "trades", "win rate", "net", "max DD %"),
                                  ("name",))
        for run in report.backtests:
            win_rate = "-" if run["win_rate"] is None else f"{run['win_rate']:.1%}"
            backtests.add_row(run["name"], run["symbol"], f"{run['from_date']}\n{run['to_date']}", str(run["trades"]),
                              win_rate, money_text(run["net_pnl"]), f"{run['max_drawdown_pct']:.2f}")
        parts.append(backtests)
    return Group(*parts)


def _unrealized_text(payload: dict[str, Any]) -> str:
    """Return ', unrealized $+X (broker $+Y)' from a heartbeat that carries them, else ''."""
    ours, broker = payload.get("unrealized_pnl"), payload.get("broker_unrealized_pnl")
    if ours is None and broker is None:
        return ""
    shown = [money_text(value) if isinstance(value, int | float) else "-" for value in (ours, broker)]
    return f", unrealized {shown[0]} (broker {shown[1]})"
