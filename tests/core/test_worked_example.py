"""The creator's worked example (§7, 2026-01-06) rebuilt as NQ candles, and its LONG mirror image."""

from __future__ import annotations

from datetime import date, datetime, timezone

from slob_cli.core.models import Direction
from slob_cli.core.strategy import EventType, SetupState, StrategyConfig
from slob_cli.sim.scenarios import worked_example_day
from tests.core.tracking import brief, of, replay

UTC = timezone.utc

EXPECTED_S1 = [
    ("14:30", "LIQ1_DETECTED", "S1", 25491.0),
    ("14:31", "HIGH_SET", "S1", 25490.0),
    ("14:32", "LOW_SET", "S1", 25465.0),
    ("14:33", "LOW_SET", "S1", 25460.0),
    ("14:34", "LOW_SET", "S1", 25455.0),
    ("14:35", "LOW_SET", "S1", 25450.0),
    ("14:36", "LOW_SET", "S1", 25446.0),
    ("14:36", "HIGH_CONFIRMED", "S1", 25490.0),
    ("14:37", "LOW_SET", "S1", 25441.0),
    ("14:38", "LOW_SET", "S1", 25437.0),
    ("14:39", "LOW_SET", "S1", 25433.0),
    ("14:40", "LOW_SET", "S1", 25430.0),
    ("14:41", "LOW_SET", "S1", 25428.0),
    ("14:42", "LOW_SET", "S1", 25425.0),
    ("14:45", "LOW_CONFIRMED", "S1", 25425.0),
    ("14:45", "ARMED", "S1", None),
    ("14:46", "STRUCTURE_RESET", "S1", 25506.0),
    ("14:46", "HIGH_SET", "S1", 25506.0),
    ("14:47", "HIGH_SET", "S1", 25512.0),
    ("14:48", "HIGH_SET", "S1", 25515.0),
    ("14:49", "LOW_SET", "S1", 25502.0),
    ("14:50", "STRUCTURE_RESET", "S1", 25520.0),
    ("14:50", "HIGH_SET", "S1", 25520.0),
    *[(f"14:{minute}", "HIGH_SET", "S1", price) for minute, price in zip(
        range(51, 60), (25530.0, 25538.0, 25545.0, 25552.0, 25558.0, 25565.0, 25570.0, 25575.0, 25580.0), strict=True)],
    ("15:00", "HIGH_SET", "S1", 25584.0),
    ("15:01", "HIGH_SET", "S1", 25587.0),
    ("15:02", "LOW_SET", "S1", 25572.0),
    ("15:03", "LOW_SET", "S1", 25566.0),
    ("15:04", "LOW_SET", "S1", 25563.0),
    ("15:05", "LOW_SET", "S1", 25560.0),
    ("15:06", "HIGH_CONFIRMED", "S1", 25587.0),
    ("15:07", "LOW_SET", "S1", 25556.0),
    ("15:08", "LOW_SET", "S1", 25552.0),
    ("15:09", "LOW_SET", "S1", 25548.0),
    ("15:10", "LOW_SET", "S1", 25545.0),
    ("15:11", "LOW_SET", "S1", 25542.0),
    ("15:14", "LOW_CONFIRMED", "S1", 25542.0),
    ("15:14", "ARMED", "S1", None),
    ("15:26", "LIQ2_DETECTED", "S1", 25592.0),
    ("15:31", "SETUP_COMPLETE", "S1", None),
]


def test_worked_example_completes_short_with_creator_structure_and_numbers() -> None:
    events, tracker = replay(worked_example_day().candles())
    assert brief(events[:1], "high", "low", "coverage") == [("14:30", "LSE_LEVELS_FROZEN", None, 25466.0, 25406.0, 1.0)]
    assert brief(of(events, "S1"), "price") == EXPECTED_S1
    by_type = {event.type: event for event in of(events, "S1")}
    resets = [dict(event.data) for event in of(events, "S1") if event.type is EventType.STRUCTURE_RESET]
    assert resets == [
        {"reason": "premature", "price": 25506.0, "previous": 25490.0},
        {"reason": "new_high", "price": 25520.0, "previous": 25515.0},
    ]
    armed = [event for event in of(events, "S1") if event.type is EventType.ARMED]
    assert dict(armed[-1].data) == {"high": 25587.0, "low": 25542.0, "depth_pct": 0.175871}  # 45 / 25 587
    assert dict(by_type[EventType.LIQ2_DETECTED].data) == {
        "price": 25592.0, "level": 25587.0, "nwc_time": "2026-01-06T15:25:00Z", "nwc_low": 25577.0, "nwc_high": 25587.0,
    }
    assert dict(by_type[EventType.SETUP_COMPLETE].data) == {
        "entry_est": 25572.0, "sl": 25593.0, "tp": 25501.0, "rr": 71 / 21, "tp_source": "swing",
        "swing_time": "2026-01-06T14:49:00Z",
    }
    view = tracker.candidates()[0]
    assert view.to_dict() == {
        "id": "NQ-20260106-S1", "symbol": "NQ", "trading_date": "2026-01-06", "direction": "SHORT",
        "state": "SETUP_COMPLETE", "invalidation_reason": None,
        "liq1_time": "2026-01-06T14:30:00Z", "liq1_price": 25491.0,
        "high": 25587.0, "high_time": "2026-01-06T15:01:00Z", "low": 25542.0, "low_time": "2026-01-06T15:11:00Z",
        "nowick_time": "2026-01-06T15:25:00Z", "liq2_time": "2026-01-06T15:26:00Z", "liq2_price": 25592.0,
        "trigger_time": "2026-01-06T15:31:00Z", "entry_estimate": 25572.0, "stop": 25593.0, "target": 25501.0,
        "risk_reward": 71 / 21,
    }
    assert tracker.reference_levels() == (25466.0, 25406.0)


def test_worked_example_timing_rules_hold_at_the_liq2_bar() -> None:
    view = replay(worked_example_day().candles())[1].candidates()[0]
    assert (view.liq2_time - view.low_time).total_seconds() / 60 == 15  # 15-minute rule from the LOW bar
    assert (view.liq2_time - view.high_time).total_seconds() / 60 == 25  # duration from the HIGH bar
    assert round((view.high - view.low) / view.high * 100, 3) == 0.176


def test_mirrored_day_with_swapped_confirmations_gives_exactly_mirrored_events() -> None:
    # §3.6: a LONG confirms its first level (LOW) in 3 bars and its HIGH in 5; swapping the two
    # counts makes the LONG run the SHORT's timing bar for bar.
    config = StrategyConfig(high_confirm_bars=3, low_confirm_bars=5)
    long_events, tracker = replay(worked_example_day().mirrored(25500.0).candles(), config)
    swap = {"HIGH_SET": "LOW_SET", "LOW_SET": "HIGH_SET", "HIGH_CONFIRMED": "LOW_CONFIRMED", "LOW_CONFIRMED": "HIGH_CONFIRMED"}
    expected = [(time, swap.get(kind, kind), "L1", None if price is None else 51000.0 - price)
                for time, kind, _suffix, price in EXPECTED_S1]
    assert brief(of(long_events, "L1"), "price") == expected
    view = tracker.candidates()[0]
    assert view.direction is Direction.LONG and view.state is SetupState.SETUP_COMPLETE
    assert (view.low, view.high, view.liq2_price) == (25413.0, 25458.0, 25408.0)
    assert (view.entry_estimate, view.stop, view.target, view.risk_reward) == (25428.0, 25407.0, 25499.0, 71 / 21)
    assert view.low_time == datetime(2026, 1, 6, 15, 1, tzinfo=UTC)
    assert all(event.trading_date == date(2026, 1, 6) for event in long_events)


def test_mirrored_worked_example_completes_long_with_default_config() -> None:
    events, tracker = replay(worked_example_day().mirrored(25500.0).candles())
    view = tracker.candidates()[0]
    assert (view.id, view.state, view.trigger_time) == ("NQ-20260106-L1", SetupState.SETUP_COMPLETE,
                                                        datetime(2026, 1, 6, 15, 31, tzinfo=UTC))
    assert (view.entry_estimate, view.stop, view.target, view.risk_reward) == (25428.0, 25407.0, 25499.0, 71 / 21)
    confirmations = brief([e for e in of(events, "L1") if e.type.value.endswith("CONFIRMED") or e.type is EventType.ARMED])
    assert confirmations[-3:] == [("15:04", "LOW_CONFIRMED", "L1"), ("15:16", "HIGH_CONFIRMED", "L1"),
                                  ("15:16", "ARMED", "L1")]  # LOW: 3 bars after 15:01; HIGH: 5 bars after 15:11
