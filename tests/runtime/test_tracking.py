"""Tracking over stored candles, live persistence, and restore after a stop at any candle."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store, to_iso
from slob_cli.adapters.store.setups import SetupRepository
from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar, session_for
from slob_cli.core.strategy import SetupTracker, StrategyConfig
from slob_cli.errors import StoreError
from slob_cli.runtime.tracking import LiveTracking, day_window, reuse_range, track_range
from slob_cli.sim import worked_example
from slob_cli.sim.scenarios import DayBuilder, build_scenario
from tests.sqlfile import as_shown, sql_rows, sql_run

UTC = timezone.utc
CALENDAR = TradingCalendar()
CONFIG = StrategyConfig()
DAY = date(2026, 3, 10)  # New York is on summer time, London not yet: the session opens 13:30 UTC
SESSION = session_for(DAY, CALENDAR)
assert SESSION is not None
LATER = datetime(2026, 4, 1, tzinfo=UTC)


def _rows(store: Store, table: str, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    rows = as_shown(table, store.db.query(
        f"SELECT * FROM {table} ORDER BY " + ("id" if table == "setups" else "trading_date, seq")))
    return [{key: value for key, value in row.items() if key not in skip and not (table == "setup_events" and key == "id")}
            for row in rows]


def _short_day_cut_at(minute: int) -> list[Candle]:
    """Return the short-setup day with no candles from session `minute` on (the store stops early)."""
    end = SESSION.session_start + timedelta(minutes=minute)
    return [candle for candle in build_scenario("short_setup", DAY) if candle.ts < end]


def _open_states(candles: list[Candle]) -> dict[str, str]:
    """Return id -> state of the candidates a bare tracker leaves open after these candles."""
    tracker = SetupTracker("NQ", CONFIG, CALENDAR)
    for candle in candles:
        tracker.on_candle(candle)
    opened = {view.id: view.state.value for view in tracker.candidates() if not view.state.terminal}
    assert opened, "the scenario must leave a candidate open at the cut"
    return opened


def test_tracking_twice_over_same_candles_gives_same_ids_and_rows(store: Store) -> None:
    store.upsert_candles(build_scenario("short_setup", DAY) + build_scenario("long_setup", DAY + timedelta(days=1)))
    first = track_range(store, "NQ", DAY - timedelta(days=1), DAY + timedelta(days=2), CONFIG, CALENDAR, LATER)
    setups, events = _rows(store, "setups"), _rows(store, "setup_events")
    second = track_range(store, "NQ", DAY - timedelta(days=1), DAY + timedelta(days=2), CONFIG, CALENDAR,
                         LATER + timedelta(days=3))
    assert [row["id"] for row in second.candidates] == [row["id"] for row in first.candidates]
    assert second.candidates == first.candidates
    assert (second.new_events, second.changed_setups, second.replaced_days) == (0, 0, [])
    assert _rows(store, "setups") == setups and _rows(store, "setup_events") == events
    assert first.new_events == len(events) and first.changed_setups == len(setups)
    assert {row["id"] for row in setups} >= {"NQ-20260310-S1", "NQ-20260311-L1"}
    assert first.days == 4 and first.candles == 2 * len(build_scenario("quiet", DAY))


def test_ended_day_closes_open_candidates_by_clock_when_candles_stop_early(store: Store) -> None:
    candles = _short_day_cut_at(370)  # 15:40 New York, 20 minutes before the close
    opened = _open_states(candles)
    store.upsert_candles(candles)
    result = track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now=LATER)
    closed = [row["id"] for row in result.candidates if row["invalidation_reason"] == "MARKET_CLOSED"]
    assert closed == list(opened)
    for setup_id in closed:
        closing = SetupRepository(store).timeline(setup_id)[-1]
        assert (closing.type, closing.bar_time) == ("SETUP_INVALIDATED", SESSION.session_end)
        assert closing.payload["data"]["reason"] == "MARKET_CLOSED"


def test_running_session_leaves_open_candidates_in_their_state_until_the_clock_passes_the_close(
        store: Store) -> None:
    candles = _short_day_cut_at(370)
    opened = _open_states(candles)
    store.upsert_candles(candles)
    running = SESSION.session_start + timedelta(minutes=375)
    during = track_range(store, "NQ", DAY, DAY + timedelta(days=5), CONFIG, CALENDAR, now=running)
    assert {row["id"]: row["state"] for row in during.candidates if row["id"] in opened} == opened
    assert all(row["invalidation_reason"] != "MARKET_CLOSED" for row in during.candidates)
    assert during.days == 1
    stored_events = len(_rows(store, "setup_events"))
    after = track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now=SESSION.session_end + timedelta(seconds=1))
    assert (after.new_events, after.changed_setups, after.replaced_days) == (len(opened), len(opened), [])
    assert len(_rows(store, "setup_events")) == stored_events + len(opened)
    for setup_id in opened:
        stored = SetupRepository(store).get(setup_id)
        assert stored is not None and (stored["state"], stored["invalidation_reason"]) == ("INVALIDATED", "MARKET_CLOSED")


def test_candles_after_now_are_not_fed(store: Store) -> None:
    store.upsert_candles(build_scenario("short_setup", DAY))
    before_trigger = SESSION.session_start + timedelta(minutes=61)  # the trigger bar 15:31 is not closed yet
    result = track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now=before_trigger)
    first = result.candidates[0]
    assert (first["id"], first["state"], first["trigger_time"]) == ("NQ-20260310-S1", "WAITING_ENTRY", None)
    assert result.candles == SESSION.reference_minutes + 61


def test_changed_config_recomputes_the_day_and_drops_stale_candidates(store: Store) -> None:
    store.upsert_candles(build_scenario("short_setup", DAY))
    track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, LATER)
    strict = StrategyConfig.from_mapping({"min_rr": 5.0})
    result = track_range(store, "NQ", DAY, DAY, strict, CALENDAR, LATER)
    assert result.replaced_days == [DAY]
    stored = SetupRepository(store).find(symbol="NQ")
    assert stored == result.candidates
    first = stored[0]
    assert (first["state"], first["invalidation_reason"]) == ("INVALIDATED", "NEGATIVE_RISK_REWARD")


def _compact_day() -> list[Candle]:
    """Return a short day: 20 reference bars, the §7 session, then noise to 11:30 New York."""
    builder = DayBuilder(DAY)
    builder.reference(worked_example.REFERENCE_HIGH, worked_example.REFERENCE_LOW, seed=3, bars=20)
    builder.bars(0, worked_example.SESSION_BARS)
    builder.noise(len(worked_example.SESSION_BARS), 120, seed=4, low=25480.0, high=25700.0, step=5.0)
    return builder.candles()


def _run_live(path: Path, candles: list[Candle], until: datetime, cut: int | None = None,
              template: Path | None = None) -> Store:
    """Feed candles to LiveTracking as the engine would, restarting from the store before candle `cut`.

    `template` is an empty migrated store file to copy (saves creating the schema for every cut).
    """
    if template is not None:
        shutil.copyfile(template, path)
    store = Store.open(path)
    live = LiveTracking(store, "NQ", CONFIG, CALENDAR)
    live.restore(candles[0].ts)
    for index, candle in enumerate(candles):
        if index == cut:
            live = LiveTracking(store, "NQ", CONFIG, CALENDAR)  # a new process: nothing kept but the store
            live.restore(candle.ts)
        live.on_candle(candle)
        live.on_time(candle.end + timedelta(seconds=1))
    live.on_time(until)
    return store


def test_restart_at_every_candle_gives_the_uninterrupted_event_log(tmp_path: Path) -> None:
    candles = _compact_day()
    until = day_window(DAY)[1]
    with _run_live(tmp_path / "whole.db", candles, until) as whole:
        events, setups = _rows(whole, "setup_events"), _rows(whole, "setups", skip=("updated_at",))
    kinds = {row["type"] for row in events}
    assert {"LSE_LEVELS_FROZEN", "SETUP_COMPLETE", "SETUP_INVALIDATED"} <= kinds
    last = to_iso(candles[-1].ts)
    # Fired by the clock after the data ended (a timer at its limit minute, or the session end).
    assert any(row["type"] == "SETUP_INVALIDATED" and row["bar_time"] > last for row in events)
    template = tmp_path / "empty.db"
    Store.open(template).close()
    for cut in range(1, len(candles)):
        with _run_live(tmp_path / f"cut{cut}.db", candles, until, cut, template) as restarted:
            assert _rows(restarted, "setup_events") == events, f"event log differs after a restart at candle {cut}"
            assert _rows(restarted, "setups", skip=("updated_at",)) == setups, f"setups differ (cut {cut})"
        for leftover in tmp_path.glob(f"cut{cut}.db*"):
            leftover.unlink()


def test_live_log_equals_a_replay_of_the_stored_candles(tmp_path: Path) -> None:
    candles = build_scenario("short_setup", DAY)
    with _run_live(tmp_path / "live.db", candles, day_window(DAY)[1]) as live:
        events = _rows(live, "setup_events")
        setups = _rows(live, "setups", skip=("updated_at",))
    with Store.open(tmp_path / "replay.db") as replay:
        replay.upsert_candles(candles)
        track_range(replay, "NQ", DAY, DAY, CONFIG, CALENDAR, LATER)
        assert _rows(replay, "setup_events") == events
        assert _rows(replay, "setups", skip=("updated_at",)) == setups


def test_restart_on_a_full_day_at_sampled_candles_continues_exactly(tmp_path: Path) -> None:
    candles = build_scenario("long_setup", DAY)
    until = day_window(DAY)[1]
    with _run_live(tmp_path / "whole.db", candles, until) as whole:
        events = _rows(whole, "setup_events")
    for cut in range(5, len(candles), 97):
        with _run_live(tmp_path / f"cut{cut}.db", candles, until, cut) as restarted:
            assert _rows(restarted, "setup_events") == events, f"event log differs after a restart at candle {cut}"


def test_restore_refuses_a_stored_log_the_replay_contradicts(store: Store) -> None:
    candles = build_scenario("short_setup", DAY)[: SESSION.reference_minutes + 70]
    live = LiveTracking(store, "NQ", CONFIG, CALENDAR)
    live.restore(candles[0].ts)
    for candle in candles:
        live.on_candle(candle)
    before = _rows(store, "setup_events")
    changed = LiveTracking(store, "NQ", StrategyConfig.from_mapping({"high_confirm_bars": 7}), CALENDAR)
    # The day remembers its config: the message names the setting that changed, not only a seq.
    with pytest.raises(StoreError, match=r"changed: high_confirm_bars 5 -> 7\); run `slob setups track"):
        changed.restore(candles[-1].end)
    assert _rows(store, "setup_events") == before


def test_restore_next_morning_closes_the_day_left_open(store: Store) -> None:
    candles = _short_day_cut_at(370)
    opened = _open_states(candles)
    live = LiveTracking(store, "NQ", CONFIG, CALENDAR)
    live.restore(candles[0].ts)
    for candle in candles:
        live.on_candle(candle)
    assert SetupRepository(store).open_dates("NQ", before=date(2026, 3, 11)) == [DAY]
    report = LiveTracking(store, "NQ", CONFIG, CALENDAR).restore(datetime(2026, 3, 11, 12, 0, tzinfo=UTC))
    assert report.closed_days == [DAY] and report.trading_date == date(2026, 3, 11)
    for setup_id in opened:
        stored = SetupRepository(store).get(setup_id)
        assert stored is not None and stored["invalidation_reason"] == "MARKET_CLOSED"
    assert SetupRepository(store).open_dates("NQ", before=date(2026, 3, 12)) == []


def test_candles_delivered_again_after_a_restart_are_skipped(store: Store) -> None:
    candles = build_scenario("short_setup", DAY)[: SESSION.reference_minutes + 90]
    live = LiveTracking(store, "NQ", CONFIG, CALENDAR)
    live.restore(candles[0].ts)
    for candle in candles[:-10]:
        live.on_candle(candle)
    restarted = LiveTracking(store, "NQ", CONFIG, CALENDAR)
    report = restarted.restore(candles[-10].ts)
    assert report.replayed_candles == len(candles) - 10 and report.new_events == 0
    for candle in candles[-15:]:  # the feed repeats five minutes the store already had
        restarted.on_candle(candle)
    assert restarted.skipped_candles == 5
    with Store.open(store.path.parent / "whole.db") as whole:
        straight = LiveTracking(whole, "NQ", CONFIG, CALENDAR)
        straight.restore(candles[0].ts)
        for candle in candles:
            straight.on_candle(candle)
        assert _rows(store, "setup_events") == _rows(whole, "setup_events")


def test_track_during_a_session_leaves_a_live_log_that_runs_ahead_alone(store: Store) -> None:
    candles = build_scenario("short_setup", DAY)[: SESSION.reference_minutes + 62]
    store.upsert_candles(candles[:-20])  # the engine's candle writer lags 20 minutes behind
    live = LiveTracking(store, "NQ", CONFIG, CALENDAR, persist_candles=False)
    live.restore(candles[0].ts)
    for candle in candles:
        live.on_candle(candle)
    ahead = _rows(store, "setup_events")
    result = track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now=candles[-1].end)
    assert (result.new_events, result.changed_setups, result.replaced_days) == (0, 0, [])
    assert _rows(store, "setup_events") == ahead
    assert SetupRepository(store).get("NQ-20260310-S1")["state"] == "SETUP_COMPLETE"  # type: ignore[index]


def test_live_clock_fires_the_entry_timeout_with_no_bar_and_a_replay_stores_the_same_log(tmp_path: Path) -> None:
    # Timers run on the clock (§4.7): the feed stops after LIQ #2; the engine's clock alone times the
    # candidate out at LIQ #2 + 20, and `setups track` over the stored candles writes the same events.
    candles = build_scenario("short_setup", DAY)
    with Store.open(tmp_path / "probe.db") as probe:
        probe.upsert_candles(candles)
        track_range(probe, "NQ", DAY, DAY, CONFIG, CALENDAR, LATER)
        liq2 = next(row["bar_time"] for row in _rows(probe, "setup_events") if row["type"] == "LIQ2_DETECTED")
    fed = [candle for candle in candles if to_iso(candle.ts) <= liq2]
    limit = fed[-1].ts + timedelta(minutes=20)
    with Store.open(tmp_path / "live.db") as live_store:
        live = LiveTracking(live_store, "NQ", CONFIG, CALENDAR)
        live.restore(fed[0].ts)
        for candle in fed:
            live.on_candle(candle)
        assert live.on_time(limit + timedelta(seconds=59)) == []
        [fired] = live.on_time(limit + timedelta(minutes=1))
        assert (fired.data["reason"], fired.bar_time) == ("ENTRY_TIMEOUT", limit)
        live.on_time(day_window(DAY)[1])  # the day's end: the session closed
        logged = _rows(live_store, "setup_events")
    with Store.open(tmp_path / "replay.db") as replay_store:
        replay_store.upsert_candles(fed)
        track_range(replay_store, "NQ", DAY, DAY, CONFIG, CALENDAR, LATER)
        assert _rows(replay_store, "setup_events") == logged


def _week(store: Store) -> tuple[date, date]:
    """Store five scenario days (a weekend among them); return the first and last date to track."""
    days = [DAY + timedelta(days=offset) for offset in (0, 1, 2, 3, 6)]
    for index, (day, name) in enumerate(zip(days, ("short_setup", "long_setup", "both_setups", "volatile_gaps",
                                                   "short_setup"), strict=True)):
        store.upsert_candles(build_scenario(name, day, seed=index))
    return days[0] - timedelta(days=1), days[-1]


def test_only_trading_days_are_tracked_and_recorded(store: Store) -> None:
    first_day, last_day = _week(store)  # Mon Mar 9 .. Mon Mar 16, 2026
    holiday = date(2026, 3, 12)
    result = track_range(store, "NQ", first_day, last_day, CONFIG, TradingCalendar(frozenset({holiday})), LATER)
    recorded = [row[0] for row in sql_rows(store.path, "SELECT trading_date FROM tracked_days ORDER BY 1")]
    assert recorded == ["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-13", "2026-03-16"]
    assert result.days == 5 and {row["trading_date"] for row in result.candidates} <= set(recorded)


def test_weekend_rows_an_older_slob_recorded_change_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first_day, last_day = _week(store)
    first = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    for weekend in ("2026-03-14", "2026-03-15"):  # as slob wrote them before: a tracked day with nothing in it
        sql_run(store.path, "INSERT INTO tracked_days(symbol, trading_date, config_hash, input_digest, event_count,"
                            " setup_count, updated_at) VALUES ('NQ', ?, 'x', 'y', 0, 0, 0)", (weekend,))
    replayed = _replayed_days(monkeypatch)
    again = reuse_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    assert again is not None and again.days == first.days == 6 and again.candidates == first.candidates
    assert track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER).days == 6 and replayed == []


def _replayed_days(monkeypatch: pytest.MonkeyPatch) -> list[date]:
    """Record the trading dates that track_range really replays."""
    from slob_cli.runtime import tracking

    replayed: list[date] = []
    real = tracking.replay_bars

    def counting(tracker, day, *inputs):  # noqa: ANN001, ANN002, ANN202
        replayed.append(day)
        return real(tracker, day, *inputs)

    monkeypatch.setattr(tracking, "replay_bars", counting)
    return replayed


def _tables(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return _rows(store, "setups", skip=("updated_at",)), _rows(store, "setup_events")


def test_rerun_over_unchanged_finished_days_replays_none_and_gives_the_same_rows(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    first_day, last_day = _week(store)
    replayed = _replayed_days(monkeypatch)
    first = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    assert len(replayed) == first.days == 6 and first.new_events > 0  # Mar 9-16 less the weekend
    tables = _tables(store)
    replayed.clear()
    again = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER + timedelta(days=1))
    assert replayed == []
    assert again.candidates == first.candidates and again.candles == first.candles and again.days == first.days
    assert (again.new_events, again.changed_setups, again.replaced_days) == (0, 0, [])
    assert _tables(store) == tables


def test_changed_candle_deleted_events_or_config_make_that_day_computed_again(
        store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first_day, last_day = _week(store)
    track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    replayed = _replayed_days(monkeypatch)
    bar = store.candles("NQ", SESSION.session_start + timedelta(minutes=30), SESSION.session_start
                        + timedelta(minutes=31))[0]
    store.upsert_candles([Candle("NQ", bar.ts, bar.open, bar.high + 40, bar.low, bar.close + 20, bar.volume,
                                 bar.tick_count)])
    changed = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    assert replayed == [DAY]
    with Store.open(tmp_path / "fresh.db") as fresh:  # the same candles tracked on a store that never saw the old
        fresh.upsert_candles(store.candles("NQ"))
        assert track_range(fresh, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER).candidates == changed.candidates
        assert _tables(fresh) == _tables(store)
    tables = _tables(store)
    replayed.clear()
    sql_run(store.path, "DELETE FROM setup_events WHERE trading_date=? AND seq > 3", ((DAY + timedelta(days=1)).isoformat(),))
    track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    assert replayed == [DAY + timedelta(days=1)] and _tables(store) == tables
    replayed.clear()
    track_range(store, "NQ", first_day, last_day, StrategyConfig(max_duration_min=90), CALENDAR, LATER)
    assert len(replayed) == 6


def test_a_day_still_running_is_computed_on_every_run_and_skipped_once_it_has_ended(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.upsert_candles(build_scenario("short_setup", DAY))
    replayed = _replayed_days(monkeypatch)
    during = SESSION.session_start + timedelta(hours=2)
    for now in (during, during, SESSION.session_end + timedelta(hours=6), LATER, LATER):
        assert reuse_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now) is None or now == LATER
        result = track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, now)
    assert replayed == [DAY, DAY, DAY, DAY]  # the day ends at New York midnight: LATER is the first skip
    assert reuse_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, LATER) == result
    assert SetupRepository(store).tracked_inputs("NQ", DAY, DAY)[DAY.isoformat()].events == len(
        SetupRepository(store).events_of_day("NQ", DAY))


def test_days_tracked_one_at_a_time_store_what_the_range_stores(store: Store, tmp_path: Path) -> None:
    first_day, last_day = _week(store)
    together = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER)
    with Store.open(tmp_path / "one_by_one.db") as single:
        single.upsert_candles(store.candles("NQ"))
        rows = []
        day = first_day
        while day <= last_day:
            rows += track_range(single, "NQ", day, day, CONFIG, CALENDAR, LATER).candidates
            day += timedelta(days=1)
        assert rows == together.candidates
        assert _tables(single) == _tables(store)


def test_progress_hears_of_every_day_begun_by_now_and_ends_at_the_total(store: Store) -> None:
    first_day, last_day = _week(store)
    heard: list[tuple[int, int]] = []
    result = track_range(store, "NQ", first_day, last_day, CONFIG, CALENDAR, LATER, progress=lambda *p: heard.append(p))
    assert result.days == 6  # the trading days of Mar 9-16
    assert heard == [(done, 6) for done in range(7)]  # before each day, then once all are done
    heard.clear()  # a range running past now counts only the days begun by now
    now = datetime.combine(first_day + timedelta(days=2), datetime.min.time(), tzinfo=UTC) + timedelta(hours=15)
    track_range(store, "NQ", first_day, last_day + timedelta(days=30), CONFIG, CALENDAR, now,
                progress=lambda *p: heard.append(p))
    assert heard[-1] == (3, 3) and [done for done, _ in heard] == [0, 1, 2, 3]
