"""Named scenario days: full, gapless where meant to be, seeded, and carrying their planted structure."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from slob_cli.core.models import Candle, Direction
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import CandidateView, EventType, SetupState
from slob_cli.sim.scenarios import SCENARIOS, DayBuilder, build_scenario
from tests.core.tracking import replay

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
DAY = date(2026, 1, 6)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_covers_reference_start_to_session_end_minute_by_minute(name) -> None:
    candles = build_scenario(name, DAY, seed=4)
    assert candles[0].ts == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert candles[-1].ts == datetime(2026, 1, 6, 20, 59, tzinfo=UTC)
    assert len(candles) == 780
    assert all(b.ts - a.ts == timedelta(minutes=1) for a, b in itertools.pairwise(candles))
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
    assert all(price * 4 == int(price * 4) for c in candles for price in (c.open, c.high, c.low, c.close))


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_is_a_pure_function_of_name_date_and_seed(name) -> None:
    assert build_scenario(name, DAY, seed=7) == build_scenario(name, DAY, seed=7)
    assert build_scenario(name, DAY, seed=7) != build_scenario(name, DAY, seed=8)


@pytest.mark.parametrize(("name", "first_id"), [("short_setup", "NQ-20260106-S1"), ("long_setup", "NQ-20260106-L1")])
def test_setup_scenarios_complete_the_planted_setup_at_15_31(name, first_id) -> None:
    for seed in range(3):
        _, tracker = replay(build_scenario(name, DAY, seed))
        view = tracker.candidates()[0]
        assert (view.id, view.state, view.trigger_time, view.risk_reward) == (
            first_id, SetupState.SETUP_COMPLETE, datetime(2026, 1, 6, 15, 31, tzinfo=UTC), 71 / 21)


def first_exit(candles: list[Candle], view: CandidateView) -> tuple[datetime, str] | None:
    """Return (bar, "target" | "stop" | "both") of the first bar after the trigger reaching TP or SL."""
    short = view.direction is Direction.SHORT
    for candle in candles:
        if candle.ts <= view.trigger_time:
            continue
        target = candle.low <= view.target if short else candle.high >= view.target
        stop = candle.high >= view.stop if short else candle.low <= view.stop
        if target or stop:
            return candle.ts, "both" if target and stop else "target" if target else "stop"
    return None


def completed(candles: list[Candle], calendar: TradingCalendar | None = None) -> list[CandidateView]:
    """Return the setups the default tracker completes on these candles."""
    _, tracker = replay(candles, calendar=calendar)
    return [view for view in tracker.candidates() if view.state is SetupState.SETUP_COMPLETE]


@pytest.mark.parametrize("name", ["short_setup", "long_setup"])
def test_setup_scenarios_reach_the_target_before_the_stop(name) -> None:
    for seed in range(5):
        candles = build_scenario(name, DAY, seed)
        view = completed(candles)[0]
        exit_time, kind = first_exit(candles, view)
        # The follow-through covers the 71 points to the target in under a quarter of an hour.
        assert kind == "target" and view.trigger_time < exit_time <= view.trigger_time + timedelta(minutes=15)


BOTH_SETUPS = [  # (id suffix, direction, trigger in New York, entry_estimate, stop, target, R:R)
    ("S1", Direction.SHORT, time(10, 31), 25572.0, 25593.0, 25501.0, 71 / 21),
    ("L1", Direction.LONG, time(13, 31), 25200.0, 25179.0, 25271.0, 71 / 21),
]


def summary(views: list[CandidateView]) -> list[tuple[object, ...]]:
    """Return (id suffix, direction, New York trigger time, entry, stop, target, R:R) per view."""
    return [(v.id.rsplit("-", 1)[1], v.direction, v.trigger_time.astimezone(NEW_YORK).time(), v.entry_estimate,
             v.stop, v.target, v.risk_reward) for v in views]


def test_both_setups_completes_one_morning_short_then_one_afternoon_long_and_nothing_else() -> None:
    for seed in range(8):
        views = completed(build_scenario("both_setups", DAY, seed))
        assert summary(views) == BOTH_SETUPS, f"seed {seed}"
        assert [v.trigger_time for v in views] == [datetime(2026, 1, 6, 15, 31, tzinfo=UTC),
                                                   datetime(2026, 1, 6, 18, 31, tzinfo=UTC)]


def test_both_setups_other_candidates_end_invalidated_without_a_liq2() -> None:
    for seed in range(4):
        events, tracker = replay(build_scenario("both_setups", DAY, seed))
        others = [view for view in tracker.candidates() if view.state is not SetupState.SETUP_COMPLETE]
        assert others and all(view.state is SetupState.INVALIDATED for view in others)
        liq2 = [event.candidate_id for event in events if event.type is EventType.LIQ2_DETECTED]
        assert liq2 == ["NQ-20260106-S1", "NQ-20260106-L1"]


def test_both_setups_each_reaches_its_target_first_and_the_short_is_done_before_the_long_starts() -> None:
    for seed in range(8):
        candles = build_scenario("both_setups", DAY, seed)
        events, _ = replay(candles)
        short, long = completed(candles)
        short_exit, short_kind = first_exit(candles, short)
        long_exit, long_kind = first_exit(candles, long)
        assert (short_kind, long_kind) == ("target", "target")
        long_liq1 = next(event.bar_time for event in events
                         if event.type is EventType.LIQ1_DETECTED and event.candidate_id == long.id)
        assert short.trigger_time < short_exit < long_liq1 < long.trigger_time < long_exit


@pytest.mark.parametrize("day", [date(2026, 3, 10), date(2026, 7, 7), date(2026, 11, 27), date(2027, 2, 1)])
def test_both_setups_holds_on_shifted_clocks_summer_time_and_an_early_close(day) -> None:
    calendar = TradingCalendar(early_closes={date(2026, 11, 27): time(13, 0)})
    session = DayBuilder(day, calendar=calendar).session
    expected = list(BOTH_SETUPS)
    if day == date(2026, 11, 27):  # 13:00 close: the LONG comes an hour earlier and still reaches its target
        expected[1] = (*expected[1][:2], time(12, 31), *expected[1][3:])
    for seed in range(3):
        candles = build_scenario("both_setups", day, seed, calendar=calendar)
        views = completed(candles, calendar)
        assert summary(views) == expected
        exits = [first_exit(candles, view) for view in views]
        assert [kind for _, kind in exits] == ["target", "target"] and exits[1][0] < session.session_end


def test_quiet_scenario_never_breaks_the_reference_levels() -> None:
    for seed in range(3):
        events, _tracker = replay(build_scenario("quiet", DAY, seed))
        assert [event.type for event in events] == [EventType.LSE_LEVELS_FROZEN]


def test_volatile_gaps_scenario_invalidates_candidates_on_gaps() -> None:
    events, _ = replay(build_scenario("volatile_gaps", DAY, seed=1))
    assert any(event.data.get("reason") == "GAP_DETECTED" for event in events)


def test_unknown_scenario_or_closed_day_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'rainy'"):
        build_scenario("rainy", DAY)
    with pytest.raises(ValueError, match="2026-01-10 is not a trading day"):
        build_scenario("quiet", date(2026, 1, 10))
    calendar = TradingCalendar(holidays=frozenset({date(2026, 11, 26)}))
    with pytest.raises(ValueError, match="not a trading day"):
        DayBuilder(date(2026, 11, 26), calendar=calendar)


def test_builder_rejects_inconsistent_bar() -> None:
    with pytest.raises(ValueError, match="minute 3: OHLC"):
        DayBuilder(DAY).bar(3, 100.0, 99.0, 98.0, 100.0)
