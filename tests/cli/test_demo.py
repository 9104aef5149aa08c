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
