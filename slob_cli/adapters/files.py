"""Writing stored candles to files (CSV, JSON lines, Parquet, a partitioned dataset) in a chosen zone.

Reading files is `adapters/file_reading.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from slob_cli.errors import ConfigError, InputError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    import pandas as pd

EXPORT_FORMATS = ("csv", "parquet", "jsonl")


def export_format(output: Path | None) -> str:
    """Return the export format an output file's name asks for: jsonl (.jsonl, .ndjson), parquet (.parquet, .pq), else csv."""
    suffix = output.suffix.lower() if output is not None else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "csv")


def render_times(ts_us: pd.Series, zone: ZoneInfo | None) -> pd.Series:
    """Return ISO-8601 text: UTC with `Z` when zone is None, else local time with its offset.

    The pandas way the exports once wrote times; `export_time_text` writes the same text bar by bar.
    """
    import pandas as pd

    stamps = pd.to_datetime(ts_us, unit="us", utc=True)
    if zone is None:
        return stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    local = stamps.dt.tz_convert(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    return local.str.replace(r"([+-]\d{2})(\d{2})$", r"\1:\2", regex=True)


EXPORT_HEADER = ("timestamp", "symbol", "open", "high", "low", "close", "volume", "tick_count", "dropped_ticks")


def _make_parent(output: Path) -> None:
    """Make the directory an export file goes into (`-o out/nq.csv` into a new directory); refuse a directory."""
    if output.is_dir():
        raise InputError(f"cannot write {str(output)!r}: it is a directory (name a file with -o)")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the directory of {str(output)!r}: {exc.strerror or exc}") from None


@contextmanager
def _export_stream(output: Path | None) -> Iterator[IO[str]]:
    """Yield the text stream an export writes to (the file, its directory made, or stdout), then close or flush it.

    A file that cannot be opened is a bad argument (exit 2); a write that fails (a full disk, an I/O
    error) is one line naming where, exit 3. A closed stdout (BrokenPipeError) is left to the entry point.
    """
    where = "stdout" if output is None else repr(str(output))
    if output is None:
        stream = sys.stdout
    else:
        _make_parent(output)
        try:
            stream = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(f"cannot write {where}: {exc.strerror or exc}") from None
    try:
        yield stream
        if output is None:
            stream.flush()
        else:
            stream.close()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot write {where}: {exc.strerror or exc}; the export is incomplete") from None
    finally:
        if output is not None and not stream.closed:
            with suppress(OSError):
                stream.close()


def export_time_text(zone: ZoneInfo | None) -> Callable[[int], str]:
    """Return ts (epoch us) -> the export's time text: `YYYY-MM-DDTHH:MM:SSZ` in UTC, or local with its offset.

    Whole seconds and `+HH:MM` offsets, as `render_times` writes them. Kept: one date text per UTC day;
    one local hour text and offset per quarter hour (every offset in use today is a multiple of 15
    minutes and changes on a quarter hour; an older, odd offset is rendered bar by bar).
    """
    days: dict[int, str] = {}
    quarters: dict[int, tuple[str, int, str] | None] = {}

    def utc(ts_us: int) -> str:
        day, second = divmod(ts_us // 1_000_000, 86_400)
        text = days.get(day)
        if text is None:
            text = days[day] = datetime.fromtimestamp(day * 86_400, timezone.utc).strftime("%Y-%m-%dT")
        hour, rest = divmod(second, 3600)
        return f"{text}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"

    def offset_text(moment: datetime) -> str:
        offset = moment.strftime("%z")
        return f"{offset[:3]}:{offset[3:]}" if len(offset) == 5 else offset  # +HHMM -> +HH:MM, as pandas' regex

    def local(ts_us: int) -> str:
        seconds = ts_us // 1_000_000
        start = seconds - seconds % 900
        if start not in quarters:
            moment = datetime.fromtimestamp(start, zone)
            offset = moment.utcoffset()
            even = offset is not None and offset.total_seconds() % 900 == 0
            quarters[start] = (moment.strftime("%Y-%m-%dT%H"), moment.minute, offset_text(moment)) if even else None
        cached = quarters[start]
        if cached is None:
            moment = datetime.fromtimestamp(seconds, zone)
            return moment.strftime("%Y-%m-%dT%H:%M:%S") + offset_text(moment)
        rest = seconds - start
        return f"{cached[0]}:{cached[1] + rest // 60:02d}:{rest % 60:02d}{cached[2]}"

    return utc if zone is None else local


def _write_lines(lines: Iterator[str], output: Path | None, header: str = "") -> int:
    """Write an export's lines (each ending in a newline) after its header, a batch at a time; return how many."""
    count = 0
    with _export_stream(output) as stream:
        stream.write(header)
        while batch := list(islice(lines, 4096)):
            stream.write("".join(batch))
            count += len(batch)
    return count


def write_candles_csv(rows: Iterable[Sequence[Any]], output: Path | None, zone: ZoneInfo | None = None) -> int:
    """Stream (symbol, ts us, OHLCV, tick_count, dropped_ticks) rows as the export's CSV; return how many.

    Byte for byte what pandas' `to_csv` of the same table wrote (floats as their shortest text,
    minimal quoting, `\n` lines: tests/adapters/test_export_csv.py), without holding the rows.
    """
    import csv
    import io

    def quoted(text: str) -> str:  # csv's minimal quoting, decided once per symbol
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow((text,))
        return buffer.getvalue()

    time_text = export_time_text(zone)
    names: dict[str, str] = {}
    lines = (f"{time_text(ts)},{names.get(symbol) or names.setdefault(symbol, quoted(symbol))},{float(open_)!r},"
             f"{float(high)!r},{float(low)!r},{float(close)!r},{float(volume)!r},{int(ticks)},{int(dropped)}\n"
             for symbol, ts, open_, high, low, close, volume, ticks, dropped in rows)
    return _write_lines(lines, output, ",".join(EXPORT_HEADER) + "\n")


def write_candles_jsonl(rows: Iterable[Sequence[Any]], output: Path | None, zone: ZoneInfo | None = None) -> int:
    """Stream (symbol, ts us, OHLCV, tick_count, dropped_ticks) rows as JSON lines, one object a candle; return how many.

    Fields in EXPORT_HEADER order, compact as pandas' `to_json(orient="records", lines=True)` wrote
    them, but every float as its shortest round-trip text (Python's repr, what `json.dumps`
    writes) where pandas rounded to 10 significant digits: tests/adapters/test_export_jsonl.py.
    """
    import json

    time_text = export_time_text(zone)
    names: dict[str, str] = {}
    lines = (f'{{"timestamp":"{time_text(ts)}","symbol":{names.get(symbol) or names.setdefault(symbol, json.dumps(symbol))},'
             f'"open":{float(open_)!r},"high":{float(high)!r},"low":{float(low)!r},"close":{float(close)!r},'
             f'"volume":{float(volume)!r},"tick_count":{int(ticks)},"dropped_ticks":{int(dropped)}}}\n'
             for symbol, ts, open_, high, low, close, volume, ticks, dropped in rows)
    return _write_lines(lines, output)


def write_candles_parquet(frame: pd.DataFrame, output: Path, zone: ZoneInfo | None = None) -> int:
    """Write candles (columns symbol, ts us, OHLCV, counts) as one Parquet file; return rows. Doubles stay exact."""
    import pandas as pd

    _make_parent(output)
    columns = ["open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]
    stamps = pd.to_datetime(frame["ts"], unit="us", utc=True)
    table = pd.DataFrame({"timestamp": stamps.dt.tz_convert(zone) if zone else stamps,
                          "symbol": frame["symbol"], **{c: frame[c] for c in columns}})
    table.to_parquet(output, index=False)
    return len(table)


def write_partitioned(frame: pd.DataFrame, output: Path) -> int:
    """Write candles as a hive-partitioned Parquet dataset `symbol=<root>/date=<New York date>/`; return rows.

    Each file holds one symbol and one New York trading date; exporting a day again replaces its
    partition (no duplicate rows). Timestamps are UTC; `contract` says which futures contract
    (local symbol) a bar came from, when known.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    if output.exists() and not output.is_dir():
        raise InputError(f"--partition writes a directory, and {str(output)!r} is a file")
    stamps = pd.to_datetime(frame["ts"], unit="us", utc=True)
    columns = ["open", "high", "low", "close", "volume", "tick_count", "dropped_ticks"]
    table = pd.DataFrame({"timestamp": stamps, **{c: frame[c] for c in columns},
                          "source": frame["source"], "contract": frame["local_symbol"],
                          "symbol": frame["symbol"],
                          "date": stamps.dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d")})
    partitioning = ds.partitioning(pa.schema([("symbol", pa.string()), ("date", pa.string())]), flavor="hive")
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    ds.write_dataset(arrow, output, format="parquet", partitioning=partitioning,
                     existing_data_behavior="delete_matching", basename_template="part-{i}.parquet")
    return len(table)
