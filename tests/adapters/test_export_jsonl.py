"""`candles export --format jsonl` streams rows without pandas, and every float reads back as the same double.

For ordinary prices (quarter ticks, whole volumes) the lines are byte for byte what pandas'
`to_json(orient="records", lines=True)` wrote before; where pandas rounded to 10 significant
digits (21234.123456789012 became 21234.123456789) the stream writes the shortest round-trip text,
which is what `json.dumps` writes. Parquet keeps doubles as they are.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from slob_cli.adapters.files import EXPORT_HEADER, render_times, write_candles_jsonl, write_candles_parquet

COLUMNS = ["open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]
AWKWARD = [21234.123456789012, 1 / 3, 0.1 + 0.2, 123456789.123, 7.0000000000000009, 1e-05, 2.5e16, 5e-324,
           1234.5678901234567, 25000.25, 20.0]


def _pandas_jsonl(rows: list[tuple], zone: ZoneInfo | None) -> str:
    """The table the jsonl export built before, written the way it wrote it."""
    frame = pd.DataFrame(rows, columns=["symbol", "ts", *COLUMNS])
    table = pd.DataFrame({"timestamp": render_times(frame["ts"], zone), "symbol": frame["symbol"],
                          **{column: frame[column] for column in COLUMNS}})
    text = table.to_json(orient="records", lines=True) if len(table) else ""
    return text if not text or text.endswith("\n") else text + "\n"


def _ordinary_rows(seed: int) -> list[tuple]:
    """Quarter-tick prices and whole volumes over several symbols and both 2025 spring-forward weekends."""
    rng = random.Random(seed)
    rows = []
    start = int(datetime(2025, 3, 8, tzinfo=timezone.utc).timestamp()) * 1_000_000
    for symbol in ("MNQ", "NQ"):
        ts, price = start, 17000.0
        for _ in range(3000):
            ts += rng.choice((60, 60, 60, 3600, 86_400 * 7)) * 1_000_000
            step = round(rng.gauss(0, 8) * 4) / 4
            rows.append((symbol, ts, price, price + abs(step) + 0.25, price - abs(step) - 0.25, price + step,
                         float(rng.randrange(0, 5000)), rng.randrange(-1, 10**6), rng.randrange(0, 3)))
            price += step
    return rows


@pytest.mark.parametrize("zone", [None, ZoneInfo("Europe/Stockholm"), ZoneInfo("America/New_York"),
                                  ZoneInfo("Asia/Kathmandu")], ids=["utc", "stockholm", "new-york", "kathmandu"])
def test_ordinary_prices_stream_as_the_bytes_pandas_wrote(zone: ZoneInfo | None, tmp_path: Path) -> None:
    rows = _ordinary_rows(3)
    out = tmp_path / "deep" / "candles.jsonl"
    assert write_candles_jsonl(iter(rows), out, zone) == len(rows)
    assert out.read_text(encoding="utf-8") == _pandas_jsonl(rows, zone)


def test_every_float_is_its_shortest_round_trip_text_where_pandas_rounded(tmp_path: Path) -> None:
    ts = int(datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc).timestamp()) * 1_000_000
    rows = [("NQ", ts + i * 60_000_000, value, value, value, value, AWKWARD[-i - 1], i, 0)
            for i, value in enumerate(AWKWARD)]
    out = tmp_path / "awkward.jsonl"
    assert write_candles_jsonl(iter(rows), out) == len(rows)
    lines = out.read_text(encoding="utf-8").splitlines()
    for line, row in zip(lines, rows, strict=True):
        record = json.loads(line)
        assert list(record) == list(EXPORT_HEADER)
        assert [record[name] for name in ("open", "high", "low", "close", "volume")] == list(row[2:7])
        assert line == json.dumps(record, separators=(",", ":"))  # the text json.dumps gives: repr of each float
    assert '"open":21234.123456789013,' in lines[0]  # the double nearest 21234.123456789012
    assert "21234.123456789," in _pandas_jsonl(rows, None)  # what the pandas path lost


def test_no_candle_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "empty.jsonl"
    assert write_candles_jsonl(iter([]), out) == 0
    assert out.read_bytes() == b"" and _pandas_jsonl([], None) == ""


def test_parquet_keeps_every_double_as_it_is(tmp_path: Path) -> None:
    ts = int(datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc).timestamp()) * 1_000_000
    frame = pd.DataFrame([("NQ", ts + i * 60_000_000, value, value, value, value, value, i, 0)
                          for i, value in enumerate(AWKWARD)], columns=["symbol", "ts", *COLUMNS])
    out = tmp_path / "c.parquet"
    assert write_candles_parquet(frame, out) == len(AWKWARD)
    back = pd.read_parquet(out)
    assert [float(v) for v in back["open"]] == AWKWARD and [float(v) for v in back["volume"]] == AWKWARD
