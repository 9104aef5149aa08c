"""Scenario tests of the tracker's rules on a compact planted day, SHORT and its LONG mirror image."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from slob_cli.core.models import Direction
from slob_cli.core.strategy import (
    TRANSITIONS,
    EventType,
    IllegalTransition,
    InvalidationReason,
    SetupState,
    StrategyConfig,
    check_transition,
)
from slob_cli.sim.scenarios import DayBuilder
from tests.core.tracking import brief, of, replay, short_day

PIVOT = 20000.0  # LONG days are the SHORT template reflected around this price


def day(direction: Direction) -> DayBuilder:
    """Return the template for a direction (see tests.core.tracking.short_day)."""
    builder = short_day()
    return builder if direction is Direction.SHORT else MirrorBuilder(builder)


class MirrorBuilder(DayBuilder):
    """A builder that takes SHORT-template prices and plants their LONG mirror image."""

    def __init__(self, template: DayBuilder) -> None:
        mirrored = template.mirrored(PIVOT)
        self.session, self.symbol, self._bars = mirrored.session, mirrored.symbol, mirrored._bars

    def bar(self, minute: int, opened: float, high: float, low: float, close: float, tick_count: int = 30) -> DayBuilder:
        return super().bar(minute, 2 * PIVOT - opened, 2 * PIVOT - low, 2 * PIVOT - high, 2 * PIVOT - close, tick_count)


def price(direction: Direction, value: float) -> float:
    """Return a template price as seen in a day of this direction."""
    return value if direction is Direction.SHORT else 2 * PIVOT - value


def first(events, kind: EventType):
    return next(event for event in events if event.type is kind)


def at(builder: DayBuilder, minute: int) -> str:
    return builder.time(minute).strftime("%H:%M")


BOTH = pytest.mark.parametrize("direction", [Direction.SHORT, Direction.LONG])


def test_short_template_event_sequence_is_exact() -> None:
    events, _tracker = replay(short_day().candles())
    assert brief(of(events, "S1"), "price") == [
        ("14:30", "LIQ1_DETECTED", "S1", 19960.0),
        ("14:31", "HIGH_SET", "S1", 20000.0),
        ("14:32", "LOW_SET", "S1", 19970.0),
        ("14:35", "LOW_CONFIRMED", "S1", 19970.0),
        ("14:36", "HIGH_CONFIRMED", "S1", 20000.0),
        ("14:36", "ARMED", "S1", None),
        ("14:47", "LIQ2_DETECTED", "S1", 20005.0),
        ("14:48", "SETUP_COMPLETE", "S1", None),
    ]
    complete = first(events, EventType.SETUP_COMPLETE)
    assert (complete.data["entry_est"], complete.data["sl"], complete.data["tp"], complete.data["rr"]) == (
        19976.0, 20006.0, 19937.0, 1.3)
    assert [event.type for event in events].count(EventType.SETUP_COMPLETE) == 1


def test_long_template_confirms_low_in_three_bars_and_high_in_five_then_completes() -> None:
    events, tracker = replay(day(Direction.LONG).candles())
    assert brief(of(events, "L1"), "price") == [
        ("14:30", "LIQ1_DETECTED", "L1", 20040.0),
        ("14:31", "LOW_SET", "L1", 20000.0),
        ("14:32", "HIGH_SET", "L1", 20030.0),
        ("14:34", "LOW_CONFIRMED", "L1", 20000.0),
        ("14:37", "HIGH_CONFIRMED", "L1", 20030.0),
        ("14:37", "ARMED", "L1", None),
        ("14:47", "LIQ2_DETECTED", "L1", 19995.0),
        ("14:48", "SETUP_COMPLETE", "L1", None),
    ]
    view = tracker.candidates()[0]
    assert (view.entry_estimate, view.stop, view.target, view.risk_reward) == (20024.0, 19994.0, 20063.0, 1.3)
    assert (view.high, view.low, view.liq1_price, view.liq2_price) == (20030.0, 20000.0, 20040.0, 19995.0)


@pytest.mark.parametrize(("low", "outcome"), [(19940.0, "ARMED"), (19939.75, "SETUP_INVALIDATED")])
def test_band_upper_bound_is_inclusive(low, outcome) -> None:
    builder = short_day().bar(2, 19990, 19992, low, 19975)  # 60 / 20 000 = 0.30 % exactly
    events, _ = replay(builder.candles())
    kinds = [event.type.value for event in of(events, "S1")]
    assert outcome in kinds and ("ARMED" in kinds) == (outcome == "ARMED")


@pytest.mark.parametrize(("low", "armed"), [(19980.0, True), (19980.25, False)])
def test_band_lower_bound_is_inclusive_and_too_shallow_low_just_waits(low, armed) -> None:
    builder = short_day().bar(2, 19990, 19992, low, 19985).hold(3, 13, 19985.0)
    builder.bar(16, 19985, 19990, 19984.75, 19990)
    events, tracker = replay(builder.candles()[: len(builder.candles()) - 2])  # stop before LIQ #2
    kinds = [event.type for event in of(events, "S1")]
    assert (EventType.ARMED in kinds) is armed
    assert tracker.candidates()[0].state is (SetupState.WATCHING_LIQ2 if armed else SetupState.WATCHING_CONSOL)


@BOTH
def test_low_beyond_band_invalidates_reporting_the_breaching_level(direction) -> None:
    builder = day(direction).bar(2, 19990, 19992, 19930, 19975)  # 70 / 20 000 = 0.35 %
    events, tracker = replay(builder.candles())
    invalid = first(of(events, direction.value[0] + "1"), EventType.SETUP_INVALIDATED)
    assert invalid.data["reason"] == "CONSOL_RANGE_INVALID" and invalid.data["level"] == price(direction, 19930.0)
    assert invalid.bar_time == builder.time(2)
    view = tracker.candidates()[0]
    assert view.invalidation_reason is InvalidationReason.CONSOL_RANGE_INVALID
    breaching = view.low if direction is Direction.SHORT else view.high
    assert breaching == price(direction, 19930.0)


@BOTH
def test_no_liq2_within_120_minutes_times_out_at_the_120th_minute(direction) -> None:
    builder = day(direction).hold(16, 110, 19980.0)  # m16..m125 quiet dojis, no break of the HIGH
    events, _ = replay(builder.candles())
    invalid = first(events, EventType.SETUP_INVALIDATED)
    assert (invalid.data["reason"], invalid.data["minutes"], invalid.bar_time) == ("CONSOL_TIMEOUT", 120, builder.time(121))


@BOTH
def test_gap_invalidates_and_the_side_restarts_on_the_next_breaking_bar(direction) -> None:
    builder = day(direction).bar(10, 19983, 19985, 19982, 19984).hold(11, 5, 19984.0)  # m10 low > m9 high
    events, _tracker = replay(builder.candles())
    letter = direction.value[0]
    invalid = first(events, EventType.SETUP_INVALIDATED)
    assert (invalid.data["reason"], invalid.bar_time) == ("GAP_DETECTED", builder.time(10))
    assert invalid.data["previous_bar_time"] == builder.time(9).isoformat().replace("+00:00", "Z")
    second = of(events, letter + "2")
    assert brief(second[:1]) == [(at(builder, 11), "LIQ1_DETECTED", letter + "2")]  # freed on m10, restarts m11


def test_gap_rule_can_be_switched_off() -> None:
    builder = short_day().bar(10, 19983, 19985, 19982, 19984).hold(11, 5, 19984.0).bar(16, 19984, 19990, 19983.75, 19990)
    _events, tracker = replay(builder.candles(), StrategyConfig(gap_rule=False))
    assert tracker.candidates()[0].state is SetupState.SETUP_COMPLETE


@pytest.mark.parametrize(("high", "reason"), [(20090.0, None), (20090.25, "RETRACEMENT_EXCEEDED")])
def test_retracement_beyond_nwc_high_plus_100_points_invalidates(high, reason) -> None:
    builder = short_day().bar(18, 19988, high, 19985, 19988).hold(19, 2, 19988.0)  # NWC high 19 990 + 100
    events, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.invalidation_reason.value if view.invalidation_reason else None) == reason
    if reason:
        invalid = first(events, EventType.SETUP_INVALIDATED)
        assert (invalid.data["price"], invalid.data["limit"], invalid.bar_time) == (high, 20090.0, builder.time(18))


@BOTH
def test_no_trigger_within_20_bars_of_liq2_times_out(direction) -> None:
    builder = day(direction).hold(18, 25, 19985.0)
    events, _ = replay(builder.candles())
    invalid = first(events, EventType.SETUP_INVALIDATED)
    assert (invalid.data["reason"], invalid.data["minutes"], invalid.bar_time) == ("ENTRY_TIMEOUT", 20, builder.time(37))


def test_trigger_on_the_20th_bar_after_liq2_still_completes() -> None:
    builder = short_day().hold(18, 19, 19985.0).bar(37, 19985, 19986, 19975, 19976)
    _, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.state, view.trigger_time) == (SetupState.SETUP_COMPLETE, builder.time(37))


def test_risk_reward_at_or_below_minimum_invalidates_with_the_numbers() -> None:
    events, tracker = replay(short_day().candles(), StrategyConfig(min_rr=1.3))
    invalid = first(events, EventType.SETUP_INVALIDATED)
    assert dict(invalid.data) == {"reason": "NEGATIVE_RISK_REWARD", "entry_est": 19976.0, "sl": 20006.0, "tp": 19937.0,
                                  "rr": 1.3, "tp_source": "swing", "swing_time": "2026-01-06T14:30:00Z"}
    assert EventType.SETUP_COMPLETE not in [event.type for event in events]
    assert tracker.candidates()[0].stop == 20006.0


def test_tp_mode_lse_targets_reference_low_minus_one() -> None:
    events, _ = replay(short_day().candles(), StrategyConfig(tp_mode="lse"))
    complete = first(events, EventType.SETUP_COMPLETE)
    assert (complete.data["tp"], complete.data["tp_source"], complete.data["rr"]) == (19849.0, "lse", 127 / 30)


def test_target_on_the_wrong_side_of_entry_gives_negative_risk_reward() -> None:
    builder = short_day().reference(19950.0, 19945.0, seed=1)  # LSE low 19 945: target 19 944
    builder.bar(18, 19988, 19990, 19935, 19940)  # trigger closes at 19 940, below the target
    events, _tracker = replay(builder.candles(), StrategyConfig(tp_mode="lse"))
    invalid = first(of(events, "S1"), EventType.SETUP_INVALIDATED)
    assert (invalid.data["reason"], invalid.data["tp"], invalid.data["entry_est"], invalid.data["rr"]) == (
        "NEGATIVE_RISK_REWARD", 19944.0, 19940.0, -4 / 66)


def test_no_swing_low_below_entry_falls_back_to_the_reference_low() -> None:
    builder = short_day().bar(0, 19942, 19960, 19941, 19955)  # m0 low no longer under its neighbours
    events, _ = replay(builder.candles())
    complete = first(events, EventType.SETUP_COMPLETE)
    assert (complete.data["tp"], complete.data["tp_source"], complete.data["swing_time"]) == (19849.0, "lse", None)


@BOTH
def test_premature_break_resets_structure_and_a_later_liq2_completes(direction) -> None:
    builder = day(direction)
    builder.bar(10, 19980, 20010, 19979, 20008)  # break 8 min after the LOW: premature
    builder.bar(11, 20008, 20009, 19985, 19988)  # new LOW 19 985 (25 / 20 010 = 0.125 %)
    builder.hold(12, 14, 19990.0)  # m12..m25
    builder.bar(26, 19990, 20000, 19989.75, 20000)  # no-wick candle
    builder.bar(27, 20000, 20015, 19995, 19998)  # LIQ #2: 16 min after the LOW, 17 after the HIGH
    builder.bar(28, 19998, 19999, 19985, 19986)  # trigger: close < 19 989.75
    events, tracker = replay(builder.candles())
    letter = direction.value[0]
    reset = first(events, EventType.STRUCTURE_RESET)
    assert (reset.data["reason"], reset.data["price"], reset.bar_time) == ("premature", price(direction, 20010.0), builder.time(10))
    view = tracker.candidates()[0]
    assert (view.id[-2:], view.state, view.liq2_time, view.trigger_time) == (
        letter + "1", SetupState.SETUP_COMPLETE, builder.time(27), builder.time(28))
    assert view.stop == price(direction, 20016.0)


def test_lower_low_inside_band_disarms_and_rearms_after_confirmation() -> None:
    builder = short_day()
    builder.bar(10, 19980, 19981, 19960, 19975)  # new LOW 19 960 (0.20 %) while armed
    builder.hold(11, 14, 19980.0)  # m11..m24
    builder.bar(25, 19980, 19990, 19979.75, 19990)  # no-wick candle
    builder.bar(26, 19990, 20005, 19985, 19988)  # LIQ #2, 16 min after the new LOW
    builder.bar(27, 19988, 19990, 19975, 19976)
    events, tracker = replay(builder.candles())
    assert brief(of(events, "S1"), "price")[6:] == [
        ("14:40", "LOW_SET", "S1", 19960.0),
        ("14:40", "DISARMED", "S1", None),
        ("14:43", "LOW_CONFIRMED", "S1", 19960.0),
        ("14:43", "ARMED", "S1", None),
        ("14:56", "LIQ2_DETECTED", "S1", 20005.0),
        ("14:57", "SETUP_COMPLETE", "S1", None),
    ]
    assert tracker.candidates()[0].low == 19960.0


def test_break_without_nowick_candle_resets_with_reason_no_nowick() -> None:
    builder = short_day().bar(16, 19980, 19990, 19978, 19990)  # lower wick 2 / body 10 = 20 %: not < 20 %
    events, tracker = replay(builder.candles())
    reset = first(events, EventType.STRUCTURE_RESET)
    assert (reset.data["reason"], reset.bar_time) == ("no_nowick", builder.time(17))
    view = tracker.candidates()[0]
    assert (view.state, view.high, view.high_time, view.low) == (SetupState.WATCHING_CONSOL, 20005.0, builder.time(17), 19975.0)


@pytest.mark.parametrize(("allowed", "trigger_minute"), [(True, 17), (False, 18)])
def test_trigger_on_the_liq2_bar_itself_follows_the_flag(allowed, trigger_minute) -> None:
    builder = short_day().bar(17, 19990, 20005, 19975, 19976)  # sweeps and closes below the NWC low
    _events, tracker = replay(builder.candles(), StrategyConfig(allow_trigger_on_liq2_bar=allowed))
    view = tracker.candidates()[0]
    assert (view.state, view.trigger_time) == (SetupState.SETUP_COMPLETE, builder.time(trigger_minute))
    assert view.stop == 20006.0


def test_nowick_candle_on_the_liq2_bar_is_the_latest_one() -> None:
    builder = short_day().bar(17, 19990, 20005, 19989.75, 20004)  # LIQ #2 bar is itself a no-wick candle
    builder.bar(18, 20004, 20004.5, 19985, 19986)  # closes below 19 989.75
    events, tracker = replay(builder.candles())
    liq2 = first(events, EventType.LIQ2_DETECTED)
    assert (liq2.data["nwc_time"], liq2.data["nwc_low"]) == ("2026-01-06T14:47:00Z", 19989.75)
    assert tracker.candidates()[0].trigger_time == builder.time(18)


def test_spike_rule_places_stop_above_liq2_body_when_enabled() -> None:
    builder = short_day().bar(17, 19990, 20010, 19988, 19991)  # upper wick 19 > 2 x body 1
    config = StrategyConfig(spike_rule=True)
    on = replay(builder.candles(), config)[1].candidates()[0]
    off = replay(builder.candles())[1].candidates()[0]
    assert (on.stop, off.stop) == (19993.0, 20011.0)


def test_bar_breaking_both_levels_starts_short_then_long() -> None:
    builder = short_day().bar(0, 19900, 19960, 19840, 19955)
    events, _ = replay(builder.candles())
    assert brief(events[1:3], "price", "level") == [
        ("14:30", "LIQ1_DETECTED", "S1", 19960.0, 19950.0), ("14:30", "LIQ1_DETECTED", "L1", 19840.0, 19850.0)]


def test_session_end_from_clock_closes_live_candidates_once() -> None:
    builder = short_day()
    candles = builder.candles()[:-1]  # stop in WAITING_ENTRY
    _events, tracker = replay(candles, config=StrategyConfig(entry_timeout_bars=600))  # the close comes first
    end = builder.session.session_end
    assert tracker.on_time(end - timedelta(seconds=1)) == []
    closed = tracker.on_time(end)
    assert brief(closed, "reason") == [("21:00", "SETUP_INVALIDATED", "S1", "MARKET_CLOSED")]
    assert closed[0].bar_time == end
    assert tracker.on_time(end) == [] and tracker.on_time(end + timedelta(minutes=5)) == []
    assert tracker.candidates()[0].invalidation_reason is InvalidationReason.MARKET_CLOSED


def test_illegal_transition_from_a_terminal_state_raises() -> None:
    _, tracker = replay(short_day().candles())
    candidate = tracker._day.candidates[0]
    assert candidate.state is SetupState.SETUP_COMPLETE
    with pytest.raises(IllegalTransition, match="SETUP_COMPLETE -> INVALIDATED"):
        candidate.invalidate(InvalidationReason.MARKET_CLOSED, datetime(2026, 1, 6, 21, 0), {}, [])


def test_transition_table_allows_only_spec_moves() -> None:
    assert TRANSITIONS[SetupState.SETUP_COMPLETE] == frozenset() == TRANSITIONS[SetupState.INVALIDATED]
    assert check_transition(SetupState.WATCHING_LIQ2, SetupState.WATCHING_CONSOL) is SetupState.WATCHING_CONSOL
    for current, target in [(SetupState.WATCHING_CONSOL, SetupState.WAITING_ENTRY),
                            (SetupState.WAITING_ENTRY, SetupState.WATCHING_LIQ2),
                            (SetupState.WATCHING_LIQ1, SetupState.SETUP_COMPLETE)]:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_liq2_exactly_120_minutes_after_the_high_is_still_valid() -> None:
    builder = short_day().drop(16, 17, 18).hold(3, 117, 19980.0)  # m3..m119
    builder.bar(120, 19980, 19990, 19979.75, 19990)  # no-wick candle
    builder.bar(121, 19990, 20005, 19985, 19988)  # LIQ #2 at t - tH = 120
    builder.bar(122, 19988, 19990, 19975, 19976)
    events, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.state, view.liq2_time, view.trigger_time) == (SetupState.SETUP_COMPLETE, builder.time(121), builder.time(122))
    assert InvalidationReason.CONSOL_TIMEOUT.value not in [event.data.get("reason") for event in events]


def test_a_trigger_after_a_data_hole_past_the_entry_timeout_finds_it_timed_out_at_the_limit_minute() -> None:
    # §4.7: bars m19..m45 are missing; the bar after the hole would trigger, but the candidate timed
    # out at LIQ #2 + 20 (the limit minute is the event time) and never completes.
    builder = short_day()
    candles = builder.candles()
    full, _ = replay(candles)
    liq2 = next(event for event in full if event.type is EventType.LIQ2_DETECTED).bar_time
    limit = liq2 + timedelta(minutes=20)
    trigger = next(event for event in full if event.type is EventType.SETUP_COMPLETE).bar_time
    trigger_bar = next(c for c in candles if c.ts == trigger)
    after = replace(trigger_bar, ts=limit + timedelta(minutes=6))  # the same triggering bar, after the hole
    events, _tracker = replay([c for c in candles if c.ts <= liq2] + [after])
    invalid = [event for event in events if event.type is EventType.SETUP_INVALIDATED]
    assert [(event.data["reason"], event.data["minutes"], event.bar_time) for event in invalid] == [
        ("ENTRY_TIMEOUT", 20, limit)]
    assert EventType.SETUP_COMPLETE not in {event.type for event in events}


def test_the_clock_fires_the_entry_timeout_at_the_close_of_the_limit_minute_without_a_bar() -> None:
    builder = short_day()
    full, _ = replay(builder.candles())
    liq2 = next(event for event in full if event.type is EventType.LIQ2_DETECTED).bar_time
    limit = liq2 + timedelta(minutes=20)
    _events, tracker = replay([c for c in builder.candles() if c.ts <= liq2])  # no bar after LIQ #2
    assert tracker.on_time(limit + timedelta(seconds=59)) == []
    fired = tracker.on_time(limit + timedelta(minutes=1))
    assert brief(fired, "reason") == [(f"{limit:%H:%M}", "SETUP_INVALIDATED", "S1", "ENTRY_TIMEOUT")]
    assert fired[0].bar_time == limit
