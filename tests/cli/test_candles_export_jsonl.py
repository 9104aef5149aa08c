"""`slob candles export --format jsonl` through the CLI: exact floats, the old bytes for ordinary prices."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.adapters.test_export_jsonl import _pandas_jsonl

FIELDS = ["timestamp", "symbol", "open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]
# Each of these loses digits in pandas' to_json (10 significant digits): a price off the tick grid, a vwap-like volume.
UNROUNDED_CSV = (
    "timestamp,symbol,open,high,low,close,volume,tick_count\n"
    "2026-01-06T14:30:00Z,NQ,21234.123456789012,21240.987654321098,21230.000000000004,21235.5,1234.5678901234567,17\n"
    "2026-01-06T14:31:00Z,NQ,21235.5,21236.25,21233.333333333332,21234.1,0.30000000000000004,3\n"
)


def _export_jsonl(runner, db: Path, *extra: str) -> str:
    result = runner.invoke(app, ["--db", str(db), "candles", "export", "--format", "jsonl", *extra])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_an_unrounded_price_survives_jsonl_export_import_and_export_byte_for_byte(runner, tmp_path: Path) -> None:
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"
    (tmp_path / "in.csv").write_text(UNROUNDED_CSV)
    assert runner.invoke(app, ["--db", str(first_db), "candles", "import", "in.csv"]).exit_code == 0
    exported = _export_jsonl(runner, first_db)
    records = [json.loads(line) for line in exported.splitlines()]
    assert [(r["open"], r["low"], r["volume"]) for r in records] == [
        (21234.123456789012, 21230.000000000004, 1234.5678901234567), (21235.5, 21233.333333333332, 0.30000000000000004)]
    # `candles import` reads csv and parquet: carry the jsonl values over as text, untouched.
    with open(tmp_path / "back.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        writer.writerows([[json.dumps(record[name]).strip('"') for name in FIELDS] for record in records])
    assert runner.invoke(app, ["--db", str(second_db), "candles", "import", "back.csv"]).exit_code == 0
    assert _export_jsonl(runner, second_db) == exported
    read = "SELECT open, high, low, close, volume FROM candles ORDER BY ts"
    with sqlite3.connect(first_db) as first, sqlite3.connect(second_db) as second:
        assert first.execute(read).fetchall() == second.execute(read).fetchall()


def test_the_demo_store_exports_the_bytes_the_pandas_path_wrote(runner, db_path: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["--db", str(db_path), "demo", "--json"]).exit_code == 0  # the default 390 minutes
    with Store.open(db_path) as store:
        rows = list(store.candle_export_rows())
    assert len(rows) == 390
    assert _export_jsonl(runner, db_path) == _pandas_jsonl(rows, None)
    assert _export_jsonl(runner, db_path, "--tz", "Europe/Stockholm") == _pandas_jsonl(rows, ZoneInfo("Europe/Stockholm"))
    out = tmp_path / "out" / "nq.jsonl"
    result = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", "jsonl", "-o", str(out)])
    assert result.exit_code == 0 and "Exported 390 candles" in result.stderr
    assert out.read_text(encoding="utf-8") == _pandas_jsonl(rows, None)


def test_without_format_the_output_name_chooses_it_and_format_wins_over_the_name(runner, tmp_path: Path) -> None:
    import pandas as pd

    db = tmp_path / "s.db"
    (tmp_path / "in.csv").write_text(UNROUNDED_CSV)
    assert runner.invoke(app, ["--db", str(db), "candles", "import", "in.csv"]).exit_code == 0
    for name, extra in (("a.jsonl", []), ("b.NDJSON", []), ("c.parquet", []), ("d.pq", []), ("e.txt", []),
                        ("f.jsonl", ["--format", "csv"])):
        result = runner.invoke(app, ["--db", str(db), "candles", "export", "-o", name, *extra])
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.NDJSON").read_text() == _export_jsonl(runner, db)
    for name in ("c.parquet", "d.pq"):
        assert pd.read_parquet(tmp_path / name)["open"].tolist() == [21234.123456789012, 21235.5]
    assert (tmp_path / "e.txt").read_text().startswith("timestamp,symbol,open,")
    assert (tmp_path / "f.jsonl").read_text() == (tmp_path / "e.txt").read_text()


def test_an_exported_jsonl_file_imports_back_and_exports_the_same_bytes(runner, tmp_path: Path) -> None:
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"
    (tmp_path / "in.csv").write_text(UNROUNDED_CSV)
    assert runner.invoke(app, ["--db", str(first_db), "candles", "import", "in.csv"]).exit_code == 0
    exported = _export_jsonl(runner, first_db, "--tz", "America/New_York")
    (tmp_path / "back.jsonl").write_text(exported)
    result = runner.invoke(app, ["--db", str(second_db), "candles", "import", "back.jsonl"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Imported 2 candles from back.jsonl.\n"
    assert _export_jsonl(runner, second_db, "--tz", "America/New_York") == exported
    read = "SELECT * FROM candles ORDER BY ts"
    with sqlite3.connect(first_db) as first, sqlite3.connect(second_db) as second:
        assert first.execute(read).fetchall() == second.execute(read).fetchall()


def test_a_bad_jsonl_line_is_named_and_nothing_is_imported(runner, tmp_path: Path) -> None:
    good = '{"timestamp":"2026-01-06T14:30:00Z","symbol":"NQ","open":1,"high":2,"low":0.5,"close":1.5,"volume":3}\n'
    db = tmp_path / "s.db"
    for text, message in (
        (good + "\n" + good.replace('"open":1', '"open":-1'), "c.jsonl line 3: open -1 is not positive"),
        (good + "[1, 2]\n", "c.jsonl line 2: not a JSON object"),
        (good + "{oops\n", "c.jsonl line 2: not JSON (Expecting property name enclosed in double quotes)"),
        ("\n", "c.jsonl: no records (expected one JSON object a line)"),
    ):
        (tmp_path / "c.jsonl").write_text(text)
        result = runner.invoke(app, ["--db", str(db), "candles", "import", "c.jsonl"])
        assert result.exit_code == 2 and result.stderr == f"Error: {message}\n", result.output
    assert not db.exists() or sqlite3.connect(db).execute("SELECT count(*) FROM candles").fetchone() == (0,)
