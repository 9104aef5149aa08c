"""`read_candle_file` + `store_candle_file` (what `candles import` runs): one transaction, and a progress callback that ends at the file's row count."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from slob_cli.adapters.file_reading import count_rows
from slob_cli.adapters.store import Store
from slob_cli.runtime.candles import read_candle_file, store_candle_file
from tests.sqlfile import sql_value

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def _rows(count: int) -> list[str]:
    return [f"{(T0 + timedelta(minutes=i)).strftime('%Y-%m-%dT%H:%M:%SZ')},NQ,100,101,99,100.5,7\n" for i in range(count)]


def test_import_progress_is_heard_while_writing_and_ends_at_the_files_row_count(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("timestamp,symbol,open,high,low,close,volume\n" + "".join(_rows(45_000)))
    heard: list[int] = []
    with Store.open(tmp_path / "s.db") as store:
        report = store_candle_file(store, read_candle_file(path, progress=heard.append), heard.append)
    assert count_rows(path) == report.imported == 45_000
    assert sum(heard) == 2 * 45_000  # read and validated (half), then written in parts (the other half)
    assert heard[0] == 45_000 and len(heard) > 3, heard
    assert sql_value(tmp_path / "s.db", "SELECT count(*) FROM candles") == 45_000


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet", "missing.csv", "broken.parquet"])
def test_count_rows_of_a_file_it_cannot_read_is_none(tmp_path: Path, name: str) -> None:
    if name != "missing.csv":
        (tmp_path / name).write_bytes(b"" if name.startswith("empty") else b"garbage")
    assert count_rows(tmp_path / name) is None


def test_count_rows_of_parquet_and_of_csv_without_a_final_newline(tmp_path: Path) -> None:
    pd.DataFrame({"timestamp": ["2026-01-06T14:30:00Z"] * 3}).to_parquet(tmp_path / "c.parquet")
    assert count_rows(tmp_path / "c.parquet") == 3
    (tmp_path / "c.csv").write_text("timestamp,open\n" + "".join(_rows(2)).rstrip("\n"))
    assert count_rows(tmp_path / "c.csv") == 2
    (tmp_path / "c.jsonl").write_text('{"timestamp": 1}\n{"timestamp": 2}')
    assert count_rows(tmp_path / "c.jsonl") == 2
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b"timestamp,open\n" * 50))
    assert count_rows(tmp_path / "c.csv.gz") is None
