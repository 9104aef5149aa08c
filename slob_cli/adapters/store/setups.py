"""Repository over `setups` (one row per candidate) and `setup_events` (the tracker's event log).

Rows are plain mappings shaped like `CandidateView.to_dict()`. An event is stored as its columns
(symbol, trading date, seq, bar time, type, setup id, direction) and its data as canonical JSON, so
a replay can be compared with the stored log event by event; its `to_dict()` is made again from those
when it is read (schema v8: before, the whole `to_dict()` was stored beside the columns that repeat it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from slob_cli.adapters.store.db import Store, from_us, to_iso, to_us
from slob_cli.adapters.store.instants import instant_us
from slob_cli.adapters.store.rows import CANDLE_INSERT, candle_row
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS
from slob_cli.adapters.store.writer import RowInsert, insert_rows, values_sql
from slob_cli.core.models import Candle
from slob_cli.core.strategy.events import SetupEvent
from slob_cli.errors import StoreError

SETUP_FIELDS: tuple[str, ...] = (
    "id", "symbol", "trading_date", "direction", "state", "invalidation_reason",
    "liq1_time", "liq1_price", "high", "high_time", "low", "low_time", "nowick_time",
    "liq2_time", "liq2_price", "trigger_time", "entry_estimate", "stop", "target", "risk_reward",
)
TERMINAL_STATES: frozenset[str] = frozenset({"SETUP_COMPLETE", "INVALIDATED"})
_SETUP_INSTANTS = frozenset(ISO_TEXT_INSTANTS["setups"])
# The candidate columns as rows give them: instants as ISO text, as the tracker writes them.
_SETUP_COLUMNS = ", ".join(f"iso_time({name})" if name in _SETUP_INSTANTS else name for name in SETUP_FIELDS)


# One encoder for every call: json.dumps with options builds a new JSONEncoder each time, and its
# encode() a new C encoder each call; this one is built once (without a cycle check: payloads are trees).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)
_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = None if _make_encoder is None else _make_encoder(
    None, _CANONICAL.default, encode_basestring_ascii, None, ":", ",", True, False, False)


def canonical_json(value: Any) -> str:
    """Return compact, key-sorted JSON: the form used for storing and comparing payloads."""
    if _ENCODE is None:
        return _CANONICAL.encode(value)
    return "".join(_ENCODE(value, 0))


EventKey = tuple[int, str, str | None, str | None, str]  # (bar time us, type, setup id, direction, data JSON)


@dataclass(frozen=True)
class StoredEvent:
    """One row of `setup_events`: the seq-th event of (symbol, trading_date) and its to_dict() (`payload`).

    The store keeps of `payload` only what its other columns do not hold: the direction and the
    data (schema v8); `payload_json` is the whole of it as canonical JSON, as people and reports read it.
    """

    symbol: str
    trading_date: date
    seq: int
    bar_time: datetime
    type: str
    setup_id: str | None
    payload: Mapping[str, Any] = field(compare=False)
    payload_json: str = ""

    def __post_init__(self) -> None:
        if not self.payload_json:
            object.__setattr__(self, "payload_json", canonical_json(dict(self.payload)))

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-able data (times ISO 'Z')."""
        return {
            "seq": self.seq, "symbol": self.symbol, "trading_date": self.trading_date.isoformat(),
            "bar_time": to_iso(self.bar_time), "type": self.type, "setup_id": self.setup_id,
            "payload": dict(self.payload),
        }

    @property
    def key(self) -> EventKey:
        """Return what tells this event from another of the same seq: all it stores but its place."""
        data = self.payload.get("data")
        return (to_us(self.bar_time), self.type, self.setup_id, self.payload.get("direction"),
                canonical_json(dict(data) if isinstance(data, Mapping) else data))

    def row(self) -> tuple[Any, ...]:
        """Return the `setup_events` values (setup_id, symbol, trading_date, seq, bar_time, type, direction, data)."""
        bar_time, kind, setup_id, direction, data = self.key
        return (setup_id, self.symbol, self.trading_date.isoformat(), self.seq, bar_time, kind, direction, data)


class EventRow(NamedTuple):
    """A tracker event as a replay stores it: the `setup_events` values (the date as text, the bar time as stored)."""

    setup_id: str | None
    symbol: str
    trading_date: str
    seq: int
    bar_time: int  # microseconds since the epoch
    type: str
    direction: str | None
    data_json: str

    @property
    def key(self) -> EventKey:
        """Return what tells this event from another of the same seq (StoredEvent.key)."""
        return (self.bar_time, self.type, self.setup_id, self.direction, self.data_json)

    def row(self) -> tuple[Any, ...]:
        """Return the `setup_events` values (the row itself)."""
        return self


_tuple_new = tuple.__new__  # builds an EventRow without the generated __new__'s Python frame
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _encode_chunks(value: Any, _level: int) -> tuple[str]:
    return (_CANONICAL.encode(value),)


def event_rows(events: Iterable[SetupEvent]) -> list[EventRow]:
    """Return the stored rows of one day's events, numbered from 1, without building `event.to_dict()`.

    Each row holds what `StoredEvent(..., event.to_dict()).row()` holds (a test holds the two equal):
    the data as canonical JSON, the direction and type as text, the bar time in microseconds (one
    bar's events follow one another: its instant is converted once).
    """
    rows: list[EventRow] = []
    append = rows.append
    join = "".join
    encode = _ENCODE or _encode_chunks
    # an enum's .value is a Python-level property: the texts of the few kinds, directions and days are looked up
    texts: dict[Any, Any] = {None: None}
    when: datetime | None = None
    bar_us = 0
    for seq, event in enumerate(events, 1):
        if event.bar_time != when:
            when = event.bar_time
            delta = when - _EPOCH  # to_us, inline
            bar_us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        kind, direction, day = event.type, event.direction, event.trading_date
        if kind not in texts or direction not in texts or day not in texts:
            texts.update({kind: kind.value, day: day.isoformat()})
            if direction is not None:
                texts[direction] = direction.value
        data = event.data
        append(_tuple_new(EventRow, (event.candidate_id, event.symbol, texts[day], seq, bar_us, texts[kind],
                                     texts[direction], join(encode(data if type(data) is dict else dict(data), 0)))))
    return rows


class LoggedEvent(NamedTuple):
    """A stored event as a replay compares it (its data JSON undecoded: decoding every one would cost more than the replay)."""

    seq: int
    bar_time: int
    type: str
    setup_id: str | None
    direction: str | None
    data_json: str

    @property
    def key(self) -> EventKey:
        """Return what tells this event from another of the same seq (StoredEvent.key)."""
        return (self.bar_time, self.type, self.setup_id, self.direction, self.data_json)


@dataclass(frozen=True)
class DayInputs:
    """What a finished tracked day was computed from (a digest) and the events and candidates it gave."""

    digest: str
    events: int
    setups: int


@dataclass(frozen=True)
class DaySync:
    """What writing one day's computed events and candidates changed in the store."""

    new_events: int = 0
    changed_setups: int = 0
    replaced: bool = False


_SETUP_CONFLICT = (f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{name}=excluded.{name}' for name in SETUP_FIELDS[1:])},"
                   " state_json=excluded.state_json, updated_at=excluded.updated_at")
_TRACKED_COLUMNS = ("symbol", "trading_date", "config_hash", "config_json", "input_digest", "event_count", "setup_count",
                    "updated_at")
_TRACKED_CONFLICT = ("ON CONFLICT(symbol, trading_date) DO UPDATE SET config_hash=excluded.config_hash,"
                     " config_json=excluded.config_json, input_digest=excluded.input_digest,"
                     " event_count=excluded.event_count, setup_count=excluded.setup_count, updated_at=excluded.updated_at")
# Each table's write, once: a row at a time (values_sql(..., 1)) for a day compared with what is stored,
# many rows per statement (insert_rows) for days that hold nothing yet (insert_days).
_EVENT_COLUMNS = ("setup_id", "symbol", "trading_date", "seq", "bar_time", "type", "direction", "data")
_EVENT_ROWS = RowInsert("setup_events", _EVENT_COLUMNS)
_EVENT_KEPT = RowInsert("setup_events", _EVENT_COLUMNS, conflict="ON CONFLICT(symbol, trading_date, seq) DO NOTHING")
_SETUP_ROWS = RowInsert("setups", (*SETUP_FIELDS, "state_json", "updated_at"), conflict=_SETUP_CONFLICT)
_TRACKED_ROWS = RowInsert("tracked_days", _TRACKED_COLUMNS, conflict=_TRACKED_CONFLICT)


class ComputedDay(NamedTuple):
    """One replayed trading day as the store takes it: its events (seq 1..n), candidate rows and inputs.

    `inputs` is None for a day still running.
    """

    day: date
    events: Sequence[StoredEvent | EventRow]
    setups: Sequence[Mapping[str, Any]]
    inputs: DayInputs | None


def _setup_values(setup: Mapping[str, Any], state_json: str, updated_us: int) -> list[Any]:
    """Return the `setups` values of a candidate row (instants as stored), its state JSON and update time."""
    return [*(instant_us(setup.get(name)) if name in _SETUP_INSTANTS else setup.get(name) for name in SETUP_FIELDS),
            state_json, updated_us]


class SetupRepository:
    """Read and write candidates and their events in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._conn = store._conn

    # ------------------------------------------------------------------ writing
    def write(
        self,
        events: Sequence[StoredEvent],
        setups: Iterable[Mapping[str, Any]],
        updated_at: datetime,
        candles: Sequence[Candle] = (),
    ) -> tuple[int, int]:
        """Append events (idempotent by seq), upsert changed candidates and candles in one transaction.

        Return (events inserted, candidates changed). A stored event with the same seq but a
        different payload raises StoreError and nothing is written.
        """
        with self.store.transaction() as conn:
            if candles:
                conn.executemany(
                    CANDLE_INSERT + " ON CONFLICT(symbol, ts) DO NOTHING",
                    [candle_row(candle) for candle in candles],
                )
            inserted = self._insert_events(conn, events)
            changed = self._upsert_setups(conn, setups, updated_at)
        return inserted, changed

    def sync_day(
        self,
        symbol: str,
        trading_date: date,
        events: Sequence[StoredEvent | EventRow],
        setups: Iterable[Mapping[str, Any]],
        updated_at: datetime,
        replace_divergent: bool,
        keep_ahead: bool = False,
    ) -> DaySync:
        """Make the stored log of one day equal to `events` (seq 1..n) and upsert its candidates.

        Stored events that are a prefix of `events` are kept and the rest appended. With
        `keep_ahead`, a stored log that `events` are a prefix of is left alone (a live run is further
        along than this replay). Any other divergence replaces the day's events and candidates if
        `replace_divergent`, else raises StoreError naming the first differing seq.
        """
        setups = list(setups)
        day = trading_date.isoformat()
        if not events and not setups and self._conn.execute(
            "SELECT 1 FROM setup_events WHERE symbol=? AND trading_date=? LIMIT 1", (symbol, day)
        ).fetchone() is None:
            return DaySync()  # nothing happened that day and nothing was stored: no transaction
        with self.store.transaction() as conn:
            stored = self._logged_events(symbol, day)
            divergence = first_divergence(stored, events)
            if divergence is not None and keep_ahead and first_divergence(events, stored) is None:
                return DaySync()
            if divergence is not None:
                if not replace_divergent:
                    raise StoreError(divergence_message(symbol, trading_date, divergence, stored, events))
                conn.execute("DELETE FROM setup_events WHERE symbol=? AND trading_date=?", (symbol, day))
                conn.execute("DELETE FROM setups WHERE symbol=? AND trading_date=?", (symbol, day))
                stored = []
            inserted = self._insert_events(conn, events[len(stored):], fresh=not stored)
            known = dict(conn.execute("SELECT id, state_json FROM setups WHERE symbol=? AND trading_date=?", (symbol, day)))
            changed = self._upsert_setups(conn, setups, updated_at, known)
        return DaySync(inserted, changed, divergence is not None)

    def _insert_events(self, conn: sqlite3.Connection, events: Sequence[StoredEvent | EventRow], fresh: bool = False) -> int:
        """Insert events; with `fresh` (the day holds none, inside this transaction) in one executemany."""
        if fresh:
            before = conn.total_changes
            conn.executemany(values_sql(_EVENT_ROWS, 1), [event.row() for event in events])
            return conn.total_changes - before
        inserted = 0
        for event in events:
            values = event.row()
            cursor = conn.execute(values_sql(_EVENT_KEPT, 1), values)
            if cursor.rowcount:
                inserted += 1
                continue
            row = conn.execute(
                "SELECT bar_time, type, setup_id, direction, data FROM setup_events WHERE symbol=? AND trading_date=?"
                " AND seq=?", values[1:4]).fetchone()
            if tuple(row) != event.key:
                raise StoreError(
                    f"setup event {event.symbol} {event.trading_date} seq {event.seq} is already stored "
                    f"with a different payload"
                )
        return inserted

    def _upsert_setups(
        self, conn: sqlite3.Connection, setups: Iterable[Mapping[str, Any]], updated_at: datetime,
        known: Mapping[str, str | None] | None = None,
    ) -> int:
        """Write the candidates whose stored state differs; `known` maps id -> stored state_json when read already."""
        changed = []
        for setup in setups:
            state_json = canonical_json(dict(setup))
            if known is not None:
                stored = known.get(setup["id"])
            else:
                row = conn.execute("SELECT state_json FROM setups WHERE id=?", (setup["id"],)).fetchone()
                stored = None if row is None else row[0]
            if stored != state_json:
                changed.append(_setup_values(setup, state_json, to_us(updated_at)))
        if changed:
            conn.executemany(values_sql(_SETUP_ROWS, 1), changed)
        return len(changed)

    # ------------------------------------------------------------------ reading
    def day_config(self, symbol: str, trading_date: date) -> tuple[str, str | None] | None:
        """Return (hash, JSON) of the strategy config a stored day was tracked with, or None."""
        row = self._conn.execute("SELECT config_hash, config_json FROM tracked_days WHERE symbol=? AND trading_date=?",
                                (symbol, trading_date.isoformat())).fetchone()
        return None if row is None else (row[0], row[1])

    def mark_day_config(
        self, symbol: str, trading_date: date, config: Any, updated_at: datetime, inputs: DayInputs | None = None
    ) -> None:
        """Record which strategy config a day's stored events come from (no write when it is recorded already).

        `inputs` records what a finished day was computed from and gave (see `tracked_inputs`); None
        forgets it, so that a later `setups track` computes the day again.
        """
        fingerprint, text = config_fingerprint(config)
        day = trading_date.isoformat()
        wanted = (fingerprint, text, *((inputs.digest, inputs.events, inputs.setups) if inputs else (None,) * 3))
        stored = self._conn.execute(
            "SELECT config_hash, config_json, input_digest, event_count, setup_count FROM tracked_days"
            " WHERE symbol=? AND trading_date=?", (symbol, day)).fetchone()
        if stored == wanted:
            return
        with self.store.transaction() as conn:
            conn.execute(values_sql(_TRACKED_ROWS, 1), (symbol, day, *wanted, to_us(updated_at)))

    def fresh_days(self, symbol: str, days: Sequence[date]) -> set[date]:
        """Return those of `days` for which nothing is stored: no event, no candidate, no tracked_days row."""
        if not days:
            return set()
        span = (symbol, min(days).isoformat(), max(days).isoformat())
        held = {day for (day,) in self._conn.execute(
            "SELECT trading_date FROM tracked_days WHERE symbol=? AND trading_date BETWEEN ? AND ?"
            " UNION SELECT trading_date FROM setup_events WHERE symbol=? AND trading_date BETWEEN ? AND ?"
            " UNION SELECT trading_date FROM setups WHERE symbol=? AND trading_date BETWEEN ? AND ?", span * 3)}
        return {day for day in days if day.isoformat() not in held}

    def insert_days(self, symbol: str, days: Sequence[ComputedDay], config: Any, updated_at: datetime) -> list[DaySync]:
        """Write days for which nothing is stored (`fresh_days`) in a few statements, in one transaction.

        The rows are those `sync_day` and `mark_day_config` write for such a day, in the same order;
        a statement per table instead of several per day.
        """
        fingerprint, text = config_fingerprint(config)
        updated_us = to_us(updated_at)
        events: list[Any] = []
        setups: list[Any] = []
        marks: list[Any] = []
        for day, records, rows, inputs in days:
            for record in records:
                events.extend(record if type(record) is EventRow else record.row())
            for row in rows:
                setups.extend(_setup_values(row, canonical_json(dict(row)), updated_us))
            counts = (inputs.digest, inputs.events, inputs.setups) if inputs else (None,) * 3
            marks.extend((symbol, day.isoformat(), fingerprint, text, *counts, updated_us))
        with self.store.transaction() as conn:
            insert_rows(conn, _EVENT_ROWS, (), events)
            insert_rows(conn, _SETUP_ROWS, (), setups)
            insert_rows(conn, _TRACKED_ROWS, (), marks)
        return [DaySync(len(records), len(rows)) for _, records, rows, _ in days]

    def tracked_inputs(self, symbol: str, start: date, end: date) -> dict[str, DayInputs]:
        """Return, by ISO trading date in [start, end], the recorded inputs of days that have them."""
        rows = self._conn.execute(
            "SELECT trading_date, input_digest, event_count, setup_count FROM tracked_days WHERE symbol=?"
            " AND trading_date>=? AND trading_date<=? AND input_digest IS NOT NULL",
            (symbol, start.isoformat(), end.isoformat()))
        return {day: DayInputs(digest, events, setups) for day, digest, events, setups in rows}

    def event_counts(self, symbol: str, start: date, end: date) -> dict[str, int]:
        """Return how many events are stored per ISO trading date in [start, end] (days with any)."""
        return dict(self._conn.execute(
            "SELECT trading_date, count(*) FROM setup_events WHERE symbol=? AND trading_date>=? AND trading_date<=?"
            " GROUP BY trading_date", (symbol, start.isoformat(), end.isoformat())).fetchall())

    def stored_rows(self, symbol: str, start: date, end: date) -> dict[str, list[dict[str, Any]]]:
        """Return the stored candidate rows (the track --json shape) per ISO trading date in [start, end]."""
        by_day: dict[str, list[dict[str, Any]]] = {}
        for day, state_json in self._conn.execute(
            "SELECT trading_date, state_json FROM setups WHERE symbol=? AND trading_date>=? AND trading_date<=?",
            (symbol, start.isoformat(), end.isoformat()),
        ):
            state = json.loads(state_json) if state_json else {}
            if all(name in state for name in SETUP_FIELDS):  # else the day's count falls short: recomputed
                by_day.setdefault(day, []).append({name: state[name] for name in SETUP_FIELDS})
        return by_day

    def config_mismatch(self, symbol: str, trading_date: date, config: Any) -> str | None:
        """Return one line naming how the config of a stored day differs from `config`, or None."""
        stored = self.day_config(symbol, trading_date)
        fingerprint, text = config_fingerprint(config)
        if stored is None or stored[0] == fingerprint:
            return None
        return (f"stored setup events of {symbol} {trading_date} were computed with strategy config {stored[0]}, "
                f"this run uses {fingerprint} (changed: {config_change(stored[1], text)}); "
                f"run `slob setups track --from {trading_date} --to {trading_date}` to recompute that day")

    def get(self, setup_id: str) -> dict[str, Any] | None:
        """Return one candidate row (the track --json shape) by id, or None."""
        rows = self._select("WHERE id = ?", [setup_id])
        return rows[0] if rows else None

    def find(
        self,
        symbol: str | None = None,
        state: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[dict[str, Any]]:
        """Return candidate rows filtered by symbol, state and trading-date range [start, end]."""
        clauses: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("symbol = ?", symbol),
            ("state = ?", state),
            ("trading_date >= ?", start.isoformat() if start else None),
            ("trading_date <= ?", end.isoformat() if end else None),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(where, params)

    def _select(self, where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        sql = f"SELECT {_SETUP_COLUMNS} FROM setups {where} ORDER BY trading_date, symbol, rowid"
        return [dict(zip(SETUP_FIELDS, row, strict=False)) for row in self._conn.execute(sql, list(params))]

    def open_dates(self, symbol: str, before: date) -> list[date]:
        """Return trading dates before `before` that still have a non-terminal candidate."""
        rows = self._conn.execute(
            "SELECT DISTINCT trading_date FROM setups WHERE symbol=? AND trading_date < ?"
            f" AND state NOT IN ({', '.join('?' * len(TERMINAL_STATES))}) ORDER BY trading_date",
            [symbol, before.isoformat(), *sorted(TERMINAL_STATES)],
        )
        return [date.fromisoformat(row[0]) for row in rows]

    def events_of_day(self, symbol: str, trading_date: date) -> list[StoredEvent]:
        """Return the stored events of one (symbol, trading_date) in seq order."""
        return self._events("WHERE symbol=? AND trading_date=?", [symbol, trading_date.isoformat()])

    def timeline(self, setup_id: str) -> list[StoredEvent]:
        """Return a candidate's events plus its day's day-level events (no candidate), in seq order."""
        setup = self.get(setup_id)
        if setup is None:
            return []
        return self._events(
            "WHERE symbol=? AND trading_date=? AND (setup_id=? OR setup_id IS NULL)",
            [setup["symbol"], setup["trading_date"], setup_id],
        )

    def _logged_events(self, symbol: str, day: str) -> list[LoggedEvent]:
        """Return one day's stored log as compared with a replay, its data JSON undecoded."""
        return [LoggedEvent(*row) for row in self._conn.execute(
            "SELECT seq, bar_time, type, setup_id, direction, data FROM setup_events WHERE symbol=? AND trading_date=?"
            " ORDER BY seq",
            (symbol, day))]

    def _events(self, where: str, params: Sequence[Any]) -> list[StoredEvent]:
        sql = ("SELECT symbol, trading_date, seq, bar_time, type, setup_id, direction, data FROM setup_events "
               f"{where} ORDER BY trading_date, seq")
        events = []
        for symbol, day, seq, bar_time, kind, setup_id, direction, data in self._conn.execute(sql, list(params)):
            bar = from_us(bar_time)
            payload = {"bar_time": to_iso(bar), "candidate_id": setup_id, "data": json.loads(data),
                       "direction": direction, "symbol": symbol, "trading_date": day, "type": kind}  # its to_dict()
            events.append(StoredEvent(symbol, date.fromisoformat(day), seq, bar, kind, setup_id, payload))
        return events


@lru_cache(maxsize=8)  # asked for every tracked day; a config is frozen
def config_fingerprint(config: Any) -> tuple[str, str]:
    """Return (hash, canonical JSON) of a strategy config: what a tracked day was computed with."""
    import hashlib
    from dataclasses import asdict

    text = canonical_json(asdict(config))
    return hashlib.sha256(text.encode()).hexdigest()[:12], text


def config_change(stored_json: str | None, current_json: str) -> str:
    """Return the settings that differ between two config JSONs ("max_duration_min 120 -> 90")."""
    old = json.loads(stored_json) if stored_json else {}
    new = json.loads(current_json)
    changed = [f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(set(old) | set(new))
               if old.get(key) != new.get(key)]
    return ", ".join(changed) or "unknown settings"


def first_divergence(
    stored: Sequence[StoredEvent | LoggedEvent | EventRow], computed: Sequence[StoredEvent | LoggedEvent | EventRow]
) -> int | None:
    """Return the first seq where the stored log is not a prefix of the computed one, or None."""
    for index, event in enumerate(stored):
        if index >= len(computed) or event.key != computed[index].key:
            return event.seq
    return None


def divergence_message(
    symbol: str, trading_date: date, seq: int, stored: Sequence[StoredEvent | LoggedEvent | EventRow],
    computed: Sequence[StoredEvent | LoggedEvent | EventRow],
) -> str:
    """Return one line saying where a stored event log and a replay differ."""
    old = next((event.type for event in stored if event.seq == seq), "nothing")
    new = next((event.type for event in computed if event.seq == seq), "nothing")
    if first_divergence(computed, stored) is None:  # the replay is a prefix: the store runs ahead of the clock
        return (f"the store already holds setup events of {symbol} {trading_date} later than this session's "
                f"clock (seq {seq} onward, {old} first), from another run of that day that is not a sim "
                f"rehearsal (or imported candles); use another --db, or a day the store does not hold")
    return (f"stored setup events of {symbol} {trading_date} differ from a replay at seq {seq} "
            f"(stored {old}, replayed {new}); were the candles or the strategy config changed?")
