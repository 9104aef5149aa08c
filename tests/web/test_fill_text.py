"""A fill reads the same on every screen: the dashboard's events, the web page's chart and its trades.

The dashboard's events pane printed a fill as SQLite concatenated it (`BOT 1.0 @ 25501.0`) while
status, the report and the web page write prices as `25,501.00` and quantities as whole contracts.
A real `slob run --sim --speed max` makes the store; a real `dashboard --once` and a real `slob web`
read it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from slob_cli.core.pnl import money_text, price_text
from tests.web.test_api import get_json

DAY = "2026-01-06"  # the short_setup scenario's day: one short, closed at its target


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_a_fill_shows_as_status_and_the_web_write_its_numbers(db_path: Path, web_server) -> None:  # noqa: ANN001
    run = subprocess.run(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "run", "--sim", "--scenario", "short_setup",
         "--speed", "max", "--duration", "9h", "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    dashboard = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), "dashboard", "--once"],
                               capture_output=True, text=True, timeout=120)
    assert dashboard.returncode == 0, dashboard.stderr[-2000:]
    status = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), "status"],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-2000:]

    server = web_server()
    [trade] = get_json(f"{server.url}/api/trades")["trades"]
    fills = get_json(f"{server.url}/api/candles?symbol=NQ&date={DAY}")["fills"]
    entry, exit_ = price_text(trade["entry_price"]), price_text(trade["exit_price"])
    assert "," in entry and entry.endswith((".00", ".25", ".50", ".75")), entry  # 25,571.75, as status writes it
    # The web's chart marks each fill with the text the dashboard shows; its trades table writes the same prices.
    assert [f["text"] for f in fills] == [f"SELL 1 @ {entry}", f"BUY 1 @ {exit_}"]

    frame = dashboard.stdout
    assert f"{trade['setup_id']} BUY 1 @ {exit_}" in frame, frame  # was `BOT 1.0 @ 25501.0`
    assert " 1.0 @ " not in frame and f"@ {trade['exit_price']}" not in frame
    net = money_text(trade["pnl_money"])
    assert f"{net} net" in frame
    assert f"{trade['setup_id']}: {trade['pnl_points']:+.2f} points, {net} net" in _one_line(status.stdout)
