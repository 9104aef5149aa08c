"""One wording of money: a closed trade's net P&L and commission read the same on every surface.

The session summary and `slob backtest` wrote `+1,410.50 USD`, status, dashboard and the web page
`$+1,410.50`, the executor's log `1410.50 USD net`, the paper report `1410.5`, and the page worded money
itself in JavaScript. Now core/pnl.money_text words every amount and the page shows the texts the server
sends. A real `slob run --sim` (the simulated gateway, the real ib_async client) makes the store; real
`backtest`, `status`, `dashboard --once`, `report` and `slob web` processes read it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from slob_cli.adapters.store import Store
from tests.web.test_api import get_json


def _slob(db_path: Path, *args: str, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0,)) -> str:
    """Run a real slob command on the store; return its stdout as words (table rules and line breaks gone)."""
    result = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), *args], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "COLUMNS": "200", **(env or {})})
    assert result.returncode in codes, result.stderr[-2000:]
    return " ".join(result.stdout.replace("│", " ").split())


def test_a_closed_trades_money_reads_the_same_in_summary_log_backtest_status_dashboard_web_and_report(
        db_path: Path, tmp_path: Path, web_server) -> None:  # noqa: ANN001
    logs = tmp_path / "logs"
    summary = _slob(db_path, "run", "--sim", "--scenario", "short_setup", "--speed", "max", "--duration", "9h",
                    env={"SLOB_LOG_DIR": str(logs)})
    with Store.open(db_path, readonly=True) as store:
        [trade] = store.trade_history_rows()
    setup, points = trade["setup_id"], f"{trade['pnl_points']:+.2f}"
    # The one form, spelled here by hand: dollar sign, then the sign, thousands separated, cents.
    net, commission = f"${trade['pnl_money']:+,.2f}", f"${trade['commission']:,.2f}"
    assert re.fullmatch(r"\$\+\d,\d{3}\.\d\d", net) and re.fullmatch(r"\$\d+\.\d\d", commission), (net, commission)

    # The session summary `run` printed, and the executor's log line of the close.
    assert f"trade {setup} " in summary and re.search(rf"-> target \S+, {re.escape(points)} points, {re.escape(net)} ",
                                                        summary), summary
    assert f"P&L (closed, after commission) {net}" in summary, summary
    logged = re.findall(rf"position closed: {setup} target, [+][\d.]+ points, (\S+) net \(gross \S+, commission (\S+)\)",
                        (logs / "run.log").read_text())
    assert logged == [(net, commission)], logged
    # `slob backtest` over the run's candles: the same trade, the same fill, the same money.
    backtest = _slob(db_path, "backtest")
    assert re.search(rf"{setup} SHORT 1 .* target [+-]\d+\.\d\d {re.escape(net)} ", backtest), backtest  # its row
    assert f"net P&L (after commission) {net} " in backtest and f"commission {commission} " in backtest, backtest
    assert f"2026-01 {net} " in backtest, backtest

    # status and one dashboard frame, on the sim run's own day.
    status = _slob(db_path, "status")
    assert f"P&L {points} points, {net} net, commission {commission}" in status, status
    assert f"{setup}: {points} points, {net} net" in status, status
    assert re.search(rf" {re.escape(net)} \d+\.\d\d ", status), status  # the Backtest runs table: net, max DD %
    frame = _slob(db_path, "dashboard", "--once")
    assert f"{points} pts {net} (commission {commission})" in frame, frame
    assert f"TRADE_CLOSED {setup} {net} net" in frame, frame

    # The web page shows the texts the server made (it words no money itself).
    server = web_server()
    today = get_json(f"{server.url}/api/status")["today"]
    assert (today["pnl_money_text"], today["commission_text"]) == (net, commission), today
    assert [t["pnl_money_text"] for t in today["trades"]] == [net], today
    history = get_json(f"{server.url}/api/trades")
    assert [t["pnl_money_text"] for t in history["trades"]] == [net] and history["pnl_money_text"] == net, history

    # The paper report's figures (exit 0 passed, 5 failed: either way it writes its files).
    _slob(db_path, "report", "--run", "1", "--duration", "9h", "--no-replay", codes=(0, 5))
    report = db_path.with_name(f"{db_path.stem}-paper-run1.md").read_text()
    assert f"| pnl.money | {net} |" in report and f"| pnl.commission | {commission} |" in report, report
