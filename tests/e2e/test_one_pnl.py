"""One P&L: a sim session with two trades shows the same net numbers everywhere, to the cent.

Logs, alerts, the risk state, the trades table, the session summary, `status`, `dashboard` and the
paper report all read core/pnl.trade_result, so none may leave out the exit commission.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.pnl import money_text
from tests.alert_plugins import RECEIVED


def _json(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])


def test_two_trade_sim_session_shows_one_net_pnl_everywhere(runner: CliRunner, db_path: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    monkeypatch.setenv("SLOB_LOG_DIR", str(logs))
    monkeypatch.setenv("SLOB_ALERT_URLS", "slobcapture://pnl")
    RECEIVED.clear()
    run = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--json"])
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = _json(run.stdout)

    with Store.open(db_path) as store:
        trades = {row["setup_id"]: row for row in store.db.query("SELECT * FROM trades ORDER BY entry_time")}
        risk = store.get_state("risk_state")
    assert len(trades) == 2 and all(t["status"] == "CLOSED" for t in trades.values())
    net = {setup: round(t["pnl_money"], 2) for setup, t in trades.items()}
    for trade in trades.values():  # the row is the pure function's result: gross - entry - exit commission
        assert trade["entry_commission"] > 0 and trade["exit_commission"] > 0
        assert round(trade["gross_money"] - trade["entry_commission"] - trade["exit_commission"], 2) == \
            round(trade["pnl_money"], 2)
        assert trade["settled_at"] is not None
    total = round(sum(net.values()), 2)

    # The session summary (JSON) and its table.
    assert {t["setup_id"]: round(t["pnl_money"], 2) for t in summary["trades"]} == net
    assert round(summary["pnl"], 2) == total
    assert summary["stats"]["data_mode"] == "sim"  # the summary says what the runs table says
    # The risk state and its daily loss limit read the same net money.
    assert round(risk["realized_pnl_today"], 2) == total
    assert round(risk["equity"] - risk["start_of_day_equity"], 2) == total
    # The log lines and the alerts of each closed position.
    log_text = (logs / "run.log").read_text()
    logged = dict(re.findall(r"position closed: (\S+) \w+, [-+][\d,.]+ points, (\S+) net", log_text))
    assert logged == {setup: money_text(money) for setup, money in net.items()}  # `$+1,410.50`, as status
    alerted = {}
    for alert in RECEIVED:
        if "trade closed" in alert["title"]:
            fields = dict(part.split("=", 1) for part in alert["body"].split(", ") if "=" in part)
            alerted[fields["setup_id"]] = fields["pnl_money"]
    assert alerted == {setup: money_text(money) for setup, money in net.items()}
    # `status` (its sim day), `dashboard` and the paper report over the same run.
    status = _json(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert status["clock"]["simulated"] is True and status["today"]["trading_date"] == "2026-01-06"
    assert {t["setup_id"]: t["pnl_money"] for t in status["today"]["trades"]} == net
    assert status["today"]["pnl_money"] == total
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
    assert money_text(total) in frame
    report = runner.invoke(app, ["--db", str(db_path), "report", "--run", "1", "--duration", "14h", "--json",
                                 "--no-replay"])
    assert _json(report.stdout)["figures"]["pnl"]["money"] == total


def test_the_brokers_realized_pnl_is_slobs_net_pnl_of_the_sim_day(tmp_path: Path) -> None:
    """After slob's round trip, ib_async reads the day's realized P&L at the sim in every place: slob's figure."""
    import asyncio
    from contextlib import ExitStack

    from slob_cli.runtime.views import day_pnl
    from tests.e2e.harness import DAY, at, start_harness
    from tests.sim.test_one_realized import Figures, connect_noting_portfolio, read_figures
    from tests.sim.test_orders import _future

    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        h.session(until=at(16, 45))
        ours = day_pnl(h.store, DAY)  # what `status` shows for the sim day
        assert ours["closed_trades"] == 1 and ours["commission"] > 0

        async def body() -> Figures:
            portfolio: dict[int, float] = {}
            ib = await connect_noting_portfolio(h.gateway.host, h.gateway.port, 9, portfolio)
            try:
                return await read_figures(ib, await _future(ib), ours["pnl_money"], portfolio)
            finally:
                ib.disconnect()

        broker = asyncio.run(asyncio.wait_for(body(), 30.0))
    net = ours["pnl_money"]
    # The contract's portfolio line (sent flat to a new client), the account value and both reqPnL lines.
    assert broker == Figures(portfolio=net, account=net, pnl=net, pnl_single=net)


def test_a_total_reads_to_the_cent_in_the_summary_status_web_risk_state_report_and_backtest(
        runner: CliRunner, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """23 and 24 MNQ at 0.62 a side: cents a float sum leaves as 6592.219999999999. Every total is core/pnl.money_sum."""
    from slob_cli.runtime.web_views import trades_history

    config = tmp_path / "mnq.toml"
    config.write_text('[risk]\ntrade_symbol = "MNQ"\nmax_contracts = 50\n')
    monkeypatch.setenv("SLOB_STRATEGY_CONFIG", str(config))
    run = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--json"])
    assert run.exit_code == 0, run.stdout + run.stderr
    summary = _json(run.stdout)
    assert [t["quantity"] for t in summary["trades"]] == [23.0, 24.0], summary["trades"]
    total = summary["pnl"]
    assert total == 6592.22 and repr(total) == "6592.22"  # the cents the trades add up to, and nothing else
    status = _json(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert status["today"]["pnl_money"] == total and status["today"]["commission"] == 58.28
    with Store.open(db_path, readonly=True) as store:
        web = trades_history(store)
        risk = store.get_state("risk_state")
    assert web["pnl_money"] == web["equity"][-1][1] == total, web
    assert risk["realized_pnl_today"] == total and risk["equity"] == 100_000 + total, risk
    report = runner.invoke(app, ["--db", str(db_path), "report", "--run", "1", "--duration", "13h", "--json",
                                 "--no-replay"])
    assert _json(report.stdout)["figures"]["pnl"]["money"] == total
    backtest = runner.invoke(app, ["--db", str(db_path), "backtest", "--config", str(config), "--json"])
    assert backtest.exit_code == 0, backtest.stdout + backtest.stderr
    stats = _json(backtest.stdout)["stats"]
    assert stats["net_pnl"] == stats["gross_profit"] == stats["by_month"]["2026-01"] == total, stats
    assert stats["final_equity"] == 100_000 + total and stats["commission"] == 58.28, stats
    stored = _json(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)["backtests"]
    assert [b["net_pnl"] for b in stored] == [total]
