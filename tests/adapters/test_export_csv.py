"""`candles export --format csv` streams rows without pandas, and writes what pandas' to_csv wrote, byte for byte.

The reference is the table the export built before (times by `render_times`, then `to_csv`), over
candles with awkward floats, several symbols, whole-hour and half-hour zones across their
daylight-saving changes, seconds inside a minute, and no candle at all.
"""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from slob_cli.adapters.files import render_times, write_candles_csv
from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle

COLUMNS = ["open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]


def _pandas_csv(rows: list[tuple], zone: ZoneInfo | None) -> str:
    frame = pd.DataFrame(rows, columns=["symbol", "ts", *COLUMNS])
    table = pd.DataFrame({"timestamp": render_times(frame["ts"], zone), "symbol": frame["symbol"],
                          **{column: frame[column] for column in COLUMNS}})
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _rows(seed: int) -> list[tuple]:
    rng = random.Random(seed)
    awkward = [0.1 + 0.2, 1 / 3, 1e-05, 123456789.123, 2.5e16, 20.0, 0.0, 25000.25, 7.0000000000000009]
    rows = []
    start = int(datetime(2025, 3, 8, tzinfo=timezone.utc).timestamp()) * 1_000_000  # both spring-forward weekends
    for symbol in ("MNQ", "NQ"):
        ts = start
        for _ in range(4000):
            ts += rng.choice((60, 60, 60, 3600, 86_400 * 7)) * 1_000_000 + rng.choice((0, 0, 0, 17_000_000, 123))
            price = rng.choice(awkward) if rng.random() < 0.2 else round(rng.uniform(15000, 26000) * 4) / 4
            rows.append((symbol, ts, price, price + rng.random(), price - rng.random() * 3, price,
                         rng.choice(awkward), rng.randrange(0, 10**6), rng.randrange(0, 3)))
    return rows


@pytest.mark.parametrize("zone", [None, ZoneInfo("Europe/Stockholm"), ZoneInfo("America/New_York"),
                                  ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Adelaide"), ZoneInfo("Asia/Kathmandu")],
                         ids=["utc", "stockholm", "new-york", "kolkata", "adelaide", "kathmandu"])
def test_the_streamed_csv_is_what_pandas_wrote(zone: ZoneInfo | None, tmp_path: Path) -> None:
    rows = _rows(7)
    out = tmp_path / "deep" / "candles.csv"
    assert write_candles_csv(iter(rows), out, zone) == len(rows)
    assert out.read_text(encoding="utf-8") == _pandas_csv(rows, zone)


def test_no_candle_is_the_header_alone_and_a_symbol_that_needs_quotes_is_quoted(tmp_path: Path) -> None:
    out = tmp_path / "empty.csv"
    assert write_candles_csv(iter([]), out) == 0
    assert out.read_text() == _pandas_csv([], None) == ",".join(["timestamp", "symbol", *COLUMNS]) + "\n"
    odd = [('N,"Q', 1_700_000_000_000_000, 1.5, 2.0, 1.0, 1.5, 3.0, 2, 0)]
    write_candles_csv(iter(odd), out)
    assert out.read_text() == _pandas_csv(odd, None)


def test_the_store_streams_the_export_rows_in_symbol_and_time_order(tmp_path: Path) -> None:
    start = datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc)
    with Store.open(tmp_path / "s.db") as store:
        for symbol in ("NQ", "MNQ"):
            store.upsert_candles([Candle(symbol, start + timedelta(minutes=i), 1.0, 2.0, 0.5, 1.5, 3.0, 2)
                                  for i in range(10_000)])
        rows = list(store.candle_export_rows(batch=777))
        assert rows == sorted(rows, key=lambda row: (row[0], row[1])) and len(rows) == 20_000
        assert [row[:2] for row in store.candle_export_rows("NQ", start + timedelta(minutes=5),
                                                            start + timedelta(minutes=7))] == [
            ("NQ", int((start + timedelta(minutes=m)).timestamp()) * 1_000_000) for m in (5, 6)]
