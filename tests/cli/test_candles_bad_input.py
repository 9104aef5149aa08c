"""Bad input never half-writes: each case exits non-zero with one line naming the problem, store unchanged."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.schema import SCHEMA_VERSION
from slob_cli.cli.main import app
from slob_cli.core.models import Candle, Tick

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
CANDLE_HEADER = "timestamp,open,high,low,close,volume,symbol\n"
GOOD_CANDLE = "2026-01-06T14:31:00Z,100,101,99,100.5,7,NQ\n"
TICK_HEADER = "timestamp,price,size,symbol\n"
GOOD_TICK = "2026-01-06T14:31:05Z,21000.25,1,NQ\n"


def snapshot(db_path: Path) -> tuple[list, list, int]:
    conn = sqlite3.connect(db_path)
    try:
        return (conn.execute("SELECT * FROM candles ORDER BY symbol, ts").fetchall(),
                conn.execute("SELECT * FROM ticks ORDER BY id").fetchall(),
                int(conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]))
    finally:
        conn.close()


@pytest.fixture
def seeded_db(db_path: Path) -> Path:
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", T0, 100.0, 101.0, 99.0, 100.0, 3.0, 2)])
        store.insert_ticks([Tick("NQ", T0, 100.0, 1.0)])
    return db_path


CASES = [
    # (id, file name, file text, extra args, exit code, message fragment)
    ("nan-price", "c.csv", CANDLE_HEADER + GOOD_CANDLE + "2026-01-06T14:32:00Z,nan,101,99,100,1,NQ\n",
     ["candles", "import"], 2, "c.csv line 3: open 'nan' is not a number"),
    ("negative-volume", "c.csv", CANDLE_HEADER + "2026-01-06T14:32:00Z,100,101,99,100,-4,NQ\n",
     ["candles", "import"], 2, "line 2: volume '-4' is negative"),
    ("naive-timestamp", "c.csv", CANDLE_HEADER + GOOD_CANDLE + GOOD_CANDLE.replace("14:31:00Z", "14:35:00"),
     ["candles", "import"], 2, "line 3: timestamp '2026-01-06T14:35:00' has no time zone"),
    ("unknown-symbol-column", "c.csv", CANDLE_HEADER + GOOD_CANDLE.replace(",NQ", ",ES"),
     ["candles", "import"], 2, "line 2: unknown symbol 'ES'"),
    ("bad-header", "c.csv", "time,o,h,l,c,v\n2026-01-06T14:31:00Z,1,1,1,1,1\n",
     ["candles", "import"], 2, "header must contain timestamp,open,high,low,close,volume"),
    ("bad-timestamp-line-4", "c.csv",
     CANDLE_HEADER + GOOD_CANDLE + GOOD_CANDLE.replace("14:31", "14:32") + "yesterday,1,1,1,1,1,NQ\n",
     ["candles", "import"], 2, "c.csv line 4: timestamp 'yesterday' has no time zone"),
    ("not-minute-start", "c.csv", CANDLE_HEADER + GOOD_CANDLE.replace("14:31:00Z", "14:31:30Z"),
     ["candles", "import"], 2, "is not the start of a minute"),
    ("high-below-close", "c.csv", CANDLE_HEADER + "2026-01-06T14:32:00Z,100,100,99,100.5,1,NQ\n",
     ["candles", "import"], 2, "line 2: high/low do not contain open and close"),
    ("duplicate-minute", "c.csv", CANDLE_HEADER + GOOD_CANDLE + GOOD_CANDLE,
     ["candles", "import"], 2, "line 3: second candle for the same symbol and minute"),
    ("epoch-milliseconds", "c.csv", CANDLE_HEADER + "1767709860000,100,101,99,100,1,NQ\n",
     ["candles", "import"], 2, "out of range for epoch seconds"),
    ("year-9999", "c.csv", CANDLE_HEADER + "9999-12-31T10:00:00Z,100,101,99,100,1,NQ\n",
     ["candles", "import"], 2, "outside the supported dates 1990-01-01..2099-12-31"),
    ("year-0001", "c.csv", CANDLE_HEADER + "0001-01-01T10:00:00Z,100,101,99,100,1,NQ\n",
     ["candles", "import"], 2, "outside the supported dates 1990-01-01..2099-12-31"),
    ("epoch-before-1990", "c.csv", CANDLE_HEADER + "60,100,101,99,100,1,NQ\n",
     ["candles", "import"], 2, "supported dates 1990-01-01..2099-12-31"),
    ("tick-count-1e20", "c.csv", "timestamp,open,high,low,close,volume,symbol,tick_count\n"
     "2026-01-06T14:31:00Z,100,101,99,100,1,NQ,1e20\n",
     ["candles", "import"], 2, "tick_count '1e20' is not a whole number from -1 to 1,000,000,000"),
    ("no-symbol-column", "c.csv", "timestamp,open,high,low,close,volume\n2026-01-06T14:31:00Z,1,1,1,1,1\n",
     ["candles", "import"], 2, "has no symbol column: pass --symbol"),
    ("trailing-comma-on-every-row", "c.csv", CANDLE_HEADER + GOOD_CANDLE.replace("\n", ",\n"),
     ["candles", "import"], 2, "c.csv line 2: 8 fields, but the header has 7"),
    ("extra-field-on-a-later-row", "c.csv", CANDLE_HEADER + GOOD_CANDLE + GOOD_CANDLE.replace("14:31", "14:32")
     .replace("\n", ",5\n"), ["candles", "import"], 2, "c.csv line 3: 8 fields, but the header has 7"),
    ("a-column-twice-in-other-case", "c.csv", CANDLE_HEADER.replace("\n", ",Open\n") + GOOD_CANDLE.replace("\n", ",1\n"),
     ["candles", "import"], 2, "c.csv: column 'open' appears twice (names are read without case)"),
    ("a-mistyped-optional-column", "c.csv", CANDLE_HEADER.replace("\n", ",tickcount\n") + GOOD_CANDLE.replace("\n", ",7\n"),
     ["candles", "import"], 2, "c.csv: unknown column 'tickcount' (did you mean tick_count?)"),
    ("a-mistyped-required-column", "c.csv", CANDLE_HEADER.replace("volume", "volme") + GOOD_CANDLE,
     ["candles", "import"], 2, "c.csv: unknown column 'volme' (did you mean volume?)"),
    ("unknown-extension", "c.txt", CANDLE_HEADER + GOOD_CANDLE, ["candles", "import"], 2, "name it .csv, .parquet or .jsonl"),
    ("empty-file", "c.csv", "", ["candles", "import"], 2, "file is empty"),
    ("missing-file", None, None, ["candles", "import", "nope.csv"], 2, "file 'nope.csv' not found"),
    ("tick-negative-size", "t.csv", TICK_HEADER + GOOD_TICK + "2026-01-06T14:31:06Z,21000.5,-2,NQ\n",
     ["candles", "aggregate", "--ticks-file"], 2, "t.csv line 3: size '-2' is negative"),
    ("tick-nan-price", "t.csv", TICK_HEADER + "2026-01-06T14:31:06Z,NaN,2,NQ\n",
     ["candles", "aggregate", "--ticks-file"], 2, "line 2: price 'NaN' is not a number"),
    ("tick-infinite-price", "t.csv", TICK_HEADER + "2026-01-06T14:31:06Z,inf,2,NQ\n",
     ["candles", "aggregate", "--ticks-file"], 2, "line 2: price 'inf' is not finite"),
    ("tick-zero-price", "t.csv", TICK_HEADER + "2026-01-06T14:31:06Z,0,2,NQ\n",
     ["candles", "aggregate", "--ticks-file"], 2, "line 2: price '0' is not positive"),
    ("tick-naive-timestamp", "t.csv", TICK_HEADER + "2026-01-06 14:31:06,21000,2,NQ\n",
     ["candles", "aggregate", "--ticks-file"], 2, "has no time zone"),
    ("tick-unknown-symbol-flag", "t.csv", "timestamp,price,size\n2026-01-06T14:31:06Z,21000,2\n",
     ["candles", "aggregate", "--symbol", "ES", "--ticks-file"], 2, "--symbol 'ES' is not a known symbol"),
    ("tick-mistyped-symbol-column", "t.csv", TICK_HEADER.replace("symbol", "symbl") + GOOD_TICK,
     ["candles", "aggregate", "--ticks-file"], 2, "t.csv: unknown column 'symbl' (did you mean symbol?)"),
    ("unknown-format", None, None, ["candles", "export", "--format", "xml"], 2, "--format 'xml' is not one of"),
    ("from-after-to", None, None, ["candles", "export", "--from", "2026-01-07", "--to", "2026-01-06"], 2,
     "--from '2026-01-07' is not before --to '2026-01-06' (--to is exclusive)"),  # as typed, not 00:00:00+00:00
    ("one-day-to-itself", None, None, ["candles", "export", "--from", "2026-01-06", "--to", "2026-01-06"], 2,
     "--from '2026-01-06' is not before --to '2026-01-06' (--to is exclusive)"),
    ("from-naive", None, None, ["candles", "export", "--from", "2026-01-07T10:00"], 2, "has no time zone"),
    ("from-garbage", None, None, ["candles", "aggregate", "--from", "soon"], 2, "--from 'soon' is not an ISO-8601"),
    ("unknown-tz", None, None, ["candles", "export", "--tz", "Mars/Olympus"], 2, "--tz 'Mars/Olympus' is not a known"),
    ("parquet-to-stdout", None, None, ["candles", "export", "--format", "parquet"], 2, "pass -o FILE"),
    ("csv-to-a-directory", None, None, ["candles", "export", "-o", "."], 2, "it is a directory"),
    ("parquet-to-a-directory", None, None, ["candles", "export", "--format", "parquet", "-o", "."], 2,
     "it is a directory"),
    ("csv-to-a-full-disk", None, None, ["candles", "export", "-o", "/dev/full"], 3,
     "cannot write '/dev/full': No space left on device; the export is incomplete"),
    ("jsonl-to-a-full-disk", None, None, ["candles", "export", "--format", "jsonl", "-o", "/dev/full"], 3,
     "cannot write '/dev/full': No space left on device; the export is incomplete"),
    ("jsonl-to-a-directory", None, None, ["candles", "export", "--format", "jsonl", "-o", "."], 2,
     "it is a directory"),
    ("jsonl-to-an-unopenable-file", None, None, ["candles", "export", "--format", "jsonl", "-o", "/proc/nq.jsonl"],
     2, "cannot write '/proc/nq.jsonl': No such file or directory"),
    ("csv-to-an-unopenable-file", None, None, ["candles", "export", "-o", "/proc/nq.csv"], 2,
     "cannot write '/proc/nq.csv': No such file or directory"),
]


def _refused(runner, tmp_path: Path, db: Path, file_name: str | None, text: str | None, args: list[str], code: int,
             message: str) -> Any:
    """Write the case's file (if any) beside the store, run the command on db; assert its exit code and message."""
    extra: list[str] = []
    if file_name is not None:
        (tmp_path / file_name).write_text(text or "")
        extra = [file_name]
    result = runner.invoke(app, ["--db", str(db), *args, *extra])
    assert result.exit_code == code, result.output
    assert message in result.stderr
    return result


@pytest.mark.parametrize(("name", "file_name", "text", "args", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_with_one_line_and_leaves_store_unchanged(
    runner, seeded_db: Path, tmp_path: Path, name: str, file_name: str | None, text: str | None,
    args: list[str], code: int, message: str,
) -> None:
    before = snapshot(seeded_db)
    result = _refused(runner, tmp_path, seeded_db, file_name, text, args, code, message)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(seeded_db) == before


@pytest.mark.parametrize("args", [["candles", "import"], ["candles", "aggregate", "--ticks-file"]])
def test_reading_a_directory_says_it_is_one(runner, seeded_db: Path, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "lake.csv").mkdir()
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), *args, "lake.csv"])
    assert result.exit_code == 2
    assert result.stderr == "Error: 'lake.csv' is a directory, not a file\n"
    assert snapshot(seeded_db) == before


def test_a_parquet_row_without_a_timestamp_is_named_as_empty(runner, seeded_db: Path, tmp_path: Path) -> None:
    import pandas as pd

    stamps = pd.to_datetime(["2026-01-06T14:31:00Z", None], utc=True)
    pd.DataFrame({"timestamp": stamps, "open": [100.0, 100.0], "high": [101.0, 101.0], "low": [99.0, 99.0],
                  "close": [100.0, 100.0], "volume": [1.0, 1.0], "symbol": ["NQ", "NQ"]}).to_parquet(tmp_path / "c.parquet")
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), "candles", "import", "c.parquet"])
    assert result.exit_code == 2
    assert result.stderr == "Error: c.parquet row 2: timestamp is empty\n"  # was 'NaT is not the start of a minute'
    assert snapshot(seeded_db) == before


def test_bad_parquet_row_is_named_by_row_number(runner, seeded_db: Path, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"timestamp": ["2026-01-06T14:31:00Z", "2026-01-06T14:32:00Z"], "open": [100.0, -1.0],
                          "high": [101.0, 101.0], "low": [99.0, 99.0], "close": [100.0, 100.0],
                          "volume": [1.0, 1.0], "symbol": ["NQ", "NQ"]})
    frame.to_parquet(tmp_path / "c.parquet")
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), "candles", "import", "c.parquet"])
    assert result.exit_code == 2
    assert "c.parquet row 2: open -1.0 is not positive" in result.stderr
    assert snapshot(seeded_db) == before


SETTING_CASES = [
    ({"SLOB_IB_PORT": "abc"}, "SLOB_IB_PORT = 'abc'"),
    ({"SLOB_IB_PORT": "70000"}, "SLOB_IB_PORT = '70000'"),
    ({"SLOB_DISPLAY_TZ": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"SLOB_SYMBOLS": "NQ,ES"}, "unknown symbol 'ES'"),
    ({"SLOB_LOG_LEVEL": "LOUD"}, "SLOB_LOG_LEVEL = 'LOUD'"),
]


@pytest.mark.parametrize(("env", "message"), SETTING_CASES, ids=[next(iter(e)) + "=" + next(iter(e.values()))
                                                                  for e, _ in SETTING_CASES])
def test_bad_setting_exits_3_naming_it_and_touches_nothing(
    runner, seeded_db: Path, tmp_path: Path, env: dict[str, str], message: str
) -> None:
    (tmp_path / "c.csv").write_text(CANDLE_HEADER + GOOD_CANDLE)
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), "candles", "import", "c.csv"], env=env)
    assert result.exit_code == 3
    assert message in result.stderr and result.stderr.startswith("Error: setting SLOB_")
    assert snapshot(seeded_db) == before


def test_newer_schema_database_exits_3_naming_versions(runner, seeded_db: Path, tmp_path: Path) -> None:
    conn = sqlite3.connect(seeded_db)
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    (tmp_path / "c.csv").write_text(CANDLE_HEADER + GOOD_CANDLE)
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), "candles", "import", "c.csv"])
    assert result.exit_code == 3
    assert f"has schema version {SCHEMA_VERSION + 1}, newer than this slob understands" in result.stderr
    assert snapshot(seeded_db) == before


def test_non_slob_database_exits_3(runner, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    result = runner.invoke(app, ["--db", str(other), "candles", "show"])
    assert result.exit_code == 3
    assert "is not a slob database" in result.stderr


IMPORT_CASES = [case for case in CASES if case[3] == ["candles", "import"]]


@pytest.mark.parametrize(("name", "file_name", "text", "args", "code", "message"), IMPORT_CASES,
                         ids=[c[0] for c in IMPORT_CASES])
def test_a_bad_import_file_creates_no_new_store_nor_its_directory(
    runner, tmp_path: Path, name: str, file_name: str | None, text: str | None,
    args: list[str], code: int, message: str,
) -> None:
    _refused(runner, tmp_path, tmp_path / "fresh" / "new.db", file_name, text, args, code, message)
    assert not (tmp_path / "fresh").exists()  # exit 2 means nothing was written: no empty store either


def test_a_good_import_file_still_creates_the_store_it_names(runner, tmp_path: Path) -> None:
    new_store = tmp_path / "fresh" / "new.db"
    (tmp_path / "c.csv").write_text(CANDLE_HEADER + GOOD_CANDLE)
    result = runner.invoke(app, ["--db", str(new_store), "candles", "import", "c.csv"])
    assert result.exit_code == 0, result.output
    assert snapshot(new_store)[0] == [("NQ", 1767709860000000, 100.0, 101.0, 99.0, 100.5, 7.0, -1, 0, "import", None)]


def test_a_bad_tick_line_is_reported_before_the_rest_of_the_file_is_read(
        runner, seeded_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch milliseconds on line 2 of 6 M ticks took 33 s to report: the file was read whole first.

    Here the file is read two lines at a time, and a line past the first part cannot even be parsed:
    were the file read whole first, that line's error would be the one reported.
    """
    from slob_cli.adapters import file_reading

    monkeypatch.setattr(file_reading, "CSV_PART_ROWS", 2)
    good = "1767709865,21000.25,1,NQ\n"
    (tmp_path / "t.csv").write_text(TICK_HEADER + "1767709865000,21000.25,1,NQ\n" + good * 3
                                    + "1767709866,21000.5,1,NQ,extra\n" + good)
    before = snapshot(seeded_db)
    result = runner.invoke(app, ["--db", str(seeded_db), "candles", "aggregate", "--ticks-file", "t.csv"])
    assert result.exit_code == 2, result.output
    assert result.stderr == ("Error: t.csv line 2: timestamp '1767709865000' is out of range for epoch seconds "
                             "(supported dates 1990-01-01..2099-12-31)\n")
    assert snapshot(seeded_db) == before
    # The same file with line 2 mended reports the unreadable line when its part is reached.
    (tmp_path / "t.csv").write_text(TICK_HEADER + good * 4 + "1767709866,21000.5,1,NQ,extra\n" + good)
    later = runner.invoke(app, ["--db", str(seeded_db), "candles", "aggregate", "--ticks-file", "t.csv"])
    assert later.exit_code == 2 and later.stderr == "Error: t.csv line 6: 5 fields, but the header has 4\n"
    assert snapshot(seeded_db) == before


def test_a_bad_ticks_file_creates_no_store(runner, tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TICK_HEADER + "1767709865000,21000.25,1,NQ\n")
    new = tmp_path / "data" / "new.db"
    result = runner.invoke(app, ["--db", str(new), "candles", "aggregate", "--ticks-file", str(tmp_path / "t.csv")])
    assert result.exit_code == 2 and "t.csv line 2: timestamp '1767709865000'" in result.stderr, result.output
    assert not new.exists() and not new.parent.exists()
    (tmp_path / "t.csv").write_text(TICK_HEADER + GOOD_TICK)  # a good file starts the store
    assert runner.invoke(app, ["--db", str(new), "candles", "aggregate", "--ticks-file",
                               str(tmp_path / "t.csv")]).exit_code == 0
    with Store.open(new, readonly=True) as store:
        assert len(store.candles("NQ")) == 1


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make the file unwritable for this process: its mode, or (as root, whom modes do not stop) immutable."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("root, and chattr +i does not work here: no way to make a file read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("args", [["candles", "aggregate"], ["candles", "import", "c.csv"]],
                         ids=["aggregate", "import"])
def test_a_read_only_store_is_named_in_one_line_and_left_unchanged(
        runner, seeded_db: Path, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "c.csv").write_text(CANDLE_HEADER + GOOD_CANDLE)
    before = snapshot(seeded_db)
    with read_only(seeded_db):
        result = runner.invoke(app, ["--db", str(seeded_db), *args])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: cannot write to database ") and "read-only" in lines[-1], result.output
    assert "Traceback" not in result.output
    assert snapshot(seeded_db) == before
