"""Run the setup tracker over stored or live candles and keep its candidates and events in the store.

Replay (`slob setups track`), live (`LiveTracking`) and restore after a stop all drive the very same
SetupTracker; restore rebuilds it by feeding the day's stored candles again (the tracker is a pure
function of its inputs) and checks the replayed events against the stored ones by sequence number.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from slob_cli.adapters.store.db import price_bars, to_us
from slob_cli.adapters.store.schema import DAY_US
from slob_cli.adapters.store.setups import (
    ComputedDay,
    DayInputs,
    DaySync,
    EventRow,
    SetupRepository,
    StoredEvent,
    config_fingerprint,
    event_rows,
)
from slob_cli.core.models import Bar, Candle
from slob_cli.core.strategy.tracker import ReferenceWindow, SetupTracker
from slob_cli.errors import StoreError

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig
    from slob_cli.core.strategy.events import SetupEvent
    from slob_cli.core.strategy.tracker import CandidateView
    from slob_cli.runtime.track_split import DayHelper

log = logging.getLogger("slob.tracking")
UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
MINUTE_US = 60_000_000
DAYS_PER_COMMIT = 10  # days computed, then written in one transaction by track_range (a live writer waits for these)


def day_window(trading_date: date) -> tuple[datetime, datetime]:
    """Return [New York midnight, next New York midnight) of a trading date, in UTC."""
    start = datetime.combine(trading_date, time(0), NEW_YORK)
    end = datetime.combine(trading_date + timedelta(days=1), time(0), NEW_YORK)
    return start.astimezone(UTC), end.astimezone(UTC)


def trading_dates(start: date, end: date) -> Iterator[date]:
    """Yield every calendar date from start to end inclusive."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def stored_event(event: SetupEvent, seq: int) -> StoredEvent:
    """Return the store row of a tracker event numbered `seq` within its (symbol, trading_date)."""
    return StoredEvent(event.symbol, event.trading_date, seq, event.bar_time, event.type.value,
                       event.candidate_id, event.to_dict())


@dataclass
class Step:
    """What tracker calls produced: their events, numbered, and the candidates that changed (by id)."""

    events: list[SetupEvent] = field(default_factory=list)
    records: list[StoredEvent] = field(default_factory=list)
    changed: dict[str, dict[str, Any]] = field(default_factory=dict)


class RecordingTracker:
    """A SetupTracker that numbers its events per trading date and notices changed candidates."""

    def __init__(self, tracker: SetupTracker, first_seq: Callable[[date], int]) -> None:
        self.tracker = tracker
        self._first_seq = first_seq
        self._next_seq: dict[date, int] = {}
        self._written: dict[str, dict[str, Any]] = {}

    def on_candle(self, candle: Candle, into: Step | None = None, look: bool = True) -> Step:
        """Feed one closed candle; add what it caused to `into` (or a new Step).

        `look=False` leaves the candidates for a later on_time to compare (a replay looks once).
        """
        step = into if into is not None else Step()
        events = self.tracker.on_candle(candle)
        if events:
            self._record(events, step, look)
        return step

    def on_time(self, now: datetime, into: Step | None = None) -> Step:
        """Move the tracker's clock to `now` and look at every candidate of the day."""
        step = into if into is not None else Step()
        self._record(self.tracker.on_time(now), step)
        return step

    def _record(self, events: list[SetupEvent], step: Step, look: bool = True) -> None:
        step.events.extend(events)
        for event in events:
            seq = self._next_seq.get(event.trading_date) or self._first_seq(event.trading_date)
            self._next_seq[event.trading_date] = seq + 1
            step.records.append(stored_event(event, seq))
        if not look:
            return
        for view in self.tracker.candidates():
            row = view.to_dict()
            if self._written.get(view.id) != row:
                self._written[view.id] = row
                step.changed[view.id] = row

    def candidates(self) -> list[CandidateView]:
        """Return the tracker's candidates of the current day."""
        return self.tracker.candidates()

    def resume(self, first_seq: Callable[[date], int]) -> RecordingTracker:
        """Return a recorder continuing this one's tracker, numbering new events from `first_seq`."""
        resumed = RecordingTracker(self.tracker, first_seq)
        resumed._written = dict(self._written)
        return resumed


def replay_day(recorder: RecordingTracker, candles: Sequence[Candle], until: datetime) -> Step:
    """Feed a day's candles that closed by `until`, then run the clock to `until`; return one Step."""
    total = Step()
    for candle in candles:
        if candle.end > until:
            break
        recorder.on_candle(candle, total, look=False)
    recorder.on_time(until, total)  # one look at the day's candidates, after its last candle
    return total


@dataclass(frozen=True)
class TrackResult:
    """Outcome of tracking a date range: every candidate of the range and what the store gained."""

    candidates: list[dict[str, Any]]
    days: int
    candles: int | None  # None when not asked for (count_candles=False)
    new_events: int
    changed_setups: int
    replaced_days: list[date]
    rendered: Any = None  # what `render` made of the candidates (track_range), or None


def track_range(
    store: Store,
    symbol: str,
    start_date: date,
    end_date: date,
    config: StrategyConfig,
    calendar: TradingCalendar,
    now: datetime,
    replace_divergent: bool = True,
    count_candles: bool = True,
    progress: Callable[[int, int], None] | None = None,
    helper: DayHelper | None = None,
    render: Callable[[list[dict[str, Any]]], Any] | None = None,
) -> TrackResult:
    """Run the tracker over stored candles day by day and write candidates and events to the store.

    The clock runs to the end of each day but never past `now`, so a day that has ended closes its
    open candidates (MARKET_CLOSED) while a session still running leaves them in their state.
    Running it twice over the same candles writes nothing new the second time; a finished day whose
    input fingerprint (`day_fingerprint`) and stored counts are what its last computation recorded is not
    computed again: its stored candidates are the result. Each day runs on a tracker of its own
    (no tracker state crosses trading dates), a few days in memory at a time. `progress(done, total)`
    hears of every day done. A `helper` (runtime.track_split) shares the range's days with this process
    meanwhile, block by block: this one computes the blocks it claims and takes the helper's, computing
    here those the helper did not give (it failed or died). `render(candidates)` (say, the output's
    text) runs once every day is computed, while the last writes are still going on: its result is
    the TrackResult's `rendered`, and it is only returned when every write has succeeded.
    """
    from slob_cli.core.sessions import trading_date_of

    total = sum(map(calendar.is_session, trading_dates(start_date, min(end_date, trading_date_of(now)))))  # begun by now
    rows: list[dict[str, Any]] = []
    days = 0
    final_us = None
    synced: list[tuple[date, DaySync]] = []  # filled by the writes, read once they are all done
    computed: list[ComputedDay] = []

    def write(into: Store, batch: list[ComputedDay]) -> None:  # run by the write-behind thread, one transaction
        synced.extend(_store_days(SetupRepository(into), symbol, batch, config, now, replace_divergent))

    def computed_here(first: date, last: date) -> Iterator[DayOutcome]:
        for stored in _stored_days(store, symbol, first, last, config, calendar, now):
            yield day_outcome(symbol, stored)

    outcomes = computed_here(start_date, end_date) if helper is None else helper.outcomes(computed_here)
    with _collection_paused(), store.write_behind() as behind:
        for outcome in outcomes:
            days += 1
            final_us = outcome.final_us
            if progress is not None:
                progress(days - 1, total)
            rows += outcome.rows
            if outcome.computed is None:
                continue
            computed.append(outcome.computed)
            if len(computed) == DAYS_PER_COMMIT:  # a commit per day would cost more than computing the day
                behind.submit(functools.partial(write, batch=computed))
                computed = []
        if computed:
            behind.submit(functools.partial(write, batch=computed))
        rows.sort(key=_row_order)
        rendered = None if render is None else render(rows)  # while the writer finishes
    if progress is not None:
        progress(days, total)
    candles = _candles_final(store, symbol, start_date, final_us) if count_candles else None
    return TrackResult(rows, days, candles, sum(sync.new_events for _, sync in synced),
                       sum(sync.changed_setups for _, sync in synced), [day for day, sync in synced if sync.replaced],
                       rendered)


def reuse_range(
    store: Store, symbol: str, start_date: date, end_date: date, config: StrategyConfig, calendar: TradingCalendar,
    now: datetime, count_candles: bool = True,
) -> TrackResult | None:
    """Return what track_range would, without writing, when every day of the range is reusable; else None.

    Reusable: the day has ended and its inputs and stored counts are what its last computation
    recorded. Reads only, so a read-only store will do (and no write lock is taken).
    """
    rows: list[dict[str, Any]] = []
    days = 0
    final_us = None
    for stored in _stored_days(store, symbol, start_date, end_date, config, calendar, now):
        if stored.kept is None:
            return None
        rows += stored.kept
        days += 1
        final_us = stored.final_us
    rows.sort(key=_row_order)
    candles = _candles_final(store, symbol, start_date, final_us) if count_candles else None
    return TrackResult(rows, days, candles, 0, 0, [])


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while days are read, replayed and written.

    That makes objects by the hundred thousand and no reference cycles: reference counting frees
    them all, and the collector's passes over them were ~2 % of `setups track`.
    """
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _candles_final(store: Store, symbol: str, start_date: date, final_us: int | None) -> int:
    """Return how many candles the days from start_date to the last one yielded hold, final by its `until`.

    The days' windows follow one another (New York midnight to midnight), so one count covers them.
    """
    return 0 if final_us is None else store.candle_count_between(symbol, to_us(day_window(start_date)[0]), final_us)


def _row_order(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["trading_date"], row["liq1_time"] or "", row["id"]


BarRow = tuple[int, float, float, float, float, int]  # (ts us, open, high, low, close, tick_count)
# A reference window as stored: (max high, min low, real bars, the last real bars' rows), see ReferenceWindow
ReferenceRows = tuple[float | None, float | None, int, list[BarRow]]
NO_REFERENCE: ReferenceRows = (None, None, 0, [])


@dataclass
class _StoredDay:
    """One trading day of a range as stored: what to replay, or the rows kept from its last computation."""

    day: date
    until: datetime
    tracker: SetupTracker
    reference: ReferenceRows  # the reference window summed up (SetupTracker.replay_window)
    bar_rows: list[BarRow]  # the session's bars
    digest: str | None  # its fingerprint (day_fingerprint); None while the day is still running
    final_us: int  # the day's candles final by `until` are those labelled below this
    kept: list[dict[str, Any]] | None  # the stored rows, when the day need not be computed again


class DayOutcome(NamedTuple):
    """One trading day of a range, done: its candidate rows, and what to write (None when nothing is).

    Made by `day_outcome`, here or in a helper process (runtime.track_split), which sends it marshalled.
    """

    day: date
    final_us: int  # the day's candles final by its `until` are those labelled below this
    rows: list[dict[str, Any]]
    computed: ComputedDay | None


def day_outcome(symbol: str, stored: _StoredDay) -> DayOutcome:
    """Return a stored day's outcome: its kept rows, or its replay (events, rows and inputs to write)."""
    if stored.kept is not None:
        return DayOutcome(stored.day, stored.final_us, stored.kept, None)
    high, low, count, last = stored.reference
    reference = ReferenceWindow(high, low, count, price_bars(symbol, last))
    records, day_rows = replay_bars(stored.tracker, stored.day, reference, price_bars(symbol, stored.bar_rows),
                                    stored.until)
    inputs = None if stored.digest is None else DayInputs(stored.digest, len(records), len(day_rows))
    return DayOutcome(stored.day, stored.final_us, day_rows, ComputedDay(stored.day, records, day_rows, inputs))


def _stored_days(
    store: Store, symbol: str, start_date: date, end_date: date, config: StrategyConfig, calendar: TradingCalendar,
    now: datetime,
) -> Iterator[_StoredDay]:
    """Yield the trading days of [start_date, end_date] begun by `now`: what to replay, or the rows kept.

    A finished day whose fingerprint and counts are what its last computation recorded reads no
    candle. Any other day reads its reference window summed up (its extremes, its real bars and the
    last few of them) and its session bar by bar.
    """
    repository = SetupRepository(store)
    recorded = repository.tracked_inputs(symbol, start_date, end_date)
    stored_events = repository.event_counts(symbol, start_date, end_date)
    stored_rows = repository.stored_rows(symbol, start_date, end_date)
    head = (symbol, config_fingerprint(config)[0], tracker_code_fingerprint())
    # Read before any candle of the range: a candle written meanwhile makes the next run look again.
    versions = _CandleVersions(store, symbol, to_us(day_window(start_date)[0]), to_us(min(day_window(end_date)[1], now)))
    for day in trading_dates(start_date, end_date):
        day_start, day_end = day_window(day)
        if day_start >= now:
            return
        if not calendar.is_session(day):  # a weekend or exchange holiday: nothing to track, nothing recorded
            continue
        until = min(day_end, now)
        final_us = to_us(until) - MINUTE_US + 1  # a candle is final by `until` when its label is below this
        tracker = SetupTracker(symbol, config, calendar)
        session = tracker.session(day)
        iso = day.isoformat()
        kept = stored_rows.get(iso, [])
        reads = None if session is None else (
            to_us(session.reference_start), to_us(session.session_start), min(to_us(session.session_end), final_us))
        fingerprint = None
        if day_end <= now:
            fingerprint = day_fingerprint(head, iso, tracker.window(day), reads,
                                          None if reads is None else versions.between(reads[0], reads[2]))
            if recorded.get(iso) == DayInputs(fingerprint, stored_events.get(iso, 0), len(kept)):
                yield _StoredDay(day, until, tracker, NO_REFERENCE, [], fingerprint, final_us, kept)
                continue
        reference, bar_rows = NO_REFERENCE, []
        if reads is not None:
            start_us, open_us, end_us = reads
            reference = store.candle_reference_rows(symbol, start_us, min(open_us, end_us), tracker.reference_tail())
            bar_rows = store.candle_bar_rows(symbol, open_us, end_us)
        yield _StoredDay(day, until, tracker, reference, bar_rows, fingerprint, final_us, None)


def _store_days(
    repository: SetupRepository, symbol: str, computed: Sequence[ComputedDay], config: StrategyConfig, now: datetime,
    replace_divergent: bool,
) -> list[tuple[date, DaySync]]:
    """Make the store hold computed days (in one transaction, the caller's), in their order.

    A run of days for which nothing is stored goes in by a few statements (`insert_days`); every
    other day is compared with what is stored, as `_store_day` does.
    """
    from itertools import groupby

    fresh = repository.fresh_days(symbol, [day.day for day in computed])
    synced: list[tuple[date, DaySync]] = []
    for new, run in groupby(computed, key=lambda computed_day: computed_day.day in fresh):
        days = list(run)
        if new:
            synced += zip([day.day for day in days], repository.insert_days(symbol, days, config, now), strict=True)
            continue
        for day, records, rows, inputs in days:
            synced.append((day, _store_day(repository, symbol, day, config, records, rows, now, inputs,
                                           replace_divergent)))
    return synced


def _store_day(
    repository: SetupRepository, symbol: str, day: date, config: StrategyConfig,
    records: Sequence[StoredEvent | EventRow], rows: Sequence[Mapping[str, Any]], now: datetime,
    inputs: DayInputs | None, replace_divergent: bool,
) -> DaySync:
    """Make the store hold a replayed day's events and candidates, and what the day was computed from.

    `inputs` is None for a day still running: a live log that runs ahead of this replay is left alone.
    """
    mismatch = repository.config_mismatch(symbol, day, config)
    if mismatch and not replace_divergent:
        raise StoreError(mismatch)
    sync = repository.sync_day(symbol, day, records, rows, now, replace_divergent or mismatch is not None,
                               keep_ahead=inputs is None)
    repository.mark_day_config(symbol, day, config, now, inputs)
    return sync


def replay_bars(
    tracker: SetupTracker, day: date, reference: ReferenceWindow, bars: Sequence[Bar], until: datetime
) -> tuple[list[EventRow], list[dict[str, Any]]]:
    """Replay one trading day on a fresh tracker: its reference window summed up, its session bars, the clock.

    All final by `until` (SetupTracker.replay_window). Return the day's events numbered from 1 and
    its candidate rows. A day's events all belong to that day: the tracker starts a day fresh and
    the clock closes it before the next date begins.
    """
    events = tracker.replay_window(day, reference, bars, until)
    foreign = {event.trading_date for event in events} - {day}
    if foreign:
        raise RuntimeError(f"the tracker gave events of {sorted(foreign)} while replaying {day}")
    return event_rows(events), [view.to_dict() for view in tracker.candidates()]


@lru_cache(maxsize=1)
def tracker_code_fingerprint() -> str:
    """Return a hash of the code that turns candles into stored events and rows, and the slob version.

    Part of every day's input fingerprint: a slob whose tracker differs computes each day again.
    """
    import hashlib

    from slob_cli import __version__

    package = Path(__file__).resolve().parents[1]
    files = sorted([*package.glob("core/strategy/*.py"), package / "core/sessions.py", package / "core/models.py",
                    package / "core/timefmt.py", package / "runtime/tracking.py", package / "adapters/store/setups.py"])
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    for file in files:
        try:
            digest.update(file.read_bytes())
        except OSError:  # not installed as files (a zip): the version alone says which tracker this is
            digest.update(file.name.encode())
    return digest.hexdigest()


class _CandleVersions:
    """The versions of a symbol's candles by UTC day over a span (schema v7), read once when made."""

    def __init__(self, store: Store, symbol: str, start_us: int, end_us: int) -> None:
        self.store, self.symbol = store, symbol
        self.first, self.last = start_us // DAY_US, (end_us - 1) // DAY_US
        self.known = store.candle_versions(symbol, self.first, self.last)

    def between(self, start_us: int, end_us: int) -> list[tuple[int, int]]:
        """Return (UTC day, version) of the days holding [start, end) that ever held a candle, in order."""
        first, last = start_us // DAY_US, (end_us - 1) // DAY_US
        if first < self.first or last > self.last:  # outside the span read: ask the store
            return sorted(self.store.candle_versions(self.symbol, first, last).items())
        known = self.known
        return [(day, known[day]) for day in range(first, last + 1) if day in known]


def day_fingerprint(
    head: tuple[str, str, str], day: str, window: tuple[datetime, datetime] | None,
    reads: tuple[int, int, int] | None, versions: list[tuple[int, int]] | None,
) -> str:
    """Return the fingerprint of everything a finished day's events come from, without its candles.

    `head` is the symbol, the strategy config's hash and the tracker's code; `window` the day's
    [reference start, session end) (the calendar's say, see SetupTracker.window); `reads` the candles the
    day reads (reference window from, session open, end: epoch microseconds), None without a session.
    The candles themselves count by `versions`: those SQLite keeps of the UTC days holding `reads`
    (schema v7: any change to a candle, by any writer, bumps its day's version), so a day is
    computed again when a candle of its reference window or session changes, and a day whose
    reads share a UTC day with a changed candle outside them is computed again too (same rows).
    """
    import hashlib

    bounds = None if window is None else (to_us(window[0]), to_us(window[1]))
    text = repr(("candle versions", *head, day, bounds, reads, versions))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class RestoreReport:
    """What restore replayed and wrote."""

    trading_date: date
    replayed_candles: int
    replayed_events: int
    new_events: int
    closed_days: list[date]


class LiveTracking:
    """The engine's tracker: feed candles and clock time; every event and candidate is stored at once.

    Call `restore(now)` once before feeding: it closes earlier days left open and rebuilds today's
    tracker from the stored candles, raising StoreError when the replay disagrees with the stored log.
    Each candle is stored in the same transaction as the events it caused (`persist_candles`), so
    the store never holds an event whose candle it lacks; an engine that turns this off must commit
    candles before their events, or a restart after a crash can refuse the store.
    """

    def __init__(
        self,
        store: Store,
        symbol: str,
        config: StrategyConfig,
        calendar: TradingCalendar,
        persist_candles: bool = True,
    ) -> None:
        self.store = store
        self.symbol = symbol
        self.config = config
        self.calendar = calendar
        self.persist_candles = persist_candles
        self.repository = SetupRepository(store)
        self.recorder = RecordingTracker(SetupTracker(symbol, config, calendar), self._first_seq)
        self.last_candle: datetime | None = None
        self.skipped_candles = 0

    def _first_seq(self, trading_date: date) -> int:
        return self.store.last_setup_event_seq(self.symbol, trading_date.isoformat()) + 1

    def restore(self, now: datetime) -> RestoreReport:
        """Rebuild the tracker from the store as of `now` and write what the replay adds."""
        from slob_cli.core.sessions import trading_date_of

        today = trading_date_of(now)
        closed = self.repository.open_dates(self.symbol, before=today)
        for day in closed:
            track_range(self.store, self.symbol, day, day, self.config, self.calendar, now,
                        replace_divergent=False)
        day_start, day_end = day_window(today)
        candles = self.store.candles(self.symbol, day_start, day_end)
        recorder = RecordingTracker(SetupTracker(self.symbol, self.config, self.calendar), lambda _day: 1)
        step = replay_day(recorder, candles, now)
        sync = self._sync_replay(today, step, now)
        self.recorder = recorder.resume(self._first_seq)
        replayed = [candle for candle in candles if candle.end <= now]
        if replayed:
            self.last_candle = replayed[-1].ts
        log.info("restored %s %s: %d candles, %d events replayed, %d new", self.symbol, today, len(replayed),
                 len(step.records), sync.new_events)
        return RestoreReport(today, len(replayed), len(step.records), sync.new_events, closed)

    def _sync_replay(self, today: date, step: Step, now: datetime) -> DaySync:
        total = DaySync()
        for touched in sorted({today} | {record.trading_date for record in step.records}):
            mismatch = self.repository.config_mismatch(self.symbol, touched, self.config)
            if mismatch:
                raise StoreError(mismatch)
            self.repository.mark_day_config(self.symbol, touched, self.config, now)
            records = [record for record in step.records if record.trading_date == touched]
            rows = [row for row in step.changed.values() if row["trading_date"] == touched.isoformat()]
            sync = self.repository.sync_day(self.symbol, touched, records, rows, now, replace_divergent=False)
            total = DaySync(total.new_events + sync.new_events, total.changed_setups + sync.changed_setups)
        return total

    def on_candle(self, candle: Candle) -> list[SetupEvent]:
        """Feed one closed candle; store it with the events and changed candidates it caused.

        A candle at or before the last one fed (or replayed by restore) is skipped and counted:
        after a restart the feed may deliver again a minute the store already had.
        """
        if self.last_candle is not None and candle.ts <= self.last_candle:
            self.skipped_candles += 1
            log.debug("skipped %s candle %s: not after %s", self.symbol, candle.ts, self.last_candle)
            return []
        self.last_candle = candle.ts
        step = self.recorder.on_candle(candle)
        candles = [candle] if self.persist_candles else []
        if candles or step.records or step.changed:
            self.repository.write(step.records, step.changed.values(), candle.end, candles)
        return step.events

    def on_time(self, now: datetime) -> list[SetupEvent]:
        """Move the clock (session end fires here); store what it caused."""
        step = self.recorder.on_time(now)
        if step.records or step.changed:
            self.repository.write(step.records, step.changed.values(), now)
        return step.events

    def candidates(self) -> list[CandidateView]:
        """Return the current day's candidates."""
        return self.recorder.candidates()
