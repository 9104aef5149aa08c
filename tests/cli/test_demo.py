"""`slob demo`: a seeded session streamed through buffer, aggregator and bus into the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.runtime.batch import aggregate_store
from slob_cli.runtime.demo import synthetic_session


def test_demo_stores_ticks_and_streaming_candles_equal_to_batch(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "30", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    with Store.open(db_path) as store:
        assert store.tick_count("NQ") == report["ticks"] > 0
        stored = store.candles("NQ")
        assert len(stored) == report["candles"]
        assert stored == aggregate_store(store, ["NQ"]).candles
        assert store.runs()[0]["command"] == "demo" and store.runs()[0]["exit_code"] == 0


def test_demo_is_seeded_and_rerun_replaces_its_session(runner, db_path: Path) -> None:
    first = json.loads(runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "20", "--json"]).stdout)
    second = json.loads(runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "20", "--json"]).stdout)
    first.pop("elapsed_seconds"), second.pop("elapsed_seconds")
    assert first == second
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM ticks").fetchone()[0] == first["ticks"]
    conn.close()


def test_demo_table_summarises_session_in_display_zone(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "10"])
    assert result.exit_code == 0
    assert "2026-01-06 15:30 - 15:40 Europe/Stockholm" in result.stdout
    assert "M1 candles" in result.stdout


def test_different_seeds_give_different_sessions() -> None:
    assert synthetic_session(1, minutes=5) != synthetic_session(2, minutes=5)
    assert synthetic_session(3, minutes=5) == synthetic_session(3, minutes=5)


def test_demo_refuses_a_window_holding_data_it_did_not_write_and_changes_nothing(runner, db_path: Path) -> None:
    """`slob demo` on a store with a recorded session of that day deleted its ticks and overwrote its candles."""
    from datetime import datetime, timedelta, timezone

    from slob_cli.core.models import Candle, Tick

    t0 = datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc)
    with Store.open(db_path) as store:
        store.insert_ticks([Tick("NQ", t0 + timedelta(seconds=s), 25000.0, 1.0) for s in range(0, 120, 10)], run_id=None)
        store.upsert_candles([Candle("NQ", t0 + timedelta(minutes=m), 25000.0, 25000.0, 25000.0, 25000.0, 6.0, 6)
                              for m in range(2)], source="live")
    read = "SELECT * FROM {} ORDER BY 1, 2"
    with sqlite3.connect(db_path) as conn:
        before = [conn.execute(read.format(table)).fetchall() for table in ("ticks", "candles")]
    result = runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "10"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] + "\n" == (f"Error: {db_path} already holds NQ data of 2026-01-06 15:30 - 15:40 Europe/Stockholm that"
                             " the demo did not write (12 ticks, 2 live candles), which it would replace: use another"
                             " --db\n")
    assert "Traceback" not in result.stderr and result.stderr.count("Error:") == 1
    with sqlite3.connect(db_path) as conn:
        assert [conn.execute(read.format(table)).fetchall() for table in ("ticks", "candles")] == before
    # Its own session, and candles aggregated from its ticks, it replaces as before.
    other = db_path.with_name("own.db")
    assert runner.invoke(app, ["--db", str(other), "demo", "--minutes", "10"]).exit_code == 0
    assert runner.invoke(app, ["--db", str(other), "candles", "aggregate"]).exit_code == 0
    assert runner.invoke(app, ["--db", str(other), "demo", "--minutes", "10"]).exit_code == 0


def test_demo_with_another_seed_and_fewer_minutes_replaces_the_whole_day_of_the_first(runner, db_path: Path) -> None:
    """A second demo of 10 minutes left the first one's candles and ticks of minutes 10-60 in the store: two seeds."""
    first = runner.invoke(app, ["--db", str(db_path), "demo", "--seed", "1", "--minutes", "60", "--json"])
    assert first.exit_code == 0, first.stderr
    second = runner.invoke(app, ["--db", str(db_path), "demo", "--seed", "2", "--minutes", "10", "--json"])
    assert second.exit_code == 0, second.stderr
    report = json.loads(second.stdout)
    with Store.open(db_path) as store:
        stored_ticks = list(store.iter_ticks("NQ"))
        assert stored_ticks == synthetic_session(2, minutes=10)
        stored = store.candles("NQ")
        assert len(stored) == report["candles"] == 10
        assert stored == aggregate_store(store, ["NQ"]).candles
        assert store.tick_count() == report["ticks"]
    conn = sqlite3.connect(db_path)
    try:
        second_run = conn.execute("SELECT max(id) FROM runs WHERE command='demo'").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM ticks WHERE run_id<>?", (second_run,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM events WHERE type='gap' AND run_id<>?", (second_run,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM setups").fetchone()[0] == 0
    finally:
        conn.close()


def test_a_refused_demo_leaves_what_every_refused_start_leaves(runner, db_path: Path) -> None:
    """Refused at its start, on the store that existed: its row with the exit code, quietly (one Error line).

    Run and paper refused at the start (tests/cli/test_guard.py) do; the demo logged "run 1: slob demo
    started ... ended with exit code 2" around its Error line, and ran its block (alerts, logs) first.
    """
    from datetime import datetime, timedelta, timezone

    from slob_cli.core.models import Tick

    t0 = datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc)
    with Store.open(db_path) as store:
        store.insert_ticks([Tick("NQ", t0 + timedelta(seconds=s), 25000.0, 1.0) for s in range(0, 60, 10)], run_id=None)
    results = [runner.invoke(app, ["--db", str(db_path), *args])
               for args in (["demo", "--minutes", "10"], ["run", "--sim", "--date", "1990-01-02"])]
    assert [r.exit_code for r in results] == [2, 2], [r.output for r in results]
    for result in results:
        assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, result.stderr
    with Store.open(db_path, readonly=True) as store:
        rows = [dict(row) for row in store.runs()]
    assert [(row["command"], row["exit_code"]) for row in rows] == [("run", 2), ("demo", 2)]
    assert rows[0]["args"] == rows[1]["args"] and rows[0]["stats"] == rows[1]["stats"], rows


def test_status_after_a_demo_reads_the_wall_clock_its_run_was_stamped_on(runner, db_path: Path) -> None:
    """`status` on a demo store read "now" from the demo's last tick (2026-01-06 21:59:59) and called it the
    simulated clock of sim run 1, while the demo's run row was stamped on the wall clock: its end lay
    eleven months after "now". The demo runs on this machine's clock, as its run row says."""
    assert runner.invoke(app, ["--db", str(db_path), "demo", "--minutes", "10"]).exit_code == 0
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    assert result.exit_code == 0, result.stderr
    status = json.loads(result.stdout)
    (run,) = status["runs"]
    assert status["clock"]["simulated"] is False and status["clock"]["label"] is None
    assert run["started_at"] <= run["ended_at"] <= status["now"]
    assert "simulated clock" not in runner.invoke(app, ["--db", str(db_path), "status"]).stdout
