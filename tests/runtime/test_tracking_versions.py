"""A tracked day is known unchanged by the candle versions SQLite keeps (schema v7), not by reading its candles.

Every change below is made through a plain sqlite3 connection, as a user's shell would: the
triggers, not slob's writers, must notice it.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store, to_us
from slob_cli.adapters.store import db as store_db
from slob_cli.adapters.store.instants import add_time_functions
from slob_cli.adapters.store.schema import EVENT_PAYLOAD_SQL, SCHEMA_VERSION
from slob_cli.core.sessions import TradingCalendar, session_for
from slob_cli.core.strategy import StrategyConfig
from slob_cli.runtime import tracking
from slob_cli.runtime.tracking import track_range
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_file, sql_rows, sql_run, sql_value

UTC = timezone.utc
CALENDAR = TradingCalendar()
CONFIG = StrategyConfig()
DAY = date(2026, 3, 10)  # reference window 08:00-13:30 UTC, session 13:30-20:00 UTC
SESSION = session_for(DAY, CALENDAR)
assert SESSION is not None
FIRST, LAST = DAY - timedelta(days=1), DAY + timedelta(days=2)
LATER = datetime(2026, 4, 1, tzinfo=UTC)
SCENARIOS = {DAY - timedelta(days=1): "long_setup", DAY: "short_setup", DAY + timedelta(days=1): "both_setups",
             DAY + timedelta(days=2): "volatile_gaps"}


@pytest.fixture
def tracked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[date]]:
    """A store with four scenario days tracked once; the list hears every day replayed from then on."""
    path = tmp_path / "tracked.db"
    with Store.open(path) as store:
        for index, (day, name) in enumerate(SCENARIOS.items()):
            store.upsert_candles(build_scenario(name, day, seed=index))
        track_range(store, "NQ", FIRST, LAST, CONFIG, CALENDAR, LATER)
    replayed: list[date] = []
    monkeypatch.setattr(tracking, "replay_bars", _counting(replayed))
    return path, replayed


def _counting(replayed: list[date]) -> Any:
    """Return tracking.replay_bars as it is now, telling `replayed` of every day it replays."""
    real = tracking.replay_bars

    def counting(tracker, day, *inputs):  # noqa: ANN001, ANN002, ANN202
        replayed.append(day)
        return real(tracker, day, *inputs)

    return counting


def _track(path: Path) -> tracking.TrackResult:
    with Store.open(path) as store:
        return track_range(store, "NQ", FIRST, LAST, CONFIG, CALENDAR, LATER)


def _tables(path: Path) -> list[list[tuple[Any, ...]]]:
    return [sql_rows(path, "SELECT * FROM setups ORDER BY id"),
            sql_rows(path, "SELECT setup_id, symbol, trading_date, seq, bar_time, type, direction, data FROM setup_events"
                           " ORDER BY trading_date, seq")]


def _fresh(path: Path, tmp_path: Path) -> tuple[tracking.TrackResult, list[list[tuple[Any, ...]]]]:
    """Track the store's candles as they are now on a store that never saw them before."""
    fresh = tmp_path / "fresh.db"
    with Store.open(path) as source, Store.open(fresh) as store:
        store.upsert_candles(source.candles("NQ"))
        result = track_range(store, "NQ", FIRST, LAST, CONFIG, CALENDAR, LATER)
    tables = _tables(fresh)
    tables[0] = [row[:-1] for row in tables[0]]  # updated_at: when it was written
    return result, tables


REFERENCE_MINUTE = SESSION.reference_start + timedelta(hours=2)  # 10:00 UTC, inside the reference window
SESSION_MINUTE = SESSION.session_start + timedelta(minutes=30)
CHANGES = {
    "changed": "UPDATE candles SET high = high + 40, close = close + 20 WHERE symbol='NQ' AND ts=?",
    "deleted": "DELETE FROM candles WHERE symbol='NQ' AND ts=?",
    "added": "INSERT INTO candles(symbol, ts, open, high, low, close, volume, tick_count) "
             "SELECT symbol, ts + 30000000, open, high + 60, low - 60, close, volume, tick_count FROM candles"
             " WHERE symbol='NQ' AND ts=?",  # a bar between two minutes: the day reads it
}


@pytest.mark.parametrize("where", [REFERENCE_MINUTE, SESSION_MINUTE], ids=["reference", "session"])
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_candle_changed_by_another_writer_in_a_days_inputs_makes_only_that_day_computed_again(
        tracked: tuple[Path, list[date]], tmp_path: Path, change: str, where: datetime) -> None:
    path, replayed = tracked
    assert sql_value(path, "SELECT count(*) FROM candles WHERE ts=?", (to_us(where),)) == 1
    sql_run(path, CHANGES[change], (to_us(where),))
    result = _track(path)
    assert replayed == [DAY]  # the days around it hold the same candles: not read again
    expected, tables = _fresh(path, tmp_path)
    assert result.candidates == expected.candidates
    ours = _tables(path)
    assert [row[:-1] for row in ours[0]] == tables[0] and ours[1] == tables[1]
    replayed.clear()
    assert _track(path).candidates == result.candidates and replayed == []  # its new versions are recorded


def test_a_candle_changed_on_another_day_leaves_the_tracked_day_alone(tracked: tuple[Path, list[date]]) -> None:
    path, replayed = tracked
    other = DAY + timedelta(days=1)
    sql_run(path, CHANGES["changed"], (to_us(SESSION_MINUTE + timedelta(days=1)),))
    sql_run(path, "INSERT INTO candles(symbol, ts, open, high, low, close, volume, tick_count)"
                  " VALUES ('ES', ?, 1, 2, 0.5, 1.5, 3, 4)", (to_us(SESSION_MINUTE),))  # another symbol, same minute
    _track(path)
    assert replayed == [other]


def test_a_rerun_after_no_change_writes_nothing_and_reads_no_candle(
        tracked: tuple[Path, list[date]], monkeypatch: pytest.MonkeyPatch) -> None:
    path, replayed = tracked
    before = _tables(path)
    reads: list[str] = []
    for name in ("candle_bar_rows", "candle_reference_rows", "candles"):
        real = getattr(Store, name)
        monkeypatch.setattr(Store, name, lambda self, *args, _real=real, _name=name: reads.append(_name) or _real(
            self, *args))
    watcher = sqlite3.connect(path)
    version = watcher.execute("PRAGMA data_version").fetchone()[0]
    again = _track(path)
    assert watcher.execute("PRAGMA data_version").fetchone()[0] == version  # no other connection committed a change
    watcher.close()
    assert replayed == [] and reads == [] and _tables(path) == before
    assert (again.new_events, again.changed_setups, again.replaced_days) == (0, 0, [])


def test_an_update_that_changes_no_value_bumps_no_version_and_every_change_does(tmp_path: Path) -> None:
    with Store.open(tmp_path / "v.db") as store:
        store.upsert_candles(build_scenario("short_setup", DAY)[:3])
        day = to_us(datetime.combine(DAY, datetime.min.time(), UTC)) // 86_400_000_000
        assert store.candle_versions("NQ", day - 1, day + 1) == {day: 3}  # one bump per inserted candle
    path = tmp_path / "v.db"
    sql_run(path, "UPDATE candles SET open = open, source = source")
    with Store.open(path) as store:
        assert store.candle_versions("NQ", day, day) == {day: 3}
    sql_run(path, "UPDATE candles SET ts = ts - 86400000000 WHERE ts = (SELECT min(ts) FROM candles)")  # to the day before
    with Store.open(path) as store:
        assert store.candle_versions("NQ", day - 1, day) == {day - 1: 1, day: 4}
    sql_run(path, "INSERT INTO candles(symbol, ts, open, high, low, close, volume, tick_count)"
                  " VALUES ('NQ', -1, 1, 1, 1, 1, 1, 1)")  # a microsecond before the epoch is 1969-12-31
    with Store.open(path) as store:
        assert store.candle_versions("NQ", -1, 0) == {-1: 1}


def _as_v6(path: Path, digest: str) -> None:
    """Make a store what v6 left: setup events with their whole payload (v7's, before v8), no candle versions,
    and tracked days recorded with v6's digests."""
    with sql_file(path) as conn:
        add_time_functions(conn)
        conn.execute(f"UPDATE setup_events SET data = {EVENT_PAYLOAD_SQL}")
        conn.execute("ALTER TABLE setup_events DROP COLUMN direction")
        conn.execute("ALTER TABLE setup_events RENAME COLUMN data TO payload")
        for trigger in ("candles_inserted", "candles_updated", "candles_deleted"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE candle_versions")
        conn.execute("UPDATE tracked_days SET input_digest = ?", (digest,))
        conn.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")


def test_a_v6_store_with_tracked_days_migrates_and_tracks_to_the_same_rows(
        tracked: tuple[Path, list[date]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, replayed = tracked
    first = _track(path)
    assert replayed == []
    before = _tables(path)
    _as_v6(path, "0123456789abcdef0123456789abcdef")
    monkeypatch.setattr(store_db, "SCHEMA_VERSION", 6)  # a v6 store opens as it did
    with Store.open(path) as store:
        assert store.schema_version() == 6
    monkeypatch.undo()
    monkeypatch.setattr(tracking, "replay_bars", _counting(replayed))
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        candles = sql_value(path, "SELECT count(DISTINCT ts / 86400000000) FROM candles")
        assert len(store.candle_versions("NQ", 0, 10**6)) == candles  # every stored day has a version
    migrated = _track(path)  # v6's digests are of the old kind: each day computed once more, to the same rows
    assert replayed == [day for day in sorted(SCENARIOS) if CALENDAR.is_session(day)]
    assert migrated.candidates == first.candidates and (migrated.new_events, migrated.replaced_days) == (0, [])
    assert _tables(path) == before
    replayed.clear()
    _track(path)
    assert replayed == []
    sql_run(path, CHANGES["deleted"], (to_us(SESSION_MINUTE),))  # the migrated store's triggers work
    _track(path)
    assert replayed == [DAY]


def test_versions_read_once_for_a_span_answer_as_the_store_inside_and_outside_it(
        tracked: tuple[Path, list[date]]) -> None:
    path, _ = tracked
    day_us = 86_400_000_000
    with Store.open(path) as store:
        start = to_us(SESSION.reference_start)
        day = start // day_us
        version = store.candle_versions("NQ", day, day)[day]
        read = tracking._CandleVersions(store, "NQ", start, start + day_us)  # the UTC day of DAY only
        sql_run(path, CHANGES["deleted"], (to_us(SESSION_MINUTE),))  # after the read: not seen by it
        assert read.between(start, start + 60_000_000) == [(day, version)]
        wider = read.between(start - 3 * day_us, start + 2 * day_us)  # outside the span: asked anew
        assert wider == sorted(store.candle_versions("NQ", day - 3, day + 2).items())
        assert dict(wider)[day] == version + 1 and (day - 1) in dict(wider)


def test_versions_of_candles_no_longer_stored_are_no_data_to_keep(tmp_path: Path) -> None:
    path = tmp_path / "failed.db"
    with Store.open(path) as store:
        store.upsert_candles(build_scenario("short_setup", DAY)[:5])
        assert not store.holds_only_bookkeeping()
    sql_run(path, "DELETE FROM candles")
    with Store.open(path) as store:
        assert store.candle_versions("NQ", 0, 10**6) and store.holds_only_bookkeeping()


def test_writers_count_the_candles_they_wrote_not_the_versions_the_triggers_bump(tmp_path: Path) -> None:
    from slob_cli.adapters.store.backfill import BackfillLedger
    from slob_cli.core.models import Candle

    candles = build_scenario("short_setup", DAY)
    with Store.open(tmp_path / "counts.db") as store:
        store.upsert_candles(candles[:10])
        ledger = BackfillLedger(store, "NQ")
        assert ledger.commit_day(DAY, candles[:15], "NQH6", complete=False, now=LATER) == 5  # 10 were stored
        assert ledger.commit_day(DAY, candles[:15], "NQH6", complete=True, now=LATER) == 0
        bar = candles[0]
        changed = Candle("NQ", bar.ts, bar.open, bar.high + 40, bar.low, bar.close + 20, bar.volume, bar.tick_count)
        counts = store.import_candles([changed, candles[14], *candles[15:20]])
        assert (counts.new, counts.replaced, counts.unchanged) == (5, 1, 1)
