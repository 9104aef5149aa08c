"""`slob report`: judge a stored paper run, write its files, exit 0 or 5; duration parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.cli.options import parse_duration
from slob_cli.errors import UsageError
from tests.opsdata import record_run


def test_report_of_clean_stored_run_passes_and_writes_files_beside_db(
    runner: CliRunner, db_path: Path, store: Store
) -> None:
    run_id = record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--no-replay"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Validation: PASSED" in result.stdout
    markdown = db_path.with_name(f"test-paper-run{run_id}.md")
    assert markdown.is_file() and markdown.with_suffix(".json").is_file()
    assert f"Report: {markdown}" in result.stdout


def test_a_report_file_that_cannot_be_written_exits_2_with_one_line(
    runner: CliRunner, db_path: Path, store: Store, tmp_path: Path
) -> None:
    record_run(store)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["--db", str(db_path), "report", "--no-replay", "--report", str(blocker / "r")])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr and "unexpected" not in errors[0], result.stderr
    assert "cannot write the report" in errors[0] and str(blocker) in errors[0]
    # `paper` refuses it before its run starts, not after 24 hours.
    paper = runner.invoke(app, ["--db", str(db_path), "paper", "--sim", "--duration", "1h", "--report",
                                str(blocker / "r")])
    assert paper.exit_code == 2 and "cannot write the report" in paper.stderr, paper.output
    assert "started" not in paper.stderr and len(store.runs(10)) == 1, "no run began"


def test_paper_refuses_a_report_place_it_only_finds_unwritable_by_writing(
    runner: CliRunner, db_path: Path, store: Store, tmp_path: Path
) -> None:
    # The parent is writable but r.md is a directory (or, for root, --report /proc/x: access() says yes):
    # the whole run ran, then ended with exit 2 and no report.
    (tmp_path / "r.md").mkdir()
    paper = runner.invoke(app, ["--db", str(db_path), "paper", "--sim", "--duration", "1h", "--report",
                                str(tmp_path / "r")])
    assert paper.exit_code == 2, paper.output
    assert paper.stderr.strip() == f"Error: cannot write the report to {tmp_path / 'r'}.md and .json: " \
                                   f"{tmp_path / 'r.md'} is a directory"
    assert store.runs(10) == [], "no run began"


def test_a_paper_run_still_running_is_not_judged_a_crash(runner: CliRunner, db_path: Path, store: Store) -> None:
    from datetime import datetime, timezone

    from slob_cli.runtime.lock import acquire

    run_id = store.start_run("paper", {"duration": "24"}, datetime.now(timezone.utc))  # this process's pid
    with acquire(db_path, "paper"):
        result = runner.invoke(app, ["--db", str(db_path), "report", "--no-replay"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and f"run {run_id} is still running" in errors[0], result.stderr
    assert not db_path.with_name(f"test-paper-run{run_id}.md").exists(), "no FAILED report for a healthy run"


def test_strict_report_fails_with_exit_5_and_names_warnings(runner: CliRunner, db_path: Path, store: Store,
                                                              tmp_path: Path) -> None:
    record_run(store)
    out = tmp_path / "out" / "verdict"
    result = runner.invoke(app, ["--db", str(db_path), "report", "--strict", "--json", "--report", str(out),
                                 "--no-replay"])
    assert result.exit_code == 5
    data = json.loads(result.stdout)
    assert data["verdict"] == "FAILED: connection stable, no gaps, no dropped ticks, no look-ahead"
    assert json.loads((tmp_path / "out" / "verdict.json").read_text())["passed"] is False


def test_report_with_longer_target_than_run_fails_duration(runner: CliRunner, db_path: Path, store: Store) -> None:
    record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--duration", "2d", "--json", "--no-replay"])
    assert result.exit_code == 5
    failed = [c for c in json.loads(result.stdout)["criteria"] if not c["passed"] and c["severity"] == "error"]
    assert [(c["name"], c["detail"]) for c in failed] == [("duration reached", "ran 24.00 h of 48.00 h")]


def test_report_without_paper_run_exits_2_with_one_line(runner: CliRunner, db_path: Path, store: Store) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "report"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: no 'paper' run in the store"


def test_report_of_a_run_id_not_in_the_store_says_so(runner: CliRunner, db_path: Path, store: Store) -> None:
    record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--run", "99"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: run 99 is not in the store"  # was: "recorded no duration"


def test_bad_duration_exits_2_naming_the_value(runner: CliRunner, db_path: Path, store: Store) -> None:
    record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--duration", "soon"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --duration 'soon' is not a duration (e.g. 24, 90m, 36h, 2d, 1h30m)"


@pytest.mark.parametrize(("text", "seconds"), [("24", 86_400), ("1.5", 5_400), ("90m", 5_400), ("36h", 129_600),
                                               ("2d", 172_800), ("30s", 30), (" 2D ", 172_800), ("1h30m", 5_400)])
def test_parse_duration_reads_hours_and_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-3", "h", "inf", "nan", "1x", "1h 30m", "m30"])
def test_parse_duration_rejects_non_positive_or_unreadable(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_finish_validation_alerts_the_verdict_with_report_path(store: Store, tmp_path: Path) -> None:
    from slob_cli.adapters.alerts import Notifier
    from slob_cli.runtime.paper_report import finish_validation
    from tests.alert_plugins import RECEIVED
    from tests.opsdata import END

    RECEIVED.clear()
    run_id = record_run(store, duplicate_placement=True)
    notifier = Notifier(["slobcapture://token"])
    outcome = finish_validation(store, run_id, 24 * 3600, END, tmp_path / "r", notifier=notifier)
    notifier.close()
    assert (outcome.passed, outcome.exit_code) == (False, 5)
    assert [(r["title"], r["type"]) for r in RECEIVED] == [("slob: paper validation failed", "failure")]
    assert RECEIVED[0]["body"] == f"FAILED: no duplicate orders\nreport: {tmp_path / 'r.md'}"


def test_report_replays_the_tracker_and_passes_strict_on_a_clean_tracked_day(
    runner: CliRunner, db_path: Path, store: Store
) -> None:
    from tests.runtime.test_lookahead_replay import live_day

    run_id = live_day(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--strict", "--json"])
    assert result.exit_code == 0, result.output
    look_ahead = [c for c in json.loads(result.stdout)["criteria"] if c["name"] == "no look-ahead"]
    assert look_ahead[0]["passed"] is True and "live events equal the offline replay" in look_ahead[0]["detail"]
    assert json.loads(result.stdout)["meta"]["run"] == run_id


def test_report_replay_catches_hand_made_events_the_candles_do_not_give(
    runner: CliRunner, db_path: Path, store: Store
) -> None:
    record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--json"])
    assert result.exit_code == 5
    failed = [c["name"] for c in json.loads(result.stdout)["criteria"] if not c["passed"] and c["severity"] == "error"]
    assert failed == ["no look-ahead"]


def test_report_json_prints_exactly_the_json_file_it_writes(runner: CliRunner, db_path: Path, store: Store) -> None:
    # --json printed "meta": {"run": N} while the file beside the db held run, database, judged_at, target_hours...
    run_id = record_run(store)
    result = runner.invoke(app, ["--db", str(db_path), "report", "--no-replay", "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(db_path.with_name(f"test-paper-run{run_id}.json").read_text())
    assert json.loads(result.stdout) == written and written["meta"]["run"] == run_id
    assert set(written["meta"]) >= {"database", "judged_at", "target_hours"}


def test_a_trade_a_few_points_up_that_lost_its_commission_is_a_loss_in_the_report_and_on_the_web(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    """+0.25 points on 1 MNQ is $0.50 gross, -$0.74 after $1.24 commission: one rule (core/pnl.won) counts it."""
    import sqlite3

    from slob_cli.runtime.web_views import trades_history

    record_run(store)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE trades SET symbol='MNQ', status='CLOSED', exit_price=25449.25, exit_time=?,"
                     " exit_reason='flatten', pnl_points=0.25, gross_money=0.5, commission=1.24, pnl_money=-0.74"
                     " WHERE setup_id='s1'", (1767712800000000,))
    result = runner.invoke(app, ["--db", str(db_path), "report", "--no-replay", "--json"])
    trades = json.loads(result.stdout)["figures"]["trades"]
    assert (trades["closed"], trades["wins"], trades["losses"]) == (1, 0, 1), trades
    assert trades_history(store)["wins"] == trades["wins"]


def test_a_paper_run_that_died_is_judged_on_what_it_recorded_not_until_now(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    # A 24 h run killed (SIGKILL, a power cut) 3 h in, judged days later: it ran 3 h, not "until now".
    from datetime import timedelta

    from tests.opsdata import START

    run_id = store.start_run("paper", {"duration": "24"}, START)
    store.log_event("DISCONNECTED", START + timedelta(hours=2), {"code": 1100}, run_id=run_id)
    store.log_event("RECONNECTED", START + timedelta(hours=2, seconds=40), {}, run_id=run_id)
    store.record_health(run_id, START + timedelta(hours=3), {"connected": True, "last_tick_age": 1.0,
                                                             "buffer_utilization": 0.0, "open_orders": 0,
                                                             "positions": 0})
    store.log_event("DISCONNECTED", START + timedelta(hours=9), {}, run_id=run_id + 1)  # another run's
    result = runner.invoke(app, ["--db", str(db_path), "report", "--json", "--no-replay"])
    assert result.exit_code == 5, result.output
    criteria = {c["name"]: (c["passed"], c["detail"]) for c in json.loads(result.stdout)["criteria"]}
    assert criteria["no crash"] == (False, "the run has no end record")
    assert criteria["duration reached"] == (False, "ran 3.00 h of 24.00 h"), criteria["duration reached"]


def test_a_died_run_is_judged_up_to_its_newest_tick_when_that_is_later_than_its_last_heartbeat(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    """A `run --sim` killed with -9 stored ticks (and a candle) for a minute after its last heartbeat; status
    read its clock up to that tick, report judged it only up to the heartbeat ("ran 2.25 h", status 2.27 h)."""
    from datetime import timedelta

    from slob_cli.core.models import Tick
    from tests.opsdata import START

    run_id = store.start_run("paper", {"duration": "24"}, START)
    store.record_health(run_id, START + timedelta(hours=3), {"connected": True, "last_tick_age": 1.0,
                                                             "buffer_utilization": 0.0, "open_orders": 0,
                                                             "positions": 0})
    store.insert_ticks([Tick("NQ", START + timedelta(hours=3, minutes=m), 25400.0, 1) for m in (5, 30)],
                       run_id=run_id)
    store.insert_ticks([Tick("NQ", START + timedelta(hours=9), 25400.0, 1)], run_id=run_id + 1)  # another run's
    result = runner.invoke(app, ["--db", str(db_path), "report", "--json", "--no-replay"])
    assert result.exit_code == 5, result.output
    criteria = {c["name"]: (c["passed"], c["detail"]) for c in json.loads(result.stdout)["criteria"]}
    assert criteria["duration reached"] == (False, "ran 3.50 h of 24.00 h"), criteria["duration reached"]
