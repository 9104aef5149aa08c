"""Named scenario days: full, gapless where meant to be, seeded, and carrying their planted structure."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import EventType, SetupState
from slob_cli.sim.scenarios import SCENARIOS, DayBuilder, build_scenario
from tests.core.tracking import replay

UTC = timezone.utc
DAY = date(2026, 1, 6)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_covers_reference_start_to_session_end_minute_by_minute(name) -> None:
    candles = build_scenario(name, DAY, seed=4)
    assert candles[0].ts == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert candles[-1].ts == datetime(2026, 1, 6, 20, 59, tzinfo=UTC)
    assert len(candles) == 780
    assert all(b.ts - a.ts == timedelta(minutes=1) for a, b in zip(candles, candles[1:], strict=False))
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
            first_id, SetupState.SETUP_COMPLETE, datetime(2026, 1, 6, 15, 31, tzinfo=UTC), 3.381)


def test_quiet_scenario_never_breaks_the_reference_levels() -> None:
    for seed in range(3):
        events, tracker = replay(build_scenario("quiet", DAY, seed))
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
