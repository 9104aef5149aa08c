"""`slob backtest` through CliRunner: report, JSON, the stored named run, sweeps, bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_value


@pytest.fixture
def db(db_path: Path) -> Path:
    """Return a store holding three planted days (SHORT, LONG, both)."""
    with Store.open(db_path) as store:
        store.upsert_candles(build_scenario("short_setup", date(2026, 3, 10)) + build_scenario("long_setup", date(2026, 3, 11))
                             + build_scenario("both_setups", date(2026, 3, 12)))
    return db_path


def _invoke(runner: CliRunner, db: Path, *args: str) -> Any:
    return runner.invoke(app, ["--db", str(db), "backtest", *args])


def test_report_states_the_m1_limit_and_lists_trades_and_figures(runner: CliRunner, db: Path) -> None:
    result = _invoke(runner, db, "--name", "march", "--plot", "equity.png")
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "order of prices inside a one-minute bar is unknown" in out
    for words in ("win rate", "profit factor", "expectancy", "max drawdown", "longest losing streak",
                  "P&L by month", "P&L by weekday", "Setups by final state", "stored as 'march'"):
        assert words in out
    assert Path("equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_run_is_stored_by_name_and_listed_by_status(runner: CliRunner, db: Path) -> None:
    result = _invoke(runner, db, "--name", "march", "--from", "2026-03-10", "--to", "2026-03-12", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["name"] == "march" and report["stats"]["trades"] == len(report["trades"]) >= 4
    first = report["trades"][0]
    assert first["setup_id"] == "NQ-20260310-S1" and first["contracts"] == 1
    assert (first["stop"], first["target"], first["exit_reason"]) == (25593.0, 25501.0, "target")
    # The same name again replaces the run rather than adding a second one.
    assert _invoke(runner, db, "--name", "march", "--slippage-ticks", "0", "--json").exit_code == 0
    with Store.open(db) as store:
        assert sql_value(store.path, "SELECT count(*) FROM backtest_runs") == 1
        stored = sql_value(store.path, "SELECT count(*) FROM backtest_trades")
        assert stored == report["stats"]["trades"]
    status = runner.invoke(app, ["--db", str(db), "status", "--json"])
    assert status.exit_code == 0, status.stderr
    [listed] = json.loads(status.stdout)["backtests"]
    assert listed["name"] == "march" and listed["trades"] == stored


def test_risk_override_changes_sizes(runner: CliRunner, db: Path) -> None:
    result = _invoke(runner, db, "--risk", "risk_pct=0.02", "--risk", "max_contracts=10", "--no-save", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["trades"][0]["contracts"] == 4
    with Store.open(db) as store:
        assert sql_value(store.path, "SELECT count(*) FROM backtest_runs") == 0


def test_sweep_prints_one_ranked_table_with_the_overfitting_caveat(runner: CliRunner, db: Path) -> None:
    result = _invoke(runner, db, "--sweep", "slippage_ticks=0,4", "--sweep", "risk.max_trades_per_day=1,2",
                     "--jobs", "2", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert "overfitting" in data["caveat"]
    rows = data["rows"]
    assert [row["rank"] for row in rows] == [1, 2, 3, 4]
    assert [row["net_pnl"] for row in rows] == sorted((row["net_pnl"] for row in rows), reverse=True)
    assert rows[0]["settings"] == {"slippage_ticks": 0, "risk.max_trades_per_day": 2}
    text = _invoke(runner, db, "--sweep", "tp_mode=swing,lse")
    assert text.exit_code == 0, text.stderr
    assert "overfitting" in text.stdout


@pytest.mark.parametrize("args, code, message", [
    (["--from", "2026-03-12", "--to", "2026-03-10"], 2, "is after --to"),
    (["--risk", "risk_pct"], 2, "expected KEY=VALUE"),
    (["--risk", "risk_pct=7"], 3, "risk_pct"),
    (["--sweep", "no_such_key=1,2"], 2, "unknown setting 'no_such_key'"),
    (["--sweep", "max_depth_pct=-1,0.3"], 3, "max_depth_pct"),
    (["--symbol", "MNQ"], 2, "no stored MNQ candles"),
    (["--from", "2026-03-20", "--to", "2026-03-27"], 2,  # was exit 0 and a stored run of 0 candles
     "nothing to backtest from 2026-03-20 to 2026-03-27: stored NQ candles span 2026-03-10 .. 2026-03-12"),
    (["--to", "2026-03-09"], 2, "nothing to backtest from 2026-03-10 to 2026-03-09"),
    (["--plot", "."], 2, "--plot '.': the file name must end in .png"),  # wrote '.png' and said 'written to .'
    (["--plot", "equity.txt"], 2, "--plot 'equity.txt': the file name must end in .png"),  # was exit 1, ValueError
    (["--plot", "/proc/equity.png"], 2, "cannot write '/proc/equity.png'"),
    (["--name", "   "], 2, "--name '   ' is blank"),  # was stored as a run named '   '
])
def test_bad_input_is_one_line_and_a_named_exit_code(runner: CliRunner, db: Path, args: list[str], code: int,
                                                      message: str) -> None:
    result = _invoke(runner, db, *args)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sql_value(db, "SELECT count(*) FROM backtest_runs") == 0, "a refused backtest is not stored"
    assert not Path(".png").exists()


def test_trade_table_off_a_terminal_shows_every_price_whole(runner: CliRunner, db: Path) -> None:
    """80 columns (rich's width off a terminal) cut every price of the trade table to '2…'."""
    report = json.loads(_invoke(runner, db, "--json").stdout)
    result = _invoke(runner, db)
    assert result.exit_code == 0, result.stderr
    assert "…" not in result.stdout
    for trade in report["trades"]:
        for field in ("entry_price", "stop", "target", "exit_price"):
            assert f"{trade[field]:,.2f}" in result.stdout  # as status and the web write it
        assert trade["setup_id"] in result.stdout


def test_sweep_table_off_a_terminal_shows_every_setting_and_figure_whole(runner: CliRunner, db: Path) -> None:
    """The settings column was cut to 'min_rr=1…' and 'tp_mode=…': two rows could not be told apart."""
    args = ("--sweep", "min_rr=1,1.5", "--sweep", "tp_mode=swing,lse", "--sweep", "slippage_ticks=0,4")
    rows = json.loads(_invoke(runner, db, *args, "--json").stdout)["rows"]
    text = _invoke(runner, db, *args)
    assert text.exit_code == 0, text.stderr
    assert "…" not in text.stdout
    for row in rows:
        assert " ".join(f"{key}={value}" for key, value in row["settings"].items()) in text.stdout
        assert f"{row['net_pnl']:+,.2f}" in text.stdout
