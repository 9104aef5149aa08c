"""`slob candles export --format parquet --partition`: a hive dataset (symbol=/date=) read back row by row."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.dataset as ds
from typer.testing import CliRunner

from slob_cli.adapters.store import Store, from_us
from slob_cli.cli.main import app
from slob_cli.core.models import Candle
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_rows

NEW_YORK = ZoneInfo("America/New_York")


def _stored(db_path: Path) -> list[tuple]:
    with Store.open(db_path) as store:
        return sql_rows(store.path,
            "SELECT symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks, source, local_symbol"
            " FROM candles ORDER BY symbol, ts")


def test_partitioned_export_reads_back_every_row_with_pyarrow_dataset(runner: CliRunner, db_path: Path,
                                                                      tmp_path: Path) -> None:
    days = [date(2026, 3, 10), date(2026, 3, 11)]
    with Store.open(db_path) as store:
        store.upsert_candles([c for day in days for c in build_scenario("quiet", day)], local_symbol="NQH6")
        micro = [Candle("MNQ", c.ts, c.open, c.high, c.low, c.close, c.volume, c.tick_count)
                 for c in build_scenario("short_setup", days[0])]
        store.upsert_candles(micro, source="import")
    out = tmp_path / "lake"
    args = ["--db", str(db_path), "candles", "export", "--format", "parquet", "--partition", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    folders = sorted(str(p.relative_to(out)) for p in out.glob("*/*"))
    assert folders == ["symbol=MNQ/date=2026-03-10", "symbol=NQ/date=2026-03-10", "symbol=NQ/date=2026-03-11"]
    # Exporting again replaces the partitions: still one copy of every row.
    assert runner.invoke(app, args).exit_code == 0
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    read = sorted(
        (row["symbol"], int(row["timestamp"].timestamp() * 1_000_000), row["open"], row["high"], row["low"],
         row["close"], row["volume"], row["tick_count"], row["dropped_ticks"], row["source"], row["contract"])
        for row in table.to_pylist())
    stored = _stored(db_path)
    assert read == sorted(stored) and len(read) == len(stored) > 1000
    dates = {(row["symbol"], row["date"]) for row in table.to_pylist()}
    for symbol, ts, *_ in stored:
        assert (symbol, from_us(ts).astimezone(NEW_YORK).date().isoformat()) in dates


def test_partition_needs_parquet_and_a_directory(runner: CliRunner, db_path: Path, tmp_path: Path) -> None:
    with Store.open(db_path) as store:
        store.upsert_candles(build_scenario("quiet", date(2026, 3, 10)))
    bad = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", "csv", "--partition",
                              "-o", "x"])
    assert bad.exit_code == 2 and "--partition needs --format parquet" in bad.stderr
    (tmp_path / "file.parquet").write_text("x")
    clash = runner.invoke(app, ["--db", str(db_path), "candles", "export", "--format", "parquet", "--partition",
                                "-o", str(tmp_path / "file.parquet")])
    assert clash.exit_code == 2 and "is a file" in clash.stderr


def test_a_range_that_cuts_into_a_day_exports_its_whole_partition(runner: CliRunner, db_path: Path,
                                                                   tmp_path: Path) -> None:
    day = date(2026, 3, 10)
    with Store.open(db_path) as store:
        store.upsert_candles(build_scenario("quiet", day))
    whole = sql_rows(db_path, "SELECT count(*) FROM candles")[0][0]
    out = tmp_path / "lake"
    base = ["--db", str(db_path), "candles", "export", "--format", "parquet", "--partition", "-o", str(out)]
    assert runner.invoke(app, base).exit_code == 0
    # Five minutes of the day: its partition is replaced, so it must still hold the whole day, not five rows.
    result = runner.invoke(app, [*base, "--from", "2026-03-10T15:00Z", "--to", "2026-03-10T15:05Z"])
    assert result.exit_code == 0, result.stderr
    assert f"Exported {whole:,} candles" in result.stderr
    assert ds.dataset(out, format="parquet", partitioning="hive").to_table().num_rows == whole > 5
