"""`slob status`: JSON and tables from a store with rows, read-only, --check for health checks."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.runtime.lock import acquire, current_holder
from slob_cli.runtime.views import trading_date_of
from tests.opsdata import add_health, add_order, add_setup, add_trade
from tests.sqlfile import sql_run

UTC = timezone.utc


def populate(store: Store, now: datetime) -> None:
    """A day with one open setup, one completed setup in a position, and one closed trade today."""
    today = trading_date_of(now).isoformat()
    run_id = store.start_run("paper", {"duration": "24"}, now - timedelta(hours=2))
    done = store.start_run("record", {}, now - timedelta(days=1))
    store.end_run(done, 0, now - timedelta(hours=20), data_mode="delayed")
    add_setup(store, "NQ-a-SHORT-1", "WATCHING_LIQ2", trading_date=today, high=25491.0, low=25440.0)
    add_setup(store, "NQ-a-SHORT-2", "SETUP_COMPLETE", trading_date=today, entry_estimate=25450.0,
              stop=25470.0, target=25405.0)
    add_setup(store, "NQ-a-LONG-1", "INVALIDATED", trading_date=today)
    add_order(store, "slob:NQ-a-SHORT-2:entry", "entry", "Filled", "NQ-a-SHORT-2")
    add_order(store, "slob:NQ-a-SHORT-2:stop", "stop", "Submitted", "NQ-a-SHORT-2", action="BUY",
              order_type="STP", stop_price=25470.25)
    add_order(store, "slob:NQ-a-SHORT-2:target", "target", "PreSubmitted", "NQ-a-SHORT-2", action="BUY",
              order_type="LMT", limit_price=25405.0)
    add_trade(store, "NQ-a-SHORT-2", entry_time=to_iso(now - timedelta(minutes=30)), entry_price=25449.5)
    add_setup(store, "NQ-b-LONG-1", "SETUP_COMPLETE", trading_date=today)
    add_trade(store, "NQ-b-LONG-1", direction="LONG", entry_time=to_iso(now - timedelta(hours=1)),
              entry_price=25400.0, exit_time=to_iso(now - timedelta(minutes=40)), exit_price=25420.0,
              pnl_points=20.0, pnl_money=400.0, commission=4.5, status="closed")
    add_trade(store, "NQ-old-LONG-1", direction="LONG", entry_time="2020-01-02T15:00:00Z", entry_price=1.0,
              exit_time="2020-01-02T16:00:00Z", exit_price=2.0, pnl_points=1.0, pnl_money=20.0, status="closed")
    add_health(store, to_iso(now - timedelta(seconds=5)), run_id=run_id)


def test_status_json_reports_runs_setups_orders_positions_and_todays_pnl(
    runner: CliRunner, db_path: Path, store: Store
) -> None:
    populate(store, datetime.now(UTC))
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [run["command"] for run in data["runs"]] == ["record", "paper"]
    assert data["runs"][0]["data_mode"] == "delayed" and data["runs"][1]["exit_code"] is None
    assert data["running"] is None
    assert [setup["id"] for setup in data["open_setups"]] == ["NQ-a-SHORT-1"]
    assert {order["role"] for order in data["working_orders"]} == {"stop", "target"}
    assert [position["setup_id"] for position in data["positions"]] == ["NQ-a-SHORT-2"]
    assert data["today"]["closed_trades"] == 1
    assert data["today"]["pnl_money"] == 400.0 and data["today"]["commission"] == 4.5
    assert data["health"]["connected"] is True
    assert 0 <= data["health_age_seconds"] < 60


def test_status_table_names_running_session_and_rows(runner: CliRunner, db_path: Path, store: Store) -> None:
    populate(store, datetime.now(UTC))
    with acquire(db_path, "paper"):
        result = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Running: slob paper (pid {os.getpid()}" in out
    assert "NQ-a-SHORT-1" in out and "WATCHING_LIQ2" in out
    assert "slob:NQ-a-SHORT-2:stop" in out and "25,470.25" in out
    assert "1 closed trade," in out and "$+400.00 net, commission $4.50" in out
    assert "connected" in out


def test_the_lock_holders_start_is_shown_in_the_display_zone(runner: CliRunner, db_path: Path, store: Store) -> None:
    populate(store, datetime.now(UTC))
    with acquire(db_path, "paper"):
        holder = current_holder(db_path)
        assert holder is not None
        started = datetime.fromisoformat(holder.started_at.replace("Z", "+00:00"))
        local = started.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")
        env = {"COLUMNS": "200", "SLOB_DISPLAY_TZ": "Asia/Tokyo"}
        status = runner.invoke(app, ["--db", str(db_path), "status"], env=env).stdout
        frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env=env).stdout
    for screen in (status, frame):
        assert f"(pid {os.getpid()}, since {local})" in screen, screen
        assert holder.started_at not in screen, "a UTC instant on a screen whose zone is Asia/Tokyo"


def test_status_never_writes_the_store(runner: CliRunner, db_path: Path, store: Store) -> None:
    populate(store, datetime.now(UTC))
    sql_run(store.path, "PRAGMA wal_checkpoint(TRUNCATE)")
    before = db_path.read_bytes()
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    assert result.exit_code == 0
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}.lock").exists()


def test_status_on_missing_database_exits_3_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "none.db"), "status"])
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [f"Error: database '{tmp_path / 'none.db'}' does not exist"]
    assert not (tmp_path / "none.db").exists()


def test_status_check_is_healthy_only_with_holder_and_fresh_heartbeat(
    runner: CliRunner, db_path: Path, store: Store
) -> None:
    now = datetime.now(UTC)
    args = ["--db", str(db_path), "status", "--check"]
    add_health(store, to_iso(now - timedelta(seconds=5)))  # an earlier run's
    result = runner.invoke(app, args)
    assert (result.exit_code, result.stdout.strip()) == (1, "unhealthy: no slob session holds the lock")
    with acquire(db_path, "paper"):
        foreign = runner.invoke(app, args)  # the earlier run's heartbeat is not this holder's
        run_id = store.start_run("paper", {}, now)  # this process holds the lock: its run
        add_health(store, to_iso(now - timedelta(seconds=5)), run_id=run_id)
        healthy = runner.invoke(app, args)
        stale = runner.invoke(app, [*args, "--max-age", "1"])
    assert foreign.exit_code == 1 and "has written no heartbeat" in foreign.stdout, foreign.stdout
    assert healthy.exit_code == 0 and healthy.stdout.startswith("healthy: slob paper")
    assert stale.exit_code == 1 and re.fullmatch(r"unhealthy: last heartbeat \d+ s ago \(limit 1 s\)", stale.stdout.strip()), stale.stdout


def test_a_died_run_with_the_holders_pid_is_not_taken_for_its_run(runner: CliRunner, db_path: Path, store: Store) -> None:
    """A restarted container gives slob the same pid again: the run that died before is no part of the new session."""
    now = datetime.now(UTC)
    died = store.start_run("trade", {}, now - timedelta(hours=3))  # this process's pid, never ended
    add_health(store, to_iso(now - timedelta(seconds=2)), connected=False, run_id=died)
    with acquire(db_path, "trade", pulses=True) as held:  # the new session, before its run row exists
        before = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
        run_id = store.start_run("trade", {}, now)
        held.note_run(run_id)
        add_health(store, to_iso(now), run_id=run_id)
        after = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert [run["state"] for run in before["runs"]] == ["died"]
    assert (before["health"], before["connected"], before["liveness"]["sign"]) == (None, None, "pulse")
    assert before["health_of"] == {"run_id": None, "of_running_session": True, "written": False}
    assert [(run["id"], run["state"]) for run in after["runs"]] == [(run_id, "running"), (died, "died")]
    assert (after["running"]["run_id"], after["health"]["run_id"], after["connected"]) == (run_id, run_id, True)


def test_status_shows_the_broker_unrealized_pnl_beside_ours(runner: CliRunner, db_path: Path, store: Store) -> None:
    from tests.opsdata import insert

    insert(store, "health", run_id=None, ts=to_iso(datetime.now(UTC)), connected=1, last_tick_age=0.2,
           buffer_utilization=0.0, open_orders=2, positions=1,
           payload={"data_mode": "live", "unrealized_pnl": 210.0, "broker_unrealized_pnl": 205.5})
    table = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"})
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert "unrealized $+210.00 (broker $+205.50)" in table.stdout
    assert data["health"]["payload"]["broker_unrealized_pnl"] == 205.5


def _add_backtest_run(db_path: Path, name: str, trades: int, win_rate: float, net_pnl: float, drawdown_pct: float) -> None:
    from slob_cli.adapters.store import to_us
    from tests.sqlfile import sql_run

    sql_run(db_path, "INSERT INTO backtest_runs(name, created_at, symbol, from_date, to_date, candles, trades, net_pnl,"
            " win_rate, max_drawdown, max_drawdown_pct, settings, stats) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (name, to_us(datetime.now(UTC)), "NQ", "2025-01-02", "2026-03-27", 123_456, trades, net_pnl, win_rate,
             1000.0, drawdown_pct, "{}", "{}"))


def test_status_at_80_columns_prints_every_number_whole(runner: CliRunner, db_path: Path, store: Store) -> None:
    """rich's 80 columns broke the backtest runs' figures over two lines ('+2,8' / '21.0'); names fold instead."""
    populate(store, datetime.now(UTC))
    _add_backtest_run(db_path, "NQ-20250102-20260327-20261205T023709-risk_pct=0.02", 1_234, 0.4567, 2_821_044.5, 21.04)
    _add_backtest_run(db_path, "sweep-best", 87, 0.5, -123_456.78, 3.5)
    # On a terminal (TTY_COMPATIBLE=1; TERM=dumb keeps it free of colour codes) the name folds to fit 80 columns.
    result = runner.invoke(app, ["--db", str(db_path), "status"],
                           env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    words = result.stdout.replace("│", " ").split()
    for number in ("1234", "45.7%", "$+2,821,044.50", "21.04", "87", "50.0%", "$-123,456.78", "3.50",
                   "25,470.25", "25,405.00", "25,449.50", "$+400.00"):
        assert number in words, (number, result.stdout)
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    # Piped (grep, a file) no word is split: the long name stays whole on its row, and the table is wider.
    piped = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "80", "TTY_COMPATIBLE": "0"})
    assert piped.exit_code == 0, piped.output
    row = next(line for line in piped.stdout.splitlines() if "NQ-20250102-20260327-20261205T023709" in line)
    assert "NQ-20250102-20260327-20261205T023709-risk_pct=0.02" in row and "+2,821,044.50" in row
    assert "…" not in piped.stdout


def test_an_mnq_position_on_nq_data_is_marked_at_nq_prices(runner: CliRunner, db_path: Path, store: Store) -> None:
    from slob_cli.core.models import Tick

    # risk's trade_symbol = "MNQ": the store records NQ only, so MNQ had no price and no unrealized P&L.
    now = datetime.now(UTC)
    add_setup(store, "NQ-a-SHORT-1", "SETUP_COMPLETE", trading_date=trading_date_of(now).isoformat(),
              entry_estimate=25450.0, stop=25470.0, target=25405.0)
    add_trade(store, "NQ-a-SHORT-1", symbol="MNQ", quantity=3.0, entry_time=to_iso(now - timedelta(minutes=5)),
              entry_price=25449.5, entry_commission=1.86)
    store.insert_ticks([Tick("NQ", now - timedelta(seconds=2), 25440.0, 1.0)])
    [position] = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)["positions"]
    assert position["last_price"] == 25440.0
    assert position["unrealized_money"] == round(9.5 * 2.0 * 3 - 1.86, 2)  # MNQ's $2 a point, 3 lots
    assert (position["to_stop"], position["to_target"]) == (30.0, 35.0)


def test_check_with_json_is_refused_in_one_line_with_exit_2(runner, db_path) -> None:
    """--check prints one line of text for a health check: --json beside it printed that text, not JSON."""
    from slob_cli.cli.main import app

    result = runner.invoke(app, ["--db", str(db_path), "status", "--check", "--json"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "--check" in lines[0] and "--json" in lines[0], lines
