"""File adapter: timestamp forms, Parquet types, line numbers, skipping bad rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from slob_cli.adapters.file_reading import read_candles, read_ticks
from slob_cli.errors import InputError

T0_US = 1_767_709_800_000_000  # 2026-01-06T14:30:00Z


def test_tick_timestamps_in_z_offset_and_epoch_forms_land_on_the_same_instant(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "timestamp,price,size\n2026-01-06T14:30:00.250Z,1,1\n2026-01-06T09:30:00.25-05:00,1,1\n1767709800.25,1,1\n"
        "2026-01-06t14:30:00.250z,1,1\n"  # RFC 3339's lower-case t and z (the z was 'not ISO-8601')
    )
    frame = read_ticks(tmp_path / "t.csv", symbol="NQ").frame
    assert frame["ts"].tolist() == [T0_US + 250_000] * 4
    assert frame["symbol"].tolist() == ["NQ"] * 4


def test_parquet_with_aware_timestamps_is_read_in_utc(tmp_path: Path) -> None:
    stamps = pd.to_datetime(["2026-01-06T15:30:00+01:00"], utc=True).tz_convert("Europe/Stockholm")
    pd.DataFrame({"timestamp": stamps, "price": [21000.25], "size": [2], "symbol": ["MNQ"]}).to_parquet(
        tmp_path / "t.parquet")
    frame = read_ticks(tmp_path / "t.parquet").frame
    assert (frame["ts"].tolist(), frame["symbol"].tolist()) == ([T0_US], ["MNQ"])


def test_parquet_with_naive_timestamps_is_refused_naming_the_row(tmp_path: Path) -> None:
    pd.DataFrame({"timestamp": pd.to_datetime(["2026-01-06 14:30"]), "price": [1.0], "size": [1.0],
                  "symbol": ["NQ"]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputError, match=r"t.parquet row 1: timestamp .* has no time zone"):
        read_ticks(tmp_path / "t.parquet")


def test_skip_bad_keeps_good_rows_and_lists_each_problem_once(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        "timestamp,open,high,low,close,volume,symbol\n"
        "2026-01-06T14:30:00Z,1,2,1,2,5,NQ\n"
        "2026-01-06T14:31:00Z,x,2,1,2,-5,NQ\n"
        "2026-01-06T14:32:00Z,1,2,1,2,5,ES\n"
        "2026-01-06T14:33:00Z,1,2,1,2,5,nq\n"
    )
    parsed = read_candles(tmp_path / "c.csv", skip_bad=True)
    assert parsed.frame["ts"].tolist() == [T0_US, T0_US + 180_000_000]
    assert parsed.skipped == ["c.csv line 3: open 'x' is not a number", "c.csv line 4: unknown symbol 'ES'"]


def test_symbol_flag_keeps_only_that_symbols_rows(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("timestamp,price,size,symbol\n2026-01-06T14:30:00Z,1,1,NQ\n"
                                    "2026-01-06T14:30:01Z,2,1,MNQ\n")
    assert read_ticks(tmp_path / "t.csv", symbol="MNQ").frame["price"].tolist() == [2.0]


@pytest.mark.parametrize("part_rows", [1, 2, 3, 250_000])
def test_a_ticks_csv_read_in_parts_gives_what_one_read_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_rows: int) -> None:
    import slob_cli.adapters.file_reading as file_reading

    (tmp_path / "t.csv").write_text(
        "timestamp,price,size,symbol,venue\n2026-01-06T14:30:00Z,1,1,NQ,x\n\n2026-01-06T14:30:01Z,2,1,MNQ,x\n"
        "2026-01-06T14:30:02Z,3,2,NQ,x\n1767709803,4,1,MNQ,y\n2026-01-06T14:30:04Z,5,0,NQ,x\n")
    monkeypatch.setattr(file_reading, "CSV_PART_ROWS", part_rows)
    parsed = read_ticks(tmp_path / "t.csv", symbol="NQ")
    assert parsed.frame.to_dict("list") == {"symbol": ["NQ"] * 3, "ts": [T0_US, T0_US + 2_000_000, T0_US + 4_000_000],
                                            "price": [1.0, 3.0, 5.0], "size": [1.0, 2.0, 0.0]}
    assert parsed.frame.index.tolist() == [0, 1, 2]
    assert (parsed.other_symbols, parsed.ignored_columns, parsed.skipped) == ({"MNQ": 2}, ["venue"], [])
    everything = read_ticks(tmp_path / "t.csv")
    assert everything.frame["price"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    (tmp_path / "h.csv").write_text("timestamp,price,size,symbol\n")
    assert read_ticks(tmp_path / "h.csv").frame.empty
    (tmp_path / "bad.csv").write_text("timestamp,price,size,symbol\n" + "2026-01-06T14:30:00Z,1,1,NQ\n" * 4
                                      + "2026-01-06T14:30:00Z,0,1,NQ\n")
    with pytest.raises(InputError, match=r"^bad.csv line 6: price '0' is not positive$"):
        read_ticks(tmp_path / "bad.csv")
