"""Reading tick and candle files (CSV, Parquet, JSON lines), validated row by row.

Ticks: `timestamp,price,size[,symbol]`; candles: `timestamp,open,high,low,close,volume[,symbol]`
(optional `tick_count`, `dropped_ticks`). Timestamps are ISO-8601 with `Z` or an offset, or epoch
seconds. A bad row raises InputError naming its line (CSV and JSON lines: the file's line number)
or row (Parquet) and the problem, unless the caller asks to skip bad rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.core.models import (
    FIRST_SUPPORTED_DATE,
    INSTRUMENTS,
    LAST_SUPPORTED_DATE,
    MAX_TICK_COUNT,
    SUPPORTED_DATES,
)
from slob_cli.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

TICK_COLUMNS = ("timestamp", "price", "size")
CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
OPTIONAL_TICK_COLUMNS = ("symbol",)
OPTIONAL_CANDLE_COLUMNS = ("symbol", "tick_count", "dropped_ticks")
_TYPO_LIKENESS = 0.75  # difflib ratio: tickcount~tick_count 0.95, opne~open 0.75; time~timestamp 0.62 is foreign
UNKNOWN_TICK_COUNT = -1  # imported candles without a tick_count column: count unknown, not synthetic
_LATEST_EPOCH_SECONDS = 4_102_444_800  # 2100-01-01: anything later is a unit mistake (ms, us)
_ZONE_SUFFIX = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
CSV_PART_ROWS = 250_000  # a ticks CSV is read and validated this many lines at a time (read_ticks)


@dataclass
class ParsedRows:
    """Valid rows (columns symbol, ts in UTC microseconds, ...) in file order, and skipped problems."""

    frame: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    other_symbols: dict[str, int] = field(default_factory=dict)  # good rows left out for not being --symbol's
    ignored_columns: list[str] = field(default_factory=list)  # columns slob does not read, in file order


def file_format(path: Path) -> str:
    """Return 'csv', 'parquet' or 'jsonl' from the file name, or raise InputError."""
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".jsonl" in suffixes or ".ndjson" in suffixes:
        return "jsonl"
    if ".csv" in suffixes:
        return "csv"
    raise InputError(f"cannot tell the format of {str(path)!r}: name it .csv, .parquet or .jsonl")


def count_rows(path: Path) -> int | None:
    """Return how many data rows a file holds (CSV: lines after the header), or None when it cannot tell.

    Cheap (a CSV is scanned for newlines, a Parquet file's footer read): it sizes a progress bar.
    """
    try:
        if (kind := file_format(path)) == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if path.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
            return None  # compressed (nq.csv.gz): its newlines are not its lines
        lines, last = 0, b"\n"
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines, last = lines + block.count(b"\n"), block[-1:]
        lines += last != b"\n"
        return lines - (kind == "csv") if lines else None
    except (InputError, OSError, ValueError):
        return None


def check_input_file(path: Path) -> str:
    """Return the format of a file to read ('csv' or 'parquet'); raise InputError when it is not one to read."""
    kind = file_format(path)
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a directory, not a file")
    if not path.is_file():
        raise InputError(f"file {str(path)!r} not found")
    return kind



def _load(path: Path) -> tuple[pd.DataFrame, str, int]:
    """Return a file's rows (columns lower-cased), the word for a row and the number of the frame's index 0."""
    import pandas as pd

    kind = check_input_file(path)
    if kind == "jsonl":
        return _load_jsonl(path), "line", 1
    if kind == "csv":
        return next(_csv_parts(path, None)), "line", 2
    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as exc:
        raise _unreadable(path, kind, exc) from None
    return _lower_columns(frame, path.name).reset_index(drop=True), "row", 1


def _csv_parts(path: Path, rows: int | None) -> Iterator[pd.DataFrame]:
    """Yield a CSV's rows `rows` at a time (all at once for None; at least one part), blank lines dropped.

    Each part's index is its rows' place in the file (the first data line is index 0).
    """
    import pandas as pd

    with warnings.catch_warnings():
        # A first row longer than the header would otherwise become the index, shifting every column.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            reader = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False,
                                 chunksize=rows)
            parts = [reader] if rows is None else reader
            for part in parts:
                frame = _lower_columns(part, path.name)
                yield frame[~(frame == "").all(axis=1)]
        except pd.errors.EmptyDataError:
            raise InputError(f"{path.name}: file is empty (expected a header line)") from None
        except (ValueError, OSError, pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            raise _unreadable(path, "csv", exc) from None


def _unreadable(path: Path, kind: str, exc: BaseException) -> InputError:
    """Return the one-line error for a file pandas cannot read (a CSV line with too many fields named)."""
    if kind == "csv" and (overlong := _overlong_line(path)) is not None:
        return InputError(overlong)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(f"{path.name}: cannot read {kind}: {first_line}")


def _load_jsonl(path: Path) -> pd.DataFrame:
    """Read one JSON object a line (blank lines skipped; the index is the line number - 1), as export writes them."""
    import json

    import pandas as pd

    records: list[dict[str, Any]] = []
    numbers: list[int] = []
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path.name} line {number}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise InputError(f"{path.name} line {number}: not a JSON object")
                records.append(record)
                numbers.append(number - 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read jsonl: {exc}") from None
    if not records:
        raise InputError(f"{path.name}: no records (expected one JSON object a line)")
    return _lower_columns(pd.DataFrame.from_records(records, index=numbers), name=path.name)


def _lower_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return frame with its column names stripped and lower-cased; refuse two that become one."""
    columns = [str(column).strip().lower() for column in frame.columns]
    twice = next((column for index, column in enumerate(columns) if column in columns[:index]), None)
    if twice is not None:
        raise InputError(f"{name}: column {twice!r} appears twice (names are read without case)")
    frame.columns = columns
    return frame


def _overlong_line(path: Path) -> str | None:
    """Name the first CSV line with more fields than the header, if there is one."""
    import csv

    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        rows = csv.reader(handle)
        header = next(rows, [])
        for row in rows:
            if len(row) > len(header):
                return f"{path.name} line {rows.line_num}: {len(row)} fields, but the header has {len(header)}"
    return None


class _Problems:
    """The first problem found in each row, so a report names one thing per row."""

    def __init__(self, frame: pd.DataFrame, name: str, unit: str, first: int, ignored_columns: list[str]) -> None:
        import pandas as pd

        self.frame = frame
        self.ignored_columns = ignored_columns
        self.name = name
        self.unit = unit
        self.first_number = first  # the line or row number of index 0
        self.first: pd.Series = pd.Series(None, index=frame.index, dtype=object)

    def flag(self, mask: pd.Series, describe: Any, column: str | None = None) -> None:
        fresh = mask & self.first.isna()
        if not fresh.any():
            return
        values = self.frame.loc[fresh, column] if column else self.first[fresh]
        self.first.loc[fresh] = [describe(value) for value in values]

    def where(self, index: Any) -> str:
        position = int(index) + self.first_number
        return f"{self.name} {self.unit} {position}"

    def settle(self, skip_bad: bool) -> tuple[pd.Series, list[str]]:
        bad = self.first.notna()
        messages = [f"{self.where(i)}: {text}" for i, text in self.first[bad].items()]
        if messages and not skip_bad:
            raise InputError(messages[0])
        return ~bad, messages


def _numbers(problems: _Problems, column: str, allow_zero: bool) -> pd.Series:
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(problems.frame[column], errors="coerce")
    problems.flag(values.isna(), lambda v: f"{column} {v!r} is not a number", column)
    finite = pd.Series(np.isfinite(values.fillna(0.0).to_numpy(dtype="float64")), index=values.index)
    problems.flag(~finite, lambda v: f"{column} {v!r} is not finite", column)
    too_small = values < 0 if allow_zero else values <= 0
    word = "negative" if allow_zero else "not positive"
    problems.flag(too_small, lambda v: f"{column} {v!r} is {word}", column)
    return values


def _timestamps(problems: _Problems) -> pd.Series:
    """Return int64 UTC microseconds (0 where the row is bad)."""
    import pandas as pd

    raw = problems.frame["timestamp"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        problems.flag(raw.isna(), lambda v: "timestamp is empty", "timestamp")
        return raw.dt.tz_convert("UTC").dt.as_unit("us").fillna(pd.Timestamp(0, tz="UTC")).astype("int64")
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        problems.flag(raw.notna(), lambda v: f"timestamp {str(v)!r} has no time zone", "timestamp")
        return pd.Series(0, index=raw.index, dtype="int64")
    text = raw.astype(str).str.strip().str.upper()  # RFC 3339 allows a lower-case t and z
    seconds = pd.to_numeric(text, errors="coerce")
    is_epoch = seconds.notna()
    has_zone = text.str.contains(_ZONE_SUFFIX, regex=True)
    problems.flag(text == "", lambda v: "timestamp is empty", "timestamp")
    problems.flag(~is_epoch & ~has_zone, lambda v: f"timestamp {v!r} has no time zone (add Z or an offset)",
                  "timestamp")
    parsed = pd.to_datetime(text.where(~is_epoch & has_zone), utc=True, format="ISO8601", errors="coerce")
    problems.flag(~is_epoch & has_zone & parsed.isna(), lambda v: f"timestamp {v!r} is not ISO-8601", "timestamp")
    first_epoch = (FIRST_SUPPORTED_DATE - date(1970, 1, 1)).days * 86_400
    out_of_range = is_epoch & ((seconds < first_epoch) | (seconds > _LATEST_EPOCH_SECONDS))
    problems.flag(out_of_range, lambda v: f"timestamp {v!r} is out of range for epoch seconds (supported dates "
                  f"{SUPPORTED_DATES})", "timestamp")
    first = pd.Timestamp(FIRST_SUPPORTED_DATE, tz="UTC")
    last = pd.Timestamp(LAST_SUPPORTED_DATE, tz="UTC") + pd.Timedelta(days=1)
    unsupported = parsed.notna() & ((parsed < first) | (parsed >= last))
    problems.flag(unsupported, lambda v: f"timestamp {v!r} is outside the supported dates {SUPPORTED_DATES}",
                  "timestamp")
    result = pd.Series(0, index=raw.index, dtype="int64")
    good = parsed.notna() & ~unsupported
    if good.any():
        result[good] = parsed[good].dt.as_unit("us").astype("int64")
    epoch_ok = is_epoch & ~out_of_range
    result[epoch_ok] = (seconds[epoch_ok] * 1_000_000).round().astype("int64")
    return result


def _symbols(problems: _Problems, symbol: str | None) -> pd.Series:
    import pandas as pd

    frame = problems.frame
    if "symbol" not in frame.columns:
        if symbol is None:
            raise InputError(f"{problems.name} has no symbol column: pass --symbol")
        if symbol not in INSTRUMENTS:
            raise InputError(f"unknown symbol {symbol!r} (known: {', '.join(INSTRUMENTS)})")
        return pd.Series(symbol, index=frame.index, dtype=object)
    symbols = frame["symbol"].astype(str).str.strip().str.upper()
    problems.flag(~symbols.isin(list(INSTRUMENTS)), lambda v: f"unknown symbol {v!r}", "symbol")
    return symbols


def _check_header(frame: pd.DataFrame, name: str, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
    """Refuse a header missing a column or naming a known one mistyped; return the foreign columns it ignores.

    A column like an absent known one (`tickcount` for `tick_count`) is taken as its typo: read
    silently as foreign, the value the user meant would be lost.
    """
    import difflib

    known = (*required, *optional)
    unknown = [column for column in frame.columns if column not in known]
    absent = [column for column in known if column not in frame.columns]
    for column in unknown:
        close = difflib.get_close_matches(column, absent, n=1, cutoff=_TYPO_LIKENESS)
        if close:
            raise InputError(f"{name}: unknown column {column!r} (did you mean {close[0]}?); "
                             f"known columns: {','.join(known)}")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        found = ",".join(frame.columns) or "(nothing)"
        raise InputError(
            f"{name}: header must contain {','.join(required)}[,symbol]; missing {', '.join(missing)} (found {found})"
        )
    return unknown


def _begin(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
           symbol: str | None, raw: pd.DataFrame | None = None) -> tuple[_Problems, pd.Series, pd.Series]:
    """Load a file (or take a part of a CSV), check its header; return its problem tracker, symbols and UTC microseconds."""
    unit, first = "line", 2
    if raw is None:
        raw, unit, first = _load(path)
    ignored = _check_header(raw, path.name, required, optional)
    problems = _Problems(raw, path.name, unit, first, ignored)
    return problems, _symbols(problems, symbol), _timestamps(problems)


def _finish(problems: _Problems, columns: dict[str, Any], symbol: str | None, skip_bad: bool) -> ParsedRows:
    """Raise on the first bad row (or drop bad rows when skipping); keep --symbol's rows only."""
    import pandas as pd

    good, skipped = problems.settle(skip_bad)
    frame = pd.DataFrame(columns)[good]
    others: dict[str, int] = {}
    if symbol is not None and "symbol" in problems.frame.columns:
        chosen = frame["symbol"] == symbol
        others = {str(name): int(count) for name, count in frame.loc[~chosen, "symbol"].value_counts().sort_index().items()}
        frame = frame[chosen]
    return ParsedRows(frame.reset_index(drop=True), skipped, others, problems.ignored_columns)


def read_ticks(path: Path, symbol: str | None = None, skip_bad: bool = False) -> ParsedRows:
    """Read and validate a ticks file; return columns symbol, ts (UTC us), price, size in file order.

    A CSV whose rows must all be good is validated as it is read, CSV_PART_ROWS lines at a time: a
    bad line (epoch milliseconds on line 2, say) is reported before the rest of a big file is read.
    """
    if skip_bad or check_input_file(path) != "csv":
        return _ticks(path, symbol, skip_bad)
    import pandas as pd

    parts = [_ticks(path, symbol, False, raw) for raw in _csv_parts(path, CSV_PART_ROWS)]
    others: dict[str, int] = {}
    for part in parts:
        for name, count in part.other_symbols.items():
            others[name] = others.get(name, 0) + count
    frame = parts[0].frame if len(parts) == 1 else pd.concat([part.frame for part in parts], ignore_index=True)
    return ParsedRows(frame, [], dict(sorted(others.items())), parts[0].ignored_columns)


def _ticks(path: Path, symbol: str | None, skip_bad: bool, raw: pd.DataFrame | None = None) -> ParsedRows:
    problems, symbols, ts = _begin(path, TICK_COLUMNS, OPTIONAL_TICK_COLUMNS, symbol, raw)
    price = _numbers(problems, "price", allow_zero=False)
    size = _numbers(problems, "size", allow_zero=True)
    return _finish(problems, {"symbol": symbols, "ts": ts, "price": price, "size": size}, symbol, skip_bad)


def read_candles(path: Path, symbol: str | None = None, skip_bad: bool = False) -> ParsedRows:
    """Read and validate a candles file; return columns symbol, ts (UTC us), OHLCV, counts."""
    import pandas as pd

    problems, symbols, ts = _begin(path, CANDLE_COLUMNS, OPTIONAL_CANDLE_COLUMNS, symbol)
    raw = problems.frame
    problems.flag((ts % 60_000_000) != 0, lambda v: f"timestamp {v!r} is not the start of a minute", "timestamp")
    prices = {name: _numbers(problems, name, allow_zero=False) for name in ("open", "high", "low", "close")}
    volume = _numbers(problems, "volume", allow_zero=True)
    counts = {}
    for name, default, lowest in (("tick_count", UNKNOWN_TICK_COUNT, UNKNOWN_TICK_COUNT), ("dropped_ticks", 0, 0)):
        if name in raw.columns:
            values = pd.to_numeric(raw[name], errors="coerce")
            problems.flag(values.isna() | (values < lowest) | (values % 1 != 0) | (values > MAX_TICK_COUNT),
                          lambda v, n=name, low=lowest: f"{n} {v!r} is not a whole number from {low} to "
                          f"{MAX_TICK_COUNT:,}", name)
            counts[name] = values.fillna(0).astype("int64")
        else:
            counts[name] = pd.Series(default, index=raw.index, dtype="int64")
    high, low = prices["high"], prices["low"]
    inconsistent = (high < prices["open"]) | (high < prices["close"]) | (low > prices["open"]) | (
        low > prices["close"]) | (high < low)
    problems.flag(inconsistent, lambda v: "high/low do not contain open and close")
    duplicate = pd.Series(list(zip(symbols, ts, strict=False)), index=raw.index).duplicated()
    problems.flag(duplicate, lambda v: f"second candle for the same symbol and minute ({v})", "timestamp")
    return _finish(problems, {"symbol": symbols, "ts": ts, **prices, "volume": volume, **counts}, symbol, skip_bad)
