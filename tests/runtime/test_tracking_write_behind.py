"""`track_range` writes its days behind the tracker (a thread, a few days per transaction): same rows, whole days.

Whatever way a run is cut short (a failing write, an interrupt), the store holds whole days only, and
a re-run completes it to exactly what one uninterrupted run stores.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.setups import SetupRepository
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import StrategyConfig
from slob_cli.errors import StoreError
from slob_cli.runtime import tracking
from slob_cli.runtime.tracking import TrackResult, track_range
from tests.runtime.seeding import seed_weekdays
from tests.sqlfile import sql_rows, sql_run

CALENDAR = TradingCalendar()
CONFIG = StrategyConfig()
FIRST, LAST = date(2026, 3, 2), date(2026, 3, 20)  # three weeks: 15 trading days
SESSIONS = 15
LATER = datetime(2026, 4, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking, "DAYS_PER_COMMIT", 3)  # several transactions over a few days


def _seeded(path: Path) -> Path:
    return seed_weekdays(path, FIRST, LAST)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _seeded(tmp_path_factory.mktemp("seeded") / "seeded.db")


def _copy(seeded: Path, to: Path) -> Path:
    to.write_bytes(seeded.read_bytes())
    return to


def _track(db: Path, start: date = FIRST, end: date = LAST, **kwargs: Any) -> TrackResult:
    with Store.open(db) as store:
        return track_range(store, "NQ", start, end, CONFIG, CALENDAR, LATER, **kwargs)


def _tables(db: Path, ids: bool = True) -> tuple[list[Any], list[Any], list[Any]]:
    events = "*" if ids else "setup_id, symbol, trading_date, seq, bar_time, type, direction, data"
    setups = "*" if ids else "id, trading_date, state, state_json"  # updated_at: the clock of the run
    return (sql_rows(db, f"SELECT {setups} FROM setups ORDER BY trading_date, rowid"),
            sql_rows(db, f"SELECT {events} FROM setup_events ORDER BY trading_date, seq"),
            sql_rows(db, "SELECT * FROM tracked_days ORDER BY trading_date"))


def _whole_days_only(db: Path) -> set[str]:
    """Assert every tracked day holds the events and candidates its computation gave; return those days."""
    tracked = sql_rows(db, "SELECT trading_date, event_count, setup_count FROM tracked_days")
    events = dict(sql_rows(db, "SELECT trading_date, count(*) FROM setup_events GROUP BY trading_date"))
    setups = dict(sql_rows(db, "SELECT trading_date, count(*) FROM setups GROUP BY trading_date"))
    for day, event_count, setup_count in tracked:
        assert (events.get(day, 0), setups.get(day, 0)) == (event_count, setup_count), day
    assert set(events) | set(setups) <= {day for day, _, _ in tracked}
    return {day for day, _, _ in tracked}


@pytest.fixture(scope="module")
def at_once(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TrackResult, Path]:
    """One run that writes each batch on the calling thread (inside a batch no thread serves)."""
    db = _copy(seeded, tmp_path_factory.mktemp("at_once") / "s.db")
    with Store.open(db) as store, store.batch():
        result = track_range(store, "NQ", FIRST, LAST, CONFIG, CALENDAR, LATER)
    return result, db


def test_days_written_behind_in_batches_are_the_rows_of_a_run_written_at_once(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path
) -> None:
    expected, expected_db = at_once
    db = _copy(seeded, tmp_path / "s.db")
    result = _track(db)
    assert result == expected
    assert result.new_events > 100 and len(result.candidates) > 10
    assert _tables(db) == _tables(expected_db)
    assert len(_whole_days_only(db)) == SESSIONS


def test_stored_and_divergent_days_among_new_ones_are_kept_or_replaced_in_their_place(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path
) -> None:
    expected, expected_db = at_once
    db = _copy(seeded, tmp_path / "s.db")
    first = _track(db, date(2026, 3, 5), date(2026, 3, 6))  # two days in the middle of a batch
    changed = date(2026, 3, 12)
    _track(db, changed, changed)
    sql_run(db, "UPDATE setup_events SET data = data || ' ' WHERE trading_date=? AND seq=2", (changed.isoformat(),))
    sql_run(db, "UPDATE tracked_days SET input_digest = NULL WHERE trading_date=?", (changed.isoformat(),))
    result = _track(db)
    assert result.candidates == expected.candidates and result.replaced_days == [changed]
    assert result.new_events == expected.new_events - first.new_events
    assert _tables(db, ids=False)[:2] == _tables(expected_db, ids=False)[:2]
    assert [row[:7] for row in _tables(db)[2]] == [row[:7] for row in _tables(expected_db)[2]]
    _whole_days_only(db)


def test_a_failing_write_stops_the_run_with_its_error_leaving_whole_days_and_a_rerun_completes_it(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy(seeded, tmp_path / "s.db")
    insert_days = SetupRepository.insert_days
    calls = []

    def fail_the_third(self: SetupRepository, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise StoreError("cannot write: the third batch fails")
        return insert_days(self, *args, **kwargs)

    monkeypatch.setattr(SetupRepository, "insert_days", fail_the_third)
    with pytest.raises(StoreError, match="the third batch fails"):
        _track(db)
    assert len(_whole_days_only(db)) == 2 * tracking.DAYS_PER_COMMIT  # the first two batches, nothing of the third
    monkeypatch.setattr(SetupRepository, "insert_days", insert_days)
    assert _track(db).candidates == at_once[0].candidates
    assert _tables(db, ids=False)[:2] == _tables(at_once[1], ids=False)[:2]


def test_an_interrupted_run_leaves_whole_days_and_a_rerun_completes_it(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path
) -> None:
    db = _copy(seeded, tmp_path / "s.db")

    def interrupt(done: int, _total: int) -> None:
        if done == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _track(db, progress=interrupt)
    kept = _whole_days_only(db)
    assert len(kept) == 6  # the two batches queued before the interrupt, written whole
    assert _track(db).candidates == at_once[0].candidates
    assert _tables(db, ids=False)[:2] == _tables(at_once[1], ids=False)[:2]


def test_setups_track_on_a_full_disk_is_one_error_line_exit_3_and_a_rerun_completes_it(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slob_cli.cli.main import app
    from tests.sqlfile import disk_nearly_full

    db = _copy(seeded, tmp_path / "s.db")
    argv = ["--db", str(db), "setups", "track", "--symbol", "NQ", "--from", FIRST.isoformat(), "--to",
            LAST.isoformat(), "--json"]
    with monkeypatch.context() as patch:
        disk_nearly_full(patch, 4)
        full = CliRunner().invoke(app, argv)
    assert full.exit_code == 3, full.output
    assert full.stderr.strip().splitlines() == [full.stderr.strip()] and full.stderr.startswith("Error: disk full writing")
    assert len(_whole_days_only(db)) < SESSIONS
    fresh = CliRunner().invoke(app, [*argv[:1], str(_copy(seeded, tmp_path / "fresh.db")), *argv[2:]])
    rerun = CliRunner().invoke(app, argv)
    assert rerun.exit_code == 0 and rerun.stdout == fresh.stdout, rerun.output
    assert _tables(db, ids=False)[:2] == _tables(tmp_path / "fresh.db", ids=False)[:2]


def test_render_makes_the_output_of_the_final_candidates_once_and_a_failed_write_returns_none_of_it(
    seeded: Path, at_once: tuple[TrackResult, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, _ = at_once
    seen: list[list[dict[str, Any]]] = []

    def render(candidates: list[dict[str, Any]]) -> str:
        seen.append([dict(row) for row in candidates])
        return f"{len(candidates)} candidates"

    result = _track(_copy(seeded, tmp_path / "s.db"), render=render)
    assert seen == [expected.candidates]  # once, in the output's order
    assert result.rendered == f"{len(expected.candidates)} candidates" and result.candidates == expected.candidates

    def fail(self: SetupRepository, *args: Any, **kwargs: Any) -> Any:
        raise StoreError("cannot write: the disk went away")

    monkeypatch.setattr(SetupRepository, "insert_days", fail)
    with pytest.raises(StoreError, match="the disk went away"):
        _track(_copy(seeded, tmp_path / "failing.db"), render=render)
