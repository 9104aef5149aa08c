"""Candle work behind `slob candles`: aggregate ticks, import, export and list candles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slob_cli.adapters.store.db import from_us, to_iso
from slob_cli.core.models import Candle
from slob_cli.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from slob_cli.adapters.file_reading import ParsedRows
    from slob_cli.adapters.store import Store

Progress = Callable[[int], None]


@dataclass
class AggregateReport:
    """What `candles aggregate` did."""

    source: str
    ticks: int
    late_ticks: int
    candles: int
    synthetic_candles: int
    gaps: int
    symbols: list[str] = field(default_factory=list)
    other_symbols: dict[str, int] = field(default_factory=dict)  # ticks of a file left out by --symbol
    partial_minutes: int = 0  # first/last minutes of recordings that did not cover them whole: left out
    partial_minute_ticks: int = 0  # the ticks of those minutes: read (in `ticks`), in no candle
    ignored_columns: list[str] = field(default_factory=list)  # a ticks file's columns slob does not read

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass
class ImportReport:
    """What `candles import` did."""

    file: str
    imported: int
    new: int
    replaced: int  # stored candles the file gave other values (an equal one is left as it is)
    unchanged: int
    skipped: int
    problems: list[str] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    other_symbols: dict[str, int] = field(default_factory=dict)  # rows left out by --symbol, per symbol
    ignored_columns: list[str] = field(default_factory=list)  # the file's columns slob does not read

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def aggregate_candles(
    store: Store,
    symbols: list[str] | None = None,
    ticks_file: Path | None = None,
    file_symbol: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    fill_gaps_up_to: int = 0,
    progress: Progress | None = None,
    parsed: ParsedRows | None = None,
    check: Callable[[list[Candle]], None] | None = None,
) -> AggregateReport:
    """Build M1 candles from stored ticks (or a ticks file) and upsert them in one transaction.

    `start`/`end` are widened to whole minutes: a candle built from part of its minute would replace
    the whole one. `parsed`: the ticks file as read_ticks read it already (else it is read here).
    `check` sees the candles before they are written (and may refuse them by raising).
    """
    from slob_cli.core.models import floor_minute
    from slob_cli.runtime.batch import aggregate_frame, aggregate_store

    if start is not None:
        start = floor_minute(start)
    if end is not None and floor_minute(end) != end:
        end = floor_minute(end) + timedelta(minutes=1)

    if ticks_file is not None:
        from slob_cli.adapters.file_reading import read_ticks

        parsed = parsed if parsed is not None else read_ticks(ticks_file, file_symbol)
        frame, others, ignored = parsed.frame, parsed.other_symbols, parsed.ignored_columns
        if start is not None or end is not None:
            frame = _within(frame, start, end)
        if symbols:
            frame = frame[frame["symbol"].isin(symbols)]
        result = aggregate_frame(frame, fill_gaps_up_to)
        source, left_out, left_out_ticks = str(ticks_file), 0, 0  # a file says nothing of the runs that recorded it
        if progress is not None:
            progress(len(frame))
    else:
        result = aggregate_store(store, symbols, start, end, fill_gaps_up_to, progress)
        source, others, ignored = "ticks table", {}, []
        partial = recorded_partial_minutes(store, {candle.symbol for candle in result.candles})
        whole = [candle for candle in result.candles if (candle.symbol, candle.ts) not in partial]
        left_out = len(result.candles) - len(whole)
        left_out_ticks = sum(candle.tick_count for candle in result.candles if (candle.symbol, candle.ts) in partial)
        result.candles = whole
    if check is not None:
        check(result.candles)
    store.upsert_candles(result.candles, source="aggregate", keep_equal=True)  # equal bars keep their source
    return AggregateReport(
        source=source, ticks=result.ticks, late_ticks=result.late_ticks, candles=len(result.candles),
        synthetic_candles=sum(1 for c in result.candles if c.synthetic), gaps=len(result.gaps),
        symbols=sorted({c.symbol for c in result.candles}), other_symbols=others,
        ignored_columns=ignored, partial_minutes=left_out, partial_minute_ticks=left_out_ticks,
    )


RECORDING_COMMANDS = ("record", "trade", "run", "paper")  # sessions that store the ticks they receive


def recorded_partial_minutes(store: Store, symbols: set[str]) -> set[tuple[str, datetime]]:
    """Return (symbol, minute) of the minutes a session stored ticks of without covering them from start to end.

    As the live engine discards the bar of the minute it subscribed in (runtime/minute_gate), a
    recording's first minute with ticks is partial (the trades before its subscription never reached
    it) unless the run began five minutes before that minute did (a subscription takes seconds, and
    against `sim-gateway --speed 60` a real second is a simulated minute); its last one is partial
    unless the run ended after that minute was over (a run still going, or killed before writing its
    end, did not).
    """
    minute_us = 60_000_000
    subscribed_within = 5 * minute_us
    partial: set[tuple[str, datetime]] = set()
    for symbol, spans in recording_spans(store, symbols).items():
        for started, ended, first, last in spans:
            first_minute, last_minute = first // minute_us * minute_us, last // minute_us * minute_us
            if started + subscribed_within > first_minute:
                partial.add((symbol, from_us(first_minute)))
            if ended is None or ended < last_minute + minute_us:
                partial.add((symbol, from_us(last_minute)))
    return partial


SPAN_SLACK_US = 300_000_000  # a run's start is rebased onto a simulated gateway's clock: five minutes of slack
NO_END_US = 2**63 - 1


def recording_spans(store: Store, symbols: set[str] | list[str]) -> dict[str, list[tuple[int, int | None, int, int]]]:
    """Return per symbol (started_at, ended_at or None, first tick ts, last tick ts) of each run of RECORDING_COMMANDS
    that stored ticks of it, in microseconds; the runs are read once, for every symbol.

    Ticks have no index by run, so each run's are found by index probes within its own life
    (run_tick_span): from its start to its end, with slack. A run killed before writing its end died
    before the next run began (every run row is written under the store's run lock), so on the wall
    clock that next run's start ends its window; without one (the newest run, or one on a simulated
    clock, whose times say nothing of the wall clock) the window stays open.
    """
    runs = store.run_span_rows()
    spans: dict[str, list[tuple[int, int | None, int, int]]] = {symbol: [] for symbol in symbols}
    for index, run in enumerate(runs):
        if run["command"] not in RECORDING_COMMANDS:
            continue
        low, high = _tick_window(runs, index)
        for symbol, found in spans.items():
            span = store.run_tick_span(symbol, run["id"], low, high)
            if span is not None:
                found.append((run["started_at"], run["ended_at"], *span))
    return spans


def run_newest_tick_us(store: Store, run_id: int) -> int | None:
    """Return when the newest tick a run stored (of any symbol) traded, in microseconds, or None (as recording_spans)."""
    runs = store.run_span_rows()
    index = next((number for number, run in enumerate(runs) if run["id"] == run_id), None)
    if index is None:
        return None
    low, high = _tick_window(runs, index)
    spans = [store.run_tick_span(symbol, run_id, low, high) for symbol in store.symbols_in("ticks")]
    return max((span[1] for span in spans if span is not None), default=None)


def _tick_window(runs: list[dict[str, Any]], index: int) -> tuple[int, int]:
    """Return [low, high) in which runs[index] stored its ticks: from its start to its end, else to the next
    wall-clock run's start (else open), with slack either side."""
    from itertools import islice

    from slob_cli.runtime.views import on_sim_clock

    run = runs[index]
    low = run["started_at"] - SPAN_SLACK_US
    if run["ended_at"] is not None:
        return low, int(run["ended_at"]) + SPAN_SLACK_US
    if on_sim_clock(run):
        return low, NO_END_US
    successor = next((other for other in islice(runs, index + 1, None) if not on_sim_clock(other)), None)
    if successor is None or successor["started_at"] < run["started_at"]:  # none yet, or a clock set back
        return low, NO_END_US
    return low, int(successor["started_at"]) + SPAN_SLACK_US


def _within(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    from slob_cli.adapters.store.db import to_us

    if start is not None:
        frame = frame[frame["ts"] >= to_us(start)]
    if end is not None:
        frame = frame[frame["ts"] < to_us(end)]
    return frame


@dataclass
class CandleFile:
    """A candles file read and validated, not yet stored."""

    path: Path
    parsed: Any  # adapters.file_reading.ParsedRows
    read: int  # rows read: valid, skipped and left out


def read_candle_file(path: Path, symbol: str | None = None, skip_bad: bool = False,
                     progress: Progress | None = None) -> CandleFile:
    """Read and validate a candles file before any store is opened: a bad file writes (and creates) nothing."""
    from slob_cli.adapters.file_reading import read_candles

    parsed = read_candles(path, symbol, skip_bad)
    read = len(parsed.frame) + len(parsed.skipped) + sum(parsed.other_symbols.values())
    if progress is not None:
        progress(read)
    return CandleFile(path, parsed, read)


def store_candle_file(store: Store, file: CandleFile, progress: Progress | None = None,
                      check: Callable[[list[Candle]], None] | None = None) -> ImportReport:
    """Upsert a read candles file's good rows in one transaction; return what the import did.

    `check` sees the candles before they are written (and may refuse them by raising).
    """
    parsed = file.parsed
    frame = parsed.frame
    candles = [
        Candle(row.symbol, from_us(row.ts), row.open, row.high, row.low, row.close, row.volume, row.tick_count,
               row.dropped_ticks)
        for row in frame.itertuples(index=False)
    ]
    if check is not None:
        check(candles)
    counts = store.import_candles(candles, progress)
    if progress is not None and file.read > len(candles):
        progress(file.read - len(candles))
    return ImportReport(file=str(file.path), imported=len(candles), new=counts.new, replaced=counts.replaced,
                        unchanged=counts.unchanged, skipped=len(parsed.skipped),
                        problems=parsed.skipped, symbols=sorted(set(frame["symbol"])),
                        other_symbols=parsed.other_symbols, ignored_columns=parsed.ignored_columns)


def candles_table(
    store: Store, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> pd.DataFrame:
    """Return stored candles as a frame with columns symbol, ts (UTC us), OHLCV and counts."""
    return store.candle_rows_frame(symbol, start, end)


def export_candles(
    store: Store, fmt: str, output: Path | None, symbol: str | None = None, start: datetime | None = None,
    end: datetime | None = None, zone: ZoneInfo | None = None,
) -> int:
    """Write stored candles to a file (or stdout); return how many. CSV and jsonl stream row by row (no pandas)."""
    if fmt in ("csv", "jsonl"):
        from slob_cli.adapters.files import write_candles_csv, write_candles_jsonl

        writer = write_candles_csv if fmt == "csv" else write_candles_jsonl
        return writer(store.candle_export_rows(symbol, start, end), output, zone)
    if fmt != "parquet":
        raise InputError(f"unknown format {fmt!r} (choose csv, parquet or jsonl)")
    if output is None:
        raise InputError("parquet is binary: pass -o FILE")
    from slob_cli.adapters.files import write_candles_parquet

    return write_candles_parquet(candles_table(store, symbol, start, end), output, zone)


def export_partitioned(store: Store, output: Path, symbol: str | None = None, start: datetime | None = None,
                       end: datetime | None = None) -> int:
    """Write stored candles as a hive-partitioned Parquet dataset (symbol=/date=) under `output`; return rows.

    A partition is replaced whole, so the range is widened to the whole New York dates it touches:
    a range that cut into a day would otherwise leave only its part of that day in the dataset.
    """
    from slob_cli.adapters.files import write_partitioned

    start = _new_york_midnight(start, up=False) if start is not None else None
    end = _new_york_midnight(end, up=True) if end is not None else None
    return write_partitioned(store.candle_export_frame(symbol, start, end), output)


def _new_york_midnight(moment: datetime, up: bool) -> datetime:
    """Return the New York midnight (in UTC) at or before moment, or at or after it when `up`."""
    from slob_cli.core.sessions import NEW_YORK

    local = moment.astimezone(NEW_YORK)
    day = local.date() + timedelta(days=1 if up and local.time() != time(0) else 0)
    return datetime.combine(day, time(0), NEW_YORK).astimezone(timezone.utc)


def last_candles(store: Store, symbol: str, count: int) -> list[Candle]:
    """Return the newest `count` candles of a symbol, oldest first."""
    return store.last_candles(symbol, count)


def candle_dict(candle: Candle, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """Return a JSON-ready dict of a candle (time in UTC `Z`, or in zone with its offset)."""
    return {
        "timestamp": to_iso(candle.ts) if zone is None else candle.ts.astimezone(zone).isoformat(),
        "symbol": candle.symbol, "open": candle.open, "high": candle.high, "low": candle.low,
        "close": candle.close, "volume": candle.volume, "tick_count": candle.tick_count,
        "dropped_ticks": candle.dropped_ticks,
    }


def refuse_a_tracked_day(store: Store, doing: str, leave_out: Callable[[date], str],
                         later: str) -> Callable[[list[Candle]], None]:
    """Return a check that refuses (exit 2) candles of the day a running trade/run/paper session tracks.

    Replacing them under it would change the bars its setups were found on (runtime.views, as `setups track`).
    """
    from slob_cli.core.sessions import trading_date_of
    from slob_cli.runtime.views import refuse_the_day_a_session_tracks as refuse

    def check(candles: list[Candle]) -> None:
        refuse(store, lambda day: any(trading_date_of(candle.ts) == day for candle in candles), doing,
               "replace the candles it tracks under it", leave_out, later)

    return check


def day_start(day: date) -> str:
    """Return the start of a New York date as ISO-8601 with its offset (a --to that leaves the day out)."""
    from slob_cli.core.sessions import NEW_YORK

    return datetime.combine(day, time(0), NEW_YORK).isoformat(timespec="minutes")
