"""The offline half of the look-ahead check: a tracker replay over the run's stored candles."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from slob_cli.adapters.store import Store
from slob_cli.core.sessions import TradingCalendar, session_for
from slob_cli.core.strategy import StrategyConfig
from slob_cli.core.validation import evaluate
from slob_cli.runtime.tracking import day_window, track_range
from slob_cli.runtime.validation_data import gather, offline_events
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_value

CALENDAR = TradingCalendar()
CONFIG = StrategyConfig()
DAY = date(2026, 3, 10)


def live_day(store: Store) -> int:
    """Store the short-setup day's candles, track them as the live run would, and record the run."""
    session = session_for(DAY, CALENDAR)
    assert session is not None
    store.upsert_candles(build_scenario("short_setup", DAY))
    day_start, day_end = day_window(DAY)
    run_id = store.start_run("paper", {"duration": "24"}, day_start)
    track_range(store, "NQ", DAY, DAY, CONFIG, CALENDAR, day_end)
    store.end_run(run_id, 0, day_end)
    return run_id


def look_ahead(store: Store, run_id: int) -> tuple[bool, str]:
    _, day_end = day_window(DAY)
    replay = offline_events(store, run_id, CONFIG, CALENDAR, day_end)
    report = evaluate(gather(store, run_id, 24 * 3600, day_end, offline_events=replay))
    (criterion,) = [c for c in report.criteria if c.name == "no look-ahead"]
    return criterion.passed, criterion.detail


def test_replay_of_stored_candles_equals_the_live_event_log(store: Store) -> None:
    run_id = live_day(store)
    events = sql_value(store.path, "SELECT count(*) FROM setup_events")
    assert events > 5  # the scenario really produced a setup's events
    passed, detail = look_ahead(store, run_id)
    assert passed, detail
    assert detail == f"{events} live events equal the offline replay"


def test_candle_changed_after_the_live_run_breaks_the_replay_equality(store: Store) -> None:
    run_id = live_day(store)
    session = session_for(DAY, CALENDAR)
    first_bar = store.candles("NQ", session.session_start, session.session_start + timedelta(minutes=1))[0]
    # The live tracker saw the original bar; a rewritten stored bar is what a look-ahead bug looks like.
    store.upsert_candles([replace(first_bar, high=first_bar.high + 500)])
    passed, detail = look_ahead(store, run_id)
    assert not passed and "differ from event" in detail
