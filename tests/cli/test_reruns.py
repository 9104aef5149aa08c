"""Re-runs are normal use: a sim day rehearsed again on the same store, a tracked day recomputed."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.errors import StoreError
from slob_cli.runtime.tracking import LiveTracking
from tests.sqlfile import sql_rows, sql_value

UTC = timezone.utc
RUN = ["run", "--sim", "--scenario", "short_setup", "--speed", "max", "--duration", "9h", "--json"]


def _summary(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])


def test_run_sim_twice_on_one_store_is_a_fresh_rehearsal_with_a_new_run_id(runner: CliRunner, db_path: Path) -> None:
    first = runner.invoke(app, ["--db", str(db_path), *RUN])
    assert first.exit_code == 0, first.stderr
    second = runner.invoke(app, ["--db", str(db_path), *RUN])
    assert second.exit_code == 0, second.stderr
    assert "differ from a replay" not in second.stderr
    one, two = _summary(first.stdout), _summary(second.stdout)
    assert (one["run_id"], two["run_id"]) == (1, 2)
    # The earlier rehearsal's orders neither block the new one ("already has orders") nor count
    # against its daily limits: nothing is skipped, and every stored order belongs to run 2.
    assert two["skipped"] == []
    with Store.open(db_path, readonly=True) as store:
        runs = {row[0] for row in sql_rows(store.path, "SELECT DISTINCT run_id FROM orders")}
        events = sql_value(store.path, "SELECT count(*) FROM setup_events")
    assert runs <= {2} and events > 0


def test_paper_sim_twice_on_one_store_passes_both_times(runner: CliRunner, db_path: Path) -> None:
    args = ["--db", str(db_path), "paper", "--sim", "--duration", "2h", "--speed", "1000000", "--json"]
    for run_id in (1, 2):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert _summary(result.stdout)["meta"]["run"] == run_id


def test_a_changed_strategy_config_is_named_and_setups_track_recomputes_the_day(
        runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    day = "2026-01-06"
    result = runner.invoke(app, ["--db", str(db_path), *RUN[:-1], "--steps", "record,aggregate,track"])
    assert result.exit_code == 0, result.stderr
    changed = StrategyConfig(max_duration_min=90)
    with Store.open(db_path) as store, pytest.raises(StoreError) as refused:
        LiveTracking(store, "NQ", changed, _calendar()).restore(datetime(2026, 1, 6, 16, 0, tzinfo=UTC))
    message = str(refused.value)
    assert "max_duration_min 120 -> 90" in message and "setups track" in message
    config = tmp_path / "strategy.toml"
    config.write_text("max_duration_min = 90\n")
    track = runner.invoke(app, ["--db", str(db_path), "setups", "track", "--from", day, "--to", day],
                          env={"SLOB_STRATEGY_CONFIG": str(config)})
    assert track.exit_code == 0, track.stderr
    with Store.open(db_path) as store:  # the day now carries the new config: a restart restores it
        LiveTracking(store, "NQ", changed, _calendar()).restore(datetime(2026, 1, 6, 21, 30, tzinfo=UTC))


def _calendar():  # noqa: ANN202
    from slob_cli.adapters.calendar import load_calendar

    return load_calendar(date(2026, 1, 1), date(2026, 1, 31))


def test_a_sim_rerun_on_a_day_holding_imported_candles_is_refused_naming_why(
        runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    args = ["--db", str(db_path), "run", "--sim", "--scenario", "short_setup", "--speed", "2000",
            "--duration", "8h", "--steps", "record,aggregate,track"]
    assert runner.invoke(app, args).exit_code == 0
    (tmp_path / "one.csv").write_text("timestamp,open,high,low,close,volume\n2026-01-06T20:00:00Z,1,1,1,1,1\n")
    assert runner.invoke(app, ["--db", str(db_path), "candles", "import", str(tmp_path / "one.csv"),
                               "--symbol", "NQ"]).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 3
    assert "later than this session's clock" in again.stderr and "use another --db" in again.stderr


@pytest.mark.parametrize(("day", "message"), [
    # the sim lists no NQ future then: the run got no data and still exited 0 with an empty summary
    ("1990-01-02", "--date 1990-01-02 is outside the days the simulated gateway serves (2000-01-03..2099-12-31)"),
    ("2100-06-01", "--date 2100-06-01 is outside the days the simulated gateway serves"),
    # beyond next year the calendar was not loaded: Christmas Day passed for a session
    ("2036-12-25", "--date 2036-12-25 is not a NYSE trading day"),
])
def test_a_sim_date_it_cannot_serve_is_refused_before_anything_is_stored(
        runner: CliRunner, db_path: Path, day: str, message: str) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--date", day])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {message}") and len(result.stderr.splitlines()) == 1
    assert not db_path.exists()


@pytest.mark.parametrize(("steps", "candles_stored"), [("record", False), ("record,aggregate", True)])
def test_run_stores_candles_only_with_the_aggregate_step(runner: CliRunner, db_path: Path, steps: str,
                                                          candles_stored: bool) -> None:
    # `--steps record` stored every candle too: the aggregate step was never read.
    result = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--duration", "2h",
                                 "--steps", steps, "--json"])
    assert result.exit_code == 0, result.output
    assert sql_value(db_path, "SELECT count(*) FROM ticks") > 0
    assert (sql_value(db_path, "SELECT count(*) FROM candles") > 0) is candles_stored


def test_report_of_a_sim_run_whose_day_a_later_sim_run_replaced_is_refused_not_judged_on_the_later_data(
        runner: CliRunner, db_path: Path) -> None:
    """`report --run 1` after a second `run --sim` of the same day judged run 1 on what was left of it:
    PASSED with 0 orders, 0 trades and $0 P&L (its orders and trades were replaced), and run 2's setup
    events taken for run 1's. Run 1 is no longer in the store to be judged: one line naming run 2."""
    for _ in (1, 2):
        assert runner.invoke(app, ["--db", str(db_path), *RUN]).exit_code == 0
    first = runner.invoke(app, ["--db", str(db_path), "report", "--run", "1", "--duration", "9h"])
    assert first.exit_code == 2, first.output
    assert first.stderr.strip() == (
        "Error: run 1 can no longer be judged: sim run 2 played its simulated day 2026-01-06 again on this "
        "store, replacing what run 1 stored of it (orders, fills, trades, setup events); judge run 2")
    assert not list(db_path.parent.glob("*-paper-run1.*")), "no report written for run 1"
    second = runner.invoke(app, ["--db", str(db_path), "report", "--run", "2", "--duration", "9h", "--json"])
    assert second.exit_code == 0, second.output
    assert _summary(second.stdout)["figures"]["orders"]["total"] > 0
