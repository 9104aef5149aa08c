"""The setups repository on a real SQLite file: upserts, idempotent event appends, queries."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from slob_cli.adapters.store import Store, to_us
from slob_cli.adapters.store.setups import SETUP_FIELDS, DaySync, SetupRepository, StoredEvent, canonical_json
from slob_cli.errors import StoreError
from tests.sqlfile import sql_value

UTC = timezone.utc
DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 21, 0, tzinfo=UTC)


def _setup(setup_id: str, state: str = "WATCHING_CONSOL", day: date = DAY, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in SETUP_FIELDS}
    row.update(id=setup_id, symbol="NQ", trading_date=day.isoformat(), direction="SHORT", state=state,
               liq1_time="2026-03-10T13:35:00Z", liq1_price=20110.25)
    row.update(extra)
    return row


def _event(seq: int, kind: str, setup_id: str | None = "NQ-20260310-S1", day: date = DAY, **data: Any) -> StoredEvent:
    bar = datetime(day.year, day.month, day.day, 13, 30 + seq, tzinfo=UTC)
    direction = None if setup_id is None else ("SHORT" if "-S" in setup_id else "LONG")
    payload = {"type": kind, "candidate_id": setup_id, "bar_time": bar.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data,
               "direction": direction, "symbol": "NQ", "trading_date": day.isoformat()}  # SetupEvent.to_dict()
    return StoredEvent("NQ", day, seq, bar, kind, setup_id, payload)


def test_setup_row_round_trips_all_columns_and_reopens_from_file(db_path: Path) -> None:
    row = _setup("NQ-20260310-S1", "SETUP_COMPLETE", high=20120.0, high_time="2026-03-10T13:40:00Z",
                 entry_estimate=20101.5, stop=20121.0, target=20060.25, risk_reward=2.11)
    with Store.open(db_path) as store:
        assert SetupRepository(store).write([], [row], NOW) == (0, 1)
    with Store.open(db_path) as store:
        assert SetupRepository(store).get("NQ-20260310-S1") == row


def test_identical_upsert_changes_nothing_and_keeps_updated_at(store: Store) -> None:
    repository = SetupRepository(store)
    repository.write([], [_setup("NQ-20260310-S1")], NOW)
    later = datetime(2026, 3, 11, tzinfo=UTC)
    assert repository.write([], [_setup("NQ-20260310-S1")], later) == (0, 0)
    assert sql_value(store.path, "SELECT updated_at FROM setups") == to_us(NOW)
    assert repository.write([], [_setup("NQ-20260310-S1", "INVALIDATED", invalidation_reason="GAP_DETECTED")],
                            later) == (0, 1)
    stored = repository.get("NQ-20260310-S1")
    assert stored is not None and (stored["state"], stored["invalidation_reason"]) == ("INVALIDATED", "GAP_DETECTED")
    assert sql_value(store.path, "SELECT count(*) FROM setups") == 1


def test_appending_same_events_twice_inserts_once(store: Store) -> None:
    repository = SetupRepository(store)
    events = [_event(1, "LSE_LEVELS_FROZEN", None, high=20100.0), _event(2, "LIQ1_DETECTED", price=20110.25)]
    assert repository.write(events, [], NOW) == (2, 0)
    assert repository.write(events, [], NOW) == (0, 0)
    assert [(e.seq, e.type, e.setup_id) for e in repository.events_of_day("NQ", DAY)] == [
        (1, "LSE_LEVELS_FROZEN", None), (2, "LIQ1_DETECTED", "NQ-20260310-S1")]
    assert repository.events_of_day("NQ", DAY)[1].payload == events[1].payload


def test_event_with_taken_seq_and_other_payload_raises_and_writes_nothing(store: Store) -> None:
    repository = SetupRepository(store)
    repository.write([_event(1, "LIQ1_DETECTED", price=1.0)], [], NOW)
    with pytest.raises(StoreError, match="seq 1 is already stored"):
        repository.write([_event(2, "HIGH_SET"), _event(1, "LIQ1_DETECTED", price=2.0)], [_setup("X")], NOW)
    assert [e.seq for e in repository.events_of_day("NQ", DAY)] == [1]
    assert repository.get("X") is None


def test_sync_day_appends_after_a_matching_prefix(store: Store) -> None:
    repository = SetupRepository(store)
    events = [_event(1, "LSE_LEVELS_FROZEN", None), _event(2, "LIQ1_DETECTED"), _event(3, "HIGH_SET")]
    repository.write(events[:2], [], NOW)
    result = repository.sync_day("NQ", DAY, events, [_setup("NQ-20260310-S1")], NOW, replace_divergent=False)
    assert (result.new_events, result.changed_setups, result.replaced) == (1, 1, False)
    assert [e.type for e in repository.events_of_day("NQ", DAY)] == ["LSE_LEVELS_FROZEN", "LIQ1_DETECTED", "HIGH_SET"]


def test_sync_day_divergent_log_raises_or_replaces_the_day(store: Store) -> None:
    repository = SetupRepository(store)
    repository.write([_event(1, "LSE_LEVELS_FROZEN", None), _event(2, "LIQ1_DETECTED")],
                     [_setup("NQ-20260310-S1"), _setup("NQ-20260310-S2")], NOW)
    other_day = _setup("NQ-20260311-S1", day=date(2026, 3, 11))
    repository.write([_event(1, "LSE_LEVELS_FROZEN", None, day=date(2026, 3, 11))], [other_day], NOW)
    replay = [_event(1, "LSE_LEVELS_FROZEN", None), _event(2, "LIQ1_DETECTED", "NQ-20260310-L1")]
    with pytest.raises(StoreError, match=r"differ from a replay at seq 2 \(stored LIQ1_DETECTED"):
        repository.sync_day("NQ", DAY, replay, [], NOW, replace_divergent=False)
    result = repository.sync_day("NQ", DAY, replay, [_setup("NQ-20260310-L1")], NOW, replace_divergent=True)
    assert result.replaced and result.new_events == 2
    assert [row["id"] for row in repository.find(symbol="NQ")] == ["NQ-20260310-L1", "NQ-20260311-S1"]
    assert [e.setup_id for e in repository.events_of_day("NQ", DAY)] == [None, "NQ-20260310-L1"]


def test_find_filters_by_state_and_inclusive_date_range(store: Store) -> None:
    repository = SetupRepository(store)
    rows = [_setup("NQ-20260309-S1", "SETUP_COMPLETE", date(2026, 3, 9)),
            _setup("NQ-20260310-S1", "INVALIDATED", DAY),
            _setup("NQ-20260311-S1", "SETUP_COMPLETE", date(2026, 3, 11))]
    repository.write([], rows, NOW)
    assert [r["id"] for r in repository.find(state="SETUP_COMPLETE")] == ["NQ-20260309-S1", "NQ-20260311-S1"]
    assert [r["id"] for r in repository.find(start=DAY, end=date(2026, 3, 11))] == ["NQ-20260310-S1", "NQ-20260311-S1"]
    assert repository.find(symbol="MNQ") == []


def test_timeline_holds_own_and_day_level_events_only(store: Store) -> None:
    repository = SetupRepository(store)
    repository.write([_event(1, "LSE_LEVELS_FROZEN", None), _event(2, "LIQ1_DETECTED", "NQ-20260310-S1"),
                      _event(3, "LIQ1_DETECTED", "NQ-20260310-L1"), _event(4, "HIGH_SET", "NQ-20260310-S1")],
                     [_setup("NQ-20260310-S1"), _setup("NQ-20260310-L1")], NOW)
    assert [e.seq for e in repository.timeline("NQ-20260310-S1")] == [1, 2, 4]
    assert repository.timeline("nope") == []


def test_open_dates_lists_earlier_days_with_unfinished_candidates(store: Store) -> None:
    repository = SetupRepository(store)
    repository.write([], [_setup("NQ-20260309-S1", "WATCHING_LIQ2", date(2026, 3, 9)),
                          _setup("NQ-20260309-L1", "INVALIDATED", date(2026, 3, 9)),
                          _setup("NQ-20260306-L1", "SETUP_COMPLETE", date(2026, 3, 6)),
                          _setup("NQ-20260310-S1", "WATCHING_CONSOL", DAY)], NOW)
    assert repository.open_dates("NQ", before=DAY) == [date(2026, 3, 9)]


def test_sync_day_keeps_a_stored_log_that_runs_ahead_only_when_asked(store: Store) -> None:
    repository = SetupRepository(store)
    events = [_event(1, "LSE_LEVELS_FROZEN", None), _event(2, "LIQ1_DETECTED"), _event(3, "HIGH_SET")]
    repository.write(events, [_setup("NQ-20260310-S1", "WATCHING_CONSOL")], NOW)
    kept = repository.sync_day("NQ", DAY, events[:2], [_setup("NQ-20260310-S1", "WATCHING_LIQ1")], NOW,
                               replace_divergent=True, keep_ahead=True)
    assert kept == DaySync() and len(repository.events_of_day("NQ", DAY)) == 3
    assert repository.get("NQ-20260310-S1")["state"] == "WATCHING_CONSOL"  # type: ignore[index]
    replaced = repository.sync_day("NQ", DAY, events[:2], [], NOW, replace_divergent=True)
    assert replaced.replaced and [e.seq for e in repository.events_of_day("NQ", DAY)] == [1, 2]


def test_event_rows_hold_what_stored_events_hold_for_every_kind_of_event(db_path: Path) -> None:
    from slob_cli.adapters.store.setups import event_rows
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy import SetupTracker, StrategyConfig
    from slob_cli.runtime.tracking import day_window, stored_event
    from slob_cli.sim.scenarios import SCENARIOS, build_scenario

    events = []
    for index, name in enumerate(SCENARIOS):
        day = date(2026, 3, 9) + timedelta(days=index)
        tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
        events += [event for bar in build_scenario(name, day, seed=index) for event in tracker.on_candle(bar)]
        events += tracker.on_time(day_window(day)[1])
    assert len({event.type for event in events}) >= 8 and any(event.candidate_id is None for event in events)
    # bar times event_rows writes without to_iso (UTC, whole minutes) and with it (seconds, another zone)
    shifted = [dataclasses.replace(event, bar_time=event.bar_time + timedelta(seconds=30)) for event in events[:3]]
    zoned = [dataclasses.replace(event, bar_time=event.bar_time.astimezone(ZoneInfo("America/New_York")))
             for event in events[3:6]]
    odd = dataclasses.replace(events[6], bar_time=datetime(1969, 12, 31, 23, 59, 0, 250, tzinfo=timezone.utc))
    events += [*shifted, *zoned, odd, dataclasses.replace(odd, bar_time=datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc))]
    rows = event_rows(events)
    for seq, (event, row) in enumerate(zip(events, rows, strict=True), 1):
        stored = stored_event(event, seq)
        assert stored.payload_json == canonical_json(event.to_dict())
        assert row.row() == stored.row() and row.key == stored.key
        assert row.data_json == canonical_json(event.to_dict()["data"])
    # Stored (schema v8: the data and the direction beside the columns) and read back, each event is its to_dict() again.
    with Store.open(db_path) as store:
        repository = SetupRepository(store)
        for day in sorted({event.trading_date for event in events}):
            of_day = [row for row in rows if row.trading_date == day.isoformat()]
            assert repository.sync_day("NQ", day, of_day, [], NOW, replace_divergent=False).new_events == len(of_day)
        read = [event for day in sorted({event.trading_date for event in events})
                for event in repository.events_of_day("NQ", day)]
    by_row = {(row.trading_date, row.seq): event for row, event in zip(rows, events, strict=True)}
    assert len(read) == len(events)
    for back in read:
        event = by_row[(back.trading_date.isoformat(), back.seq)]
        assert back.payload_json == canonical_json(event.to_dict()) and back.payload == event.to_dict()


def test_canonical_json_is_key_sorted_compact_json_and_refuses_what_json_refuses() -> None:
    import json

    standard = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)
    for value in ({"b": 1, "a": [1.5, None, True, "x\u00e9\n"]}, "text", 3, -0.0, 1e300, None, [], {},
                  {"z": {"y": 2.25, "x": [{"b": 0, "a": 1}]}}):
        assert canonical_json(value) == standard.encode(value)
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"price": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        canonical_json({"when": object()})
