"""`slob candles`: aggregate, import, export, show through the CLI on real store files."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.aggregator import CandleCompleted, M1Aggregator
from slob_cli.core.models import Candle, Tick

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
CANDLES_CSV = (
    "timestamp,open,high,low,close,volume\n"
    "2026-01-06T14:30:00Z,21000,21002.5,20999.75,21001,12\n"
    "2026-01-06T15:31:00+01:00,21001,21003,21000,21002.25,8\n"
    "1767710040,21002.25,21004,21002,21003.5,5\n"
)


def rows(db_path: Path) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT * FROM candles ORDER BY symbol, ts").fetchall()
    finally:
        conn.close()


def test_import_accepts_z_offset_and_epoch_times_and_twice_changes_nothing(runner, db_path: Path, tmp_path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    first = runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    assert first.exit_code == 0, first.stderr
    assert "Imported 3 candles" in first.stdout
    after_first = rows(db_path)
    second = runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    assert second.exit_code == 0
    assert rows(db_path) == after_first
    with Store.open(db_path) as store:
        assert [c.ts for c in store.candles("NQ")] == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)]


def test_import_skip_bad_imports_good_rows_and_reports_skipped(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV + "2026-01-06T14:40:00Z,abc,1,1,1,1\n")
    result = runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ", "--skip-bad"])
    assert result.exit_code == 0
    assert "Imported 3 candles from nq.csv; skipped 1 bad row." in result.stdout  # was "1 bad rows"
    assert "line 5: open 'abc' is not a number" in result.stderr
    assert len(rows(db_path)) == 3


def test_imported_candles_without_tick_count_are_not_synthetic(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    with Store.open(db_path) as store:
        assert not any(c.synthetic for c in store.candles("NQ"))


def test_export_csv_round_trips_through_import(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    exported = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--symbol", "NQ"])
    assert exported.exit_code == 0
    lines = exported.stdout.splitlines()
    assert lines[0] == "timestamp,symbol,open,high,low,close,volume,tick_count,dropped_ticks"
    assert lines[1].startswith("2026-01-06T14:30:00Z,NQ,21000.0,21002.5")
    (tmp_path / "back.csv").write_text(exported.stdout)
    other = tmp_path / "other.db"
    assert runner.invoke(app, ["--db", str(other), "candles", "import", "back.csv"]).exit_code == 0
    assert rows(other) == rows(db_path)


def test_export_jsonl_in_another_zone_with_range(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    result = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", "jsonl", "--tz",
                                 "America/New_York", "--from", "2026-01-06T14:31:00Z", "--to", "2026-01-06T14:34:00Z"])
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["timestamp"] for r in records] == ["2026-01-06T09:31:00-05:00"]


def test_export_parquet_to_file_keeps_utc_instants(runner, db_path: Path, tmp_path: Path) -> None:
    import pandas as pd

    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    result = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", "parquet", "-o", "c.parquet"])
    assert result.exit_code == 0 and "Exported 3 candles to c.parquet" in result.stderr
    frame = pd.read_parquet(tmp_path / "c.parquet")
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-01-06T14:30:00Z")
    other = tmp_path / "other.db"
    assert runner.invoke(app, ["--db", str(other), "candles", "import", "c.parquet"]).exit_code == 0
    assert [r[:7] for r in rows(other)] == [r[:7] for r in rows(db_path)]


def test_aggregate_stored_ticks_writes_the_streaming_candles(runner, db_path: Path) -> None:
    ticks = [Tick("NQ", T0 + timedelta(seconds=s), 21000 + s / 4, 1.0) for s in range(0, 300, 7)]
    with Store.open(db_path) as store:
        store.insert_ticks(ticks)
    aggregator = M1Aggregator(["NQ"])
    expected = [e.candle for t in ticks for e in aggregator.on_tick(t) if isinstance(e, CandleCompleted)]
    expected += [e.candle for e in aggregator.force_complete_all()]
    result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["ticks"], report["candles"], report["late_ticks"]) == (len(ticks), 5, 0)
    with Store.open(db_path) as store:
        assert store.candles("NQ") == expected


def test_aggregate_over_a_range_that_cuts_minutes_rebuilds_them_whole(runner, db_path: Path, tmp_path: Path) -> None:
    ticks = [Tick("NQ", T0 + timedelta(seconds=s), 21000 + s / 4, 1.0) for s in range(0, 300, 7)]
    with Store.open(db_path) as store:
        store.insert_ticks(ticks)
    assert runner.invoke(app, ["--db", str(db_path), "candles", "aggregate"]).exit_code == 0
    whole = rows(db_path)
    # 14:31:30 .. 14:32:30 cuts two minutes: each is rebuilt from all of its ticks, never from half of them.
    for args in (["--from", "2026-01-06T14:31:30Z", "--to", "2026-01-06T14:32:30Z"], ["--ticks-file", "t.csv"]):
        if args[0] == "--ticks-file":
            (tmp_path / "t.csv").write_text("timestamp,price,size,symbol\n" + "".join(
                f"{t.ts.isoformat().replace('+00:00', 'Z')},{t.price},{t.size},NQ\n" for t in ticks))
            args += ["--from", "2026-01-06T14:31:30Z", "--to", "2026-01-06T14:32:30Z"]
        result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--json", *args])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["candles"] == 2
        assert rows(db_path) == whole


def test_aggregate_leaves_the_live_candles_it_rebuilds_equal_as_they_are_source_too(runner, db_path: Path) -> None:
    """A sim run's live bars stay live (its re-run replaces them); only a bar the ticks say otherwise is replaced."""
    ticks = [Tick("NQ", T0 + timedelta(seconds=s), 21000 + s / 4, 1.0) for s in range(0, 300, 7)]
    aggregator = M1Aggregator(["NQ"])
    live = [e.candle for t in ticks for e in aggregator.on_tick(t) if isinstance(e, CandleCompleted)]
    live += [e.candle for e in aggregator.force_complete_all()]
    wrong = Candle("NQ", live[-1].ts, 1.0, 1.0, 1.0, 1.0, 1.0, 1)
    with Store.open(db_path) as store:
        store.insert_ticks(ticks)
        store.upsert_candles([*live[:-1], wrong], source="live")
    assert runner.invoke(app, ["--db", str(db_path), "candles", "aggregate"]).exit_code == 0
    sources = [row[9] for row in rows(db_path)]
    assert sources == ["live"] * (len(live) - 1) + ["aggregate"]
    with Store.open(db_path) as store:
        assert store.candles("NQ") == live


def test_aggregate_ticks_file_with_symbol_flag(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("timestamp,price,size\n2026-01-06T14:30:01Z,21000,1\n"
                                    "2026-01-06T14:30:02Z,21001,2\n2026-01-06T14:33:00Z,21002,1\n")
    result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--ticks-file", "t.csv",
                                 "--symbol", "mnq", "--fill-gaps", "2"])
    assert result.exit_code == 0, result.stderr
    assert "Aggregated 3 ticks from t.csv into 4 candles (2 synthetic, 1 gaps" in result.stdout
    with Store.open(db_path) as store:
        assert store.candles("MNQ")[0] == Candle("MNQ", T0, 21000.0, 21001.0, 21000.0, 21001.0, 3.0, 2)


def test_aggregate_ticks_file_with_symbol_names_the_ticks_of_other_symbols_it_left_out(runner, db_path: Path,
                                                                                       tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("timestamp,price,size,symbol\n2026-01-06T14:30:01Z,21000,1,NQ\n"
                                    "2026-01-06T14:30:02Z,21001,2,MNQ\n2026-01-06T14:30:03Z,21002,1,NQ\n")
    args = ["--db", str(db_path), "candles", "aggregate", "--ticks-file", "t.csv", "--symbol", "MNQ"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("late ticks skipped); left out 2 ticks of other symbols (NQ).\n"), result.stdout
    assert json.loads(runner.invoke(app, [*args, "--json"]).stdout)["other_symbols"] == {"NQ": 2}


@pytest.mark.parametrize(("command", "text", "ends"), [
    (["import", "nq.csv", "--symbol", "NQ"],
     "timestamp,open,high,low,close,volume,VWAP,exchange\n2026-01-06T14:30:00Z,21000,21002.5,20999.75,21001,12,21001.1,CME\n",
     "Imported 1 candle from nq.csv"),
    (["aggregate", "--ticks-file", "nq.csv", "--symbol", "NQ"],
     "timestamp,price,size,vwap,exchange\n2026-01-06T14:30:01Z,21000,1,21000,CME\n", "late ticks skipped)"),
], ids=["import", "aggregate-ticks-file"])
def test_foreign_columns_of_a_file_are_named_as_ignored(runner, db_path: Path, tmp_path: Path, command: list[str],
                                                        text: str, ends: str) -> None:
    (tmp_path / "nq.csv").write_text(text)
    args = ["--db", str(db_path), "candles", *command]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(f"{ends}; ignored columns slob does not read: vwap, exchange.\n"), result.stdout
    assert json.loads(runner.invoke(app, [*args, "--json"]).stdout)["ignored_columns"] == ["vwap", "exchange"]


def test_show_renders_in_display_zone_and_json_in_utc(runner, db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=m), 1.0, 2.0, 0.5, 1.5, 3.0, 4) for m in range(30)])
    table = runner.invoke(app, ["--db", str(db_path), "candles", "show", "-n", "3"])
    assert table.exit_code == 0
    assert "2026-01-06 15:59" in table.stdout and "15:56" not in table.stdout  # Stockholm = UTC+1
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "candles", "show", "-n", "2", "--json"]).stdout)
    assert [d["timestamp"] for d in data] == ["2026-01-06T14:58:00Z", "2026-01-06T14:59:00Z"]


def test_show_prints_volumes_whole_not_in_scientific_notation(runner, db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0, 1.0, 2.0, 0.5, 1.5, 1_234_567.0, 4),
                              Candle("NQ", T0 + timedelta(minutes=1), 1.0, 2.0, 0.5, 1.5, 10.5, 4)])
    result = runner.invoke(app, ["--db", str(db_path), "candles", "show"])
    assert result.exit_code == 0
    assert "1,234,567" in result.stdout and "10.5" in result.stdout and "e+06" not in result.stdout  # was 1.23457e+06


def test_stats_json_lists_rows_and_spans(runner, db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0, 1.0, 2.0, 0.5, 1.5, 3.0, 4)])
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "candles", "stats", "--json"]).stdout)
    assert data["rows"]["candles"] == 1
    assert data["symbols"]["NQ"]["candles"]["first"] == "2026-01-06T14:30:00Z"


def test_stats_table_shows_rows_and_time_span_per_symbol(runner, db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=m), 1.0, 2.0, 0.5, 1.5, 3.0, 4) for m in range(3)])
    result = runner.invoke(app, ["--db", str(db_path), "candles", "stats"])
    assert result.exit_code == 0
    # In the display zone (Stockholm, UTC+1) like every other table, and labelled; --json keeps UTC.
    assert "2026-01-06 15:30:00" in result.stdout and "2026-01-06 15:32:00" in result.stdout
    assert "times in Europe/Stockholm" in result.stdout and "14:30" not in result.stdout


def test_stats_names_the_store_on_one_line_however_long_its_path(runner, tmp_path: Path) -> None:
    """As the title of the two-column table, the path, schema and size wrapped over several lines."""
    db = tmp_path / ("a-rather-long-directory-name-for-the-store-" * 2) / "slob.db"
    with Store.open(db) as store:
        store.upsert_candles([Candle("NQ", T0, 1.0, 2.0, 0.5, 1.5, 3.0, 4)])
    result = runner.invoke(app, ["--db", str(db), "candles", "stats"])
    assert result.exit_code == 0
    size = db.stat().st_size
    assert f"Store {db} (schema v" in result.stdout and f", {size:,} bytes)\n" in result.stdout
    assert result.stdout.splitlines()[0].startswith(f"Store {db} (schema v")


@pytest.mark.parametrize("command", [["stats"], ["aggregate"]], ids=["stats", "aggregate-stored-ticks"])
def test_a_reader_of_a_missing_store_exits_3_and_creates_nothing(runner, tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo" / "slob.db"
    result = runner.invoke(app, ["--db", str(missing), "candles", *command, "--json"])
    assert result.exit_code == 3
    assert result.stderr == f"Error: database '{missing}' does not exist\n" and result.stdout == ""
    assert not missing.parent.exists()


def test_import_with_symbol_names_the_rows_of_other_symbols_it_left_out(runner, db_path: Path, tmp_path) -> None:
    (tmp_path / "both.csv").write_text(
        "timestamp,symbol,open,high,low,close,volume\n"
        "2026-01-06T14:30:00Z,NQ,1,2,0.5,1.5,10\n2026-01-06T14:30:00Z,MNQ,1,2,0.5,1.5,10\n"
        "2026-01-06T14:31:00Z,NQ,1,2,0.5,1.5,10\n")
    result = runner.invoke(app, ["--db", str(db_path), "candles", "import", "both.csv", "--symbol", "MNQ"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 1 candle from both.csv; left out 2 rows of other symbols (NQ).\n"
    report = json.loads(runner.invoke(
        app, ["--db", str(db_path), "candles", "import", "both.csv", "--symbol", "MNQ", "--json"]).stdout)
    assert (report["imported"], report["other_symbols"]) == (1, {"NQ": 2})
    assert [row[:2] for row in rows(db_path)] == [("MNQ", 1767709800000000)]


def test_show_and_stats_off_a_terminal_print_every_number_whole(runner, db_path: Path) -> None:
    """80 columns (rich's width off a terminal) cut tick counts to '1,2…' and tick times and counts in stats."""
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=m), 22743.75, 22746.25, 22728.75, 22730.5,
                                     29610.0, 1_234_567) for m in range(3)])
        store.insert_ticks([Tick("NQ", T0 + timedelta(microseconds=3321 + i), 22743.75, 1.0) for i in range(1200)])
    show = runner.invoke(app, ["--db", str(db_path), "candles", "show", "-n", "3"])
    stats = runner.invoke(app, ["--db", str(db_path), "candles", "stats"])
    assert show.exit_code == stats.exit_code == 0
    assert "…" not in show.stdout + stats.stdout
    assert show.stdout.count("1,234,567") == 3 and "22,746.25" in show.stdout
    assert "2026-01-06 15:30:00" in stats.stdout and "1,200" in stats.stdout


def test_import_over_stored_candles_counts_new_replaced_and_unchanged_and_keeps_the_unchanged(
        runner, db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=m), 1.0, 2.0, 0.5, 1.5, 3.0, 4) for m in range(3)])
    (tmp_path / "c.csv").write_text(
        "timestamp,symbol,open,high,low,close,volume,tick_count\n"
        "2026-01-06T14:30:00Z,NQ,1,2,0.5,1.5,3,4\n"  # as stored
        "2026-01-06T14:31:00Z,NQ,1,2,0.5,1.75,3,4\n"  # another close: replaces the live candle
        "2026-01-06T14:35:00Z,NQ,1,2,0.5,1.5,3,4\n")  # new
    result = runner.invoke(app, ["--db", str(db_path), "candles", "import", "c.csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ("Imported 3 candles from c.csv (1 new, 1 replaced a stored candle with other values,"
                             " 1 unchanged).\n")
    assert [(row[1], row[5], row[9]) for row in rows(db_path)] == [
        (1767709800000000, 1.5, "live"), (1767709860000000, 1.75, "import"), (1767709920000000, 1.5, "live"),
        (1767710100000000, 1.5, "import")]
    again = json.loads(runner.invoke(app, ["--db", str(db_path), "candles", "import", "c.csv", "--json"]).stdout)
    assert (again["imported"], again["new"], again["replaced"], again["unchanged"]) == (3, 0, 0, 3)


def test_an_ohlcv_file_equal_to_stored_candles_keeps_their_tick_counts(runner, db_path: Path, tmp_path: Path) -> None:
    """A file without tick_count (-1, unknown) no longer wipes the known counts of the same bars."""
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0, 1.0, 2.0, 0.5, 1.5, 3.0, 4, dropped_ticks=1)])
    before = rows(db_path)
    (tmp_path / "c.csv").write_text("timestamp,symbol,open,high,low,close,volume\n2026-01-06T14:30:00Z,NQ,1,2,0.5,1.5,3\n")
    result = runner.invoke(app, ["--db", str(db_path), "candles", "import", "c.csv", "--json"])
    assert result.exit_code == 0, result.stderr
    assert (json.loads(result.stdout)["unchanged"], rows(db_path)) == (1, before)


def test_export_into_a_missing_directory_creates_it(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    for fmt in ("csv", "parquet", "jsonl"):
        target = tmp_path / "out" / fmt / f"nq.{fmt}"
        result = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.stderr
        assert target.exists() and "Exported 3 candles" in result.stderr


def test_export_into_a_path_under_a_file_fails_with_one_line_exit_2(runner, db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "nq.csv").write_text(CANDLES_CSV)
    runner.invoke(app, ["--db", str(db_path), "candles", "import", "nq.csv", "--symbol", "NQ"])
    for fmt in ("csv", "jsonl"):
        result = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", fmt,
                                     "-o", str(tmp_path / "nq.csv" / f"x.{fmt}")])
        assert result.exit_code == 2 and result.stderr.startswith("Error: cannot create the directory")
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
