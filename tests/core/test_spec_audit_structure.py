"""Spec audit, STRATEGY.md §2-§3: LIQ #1, internal HIGH/LOW, band and timing edges, SHORT and LONG.

Every case starts from the compact SHORT template of tests.core.tracking.short_day (H = 20 000 at
m1, L = 19 970 at m2, NWC m16, LIQ #2 m17, trigger m18) and, for a LONG, reflects the finished day
around a pivot, so the LONG sees the same structure upside down (LOW anchor, HIGH second level).
"""

from __future__ import annotations

import pytest

from slob_cli.core.models import Direction
from slob_cli.core.strategy import EventType, SetupState, StrategyConfig
from slob_cli.sim.scenarios import DayBuilder
from tests.core.tracking import brief, of, replay, short_day

PIVOT = 20000.0
BOTH = pytest.mark.parametrize("direction", [Direction.SHORT, Direction.LONG])
HIGH_SET = {Direction.SHORT: "HIGH_SET", Direction.LONG: "LOW_SET"}  # the first level's events
LOW_SET = {Direction.SHORT: "LOW_SET", Direction.LONG: "HIGH_SET"}  # the second level's events


def oriented(builder: DayBuilder, direction: Direction, pivot: float = PIVOT) -> DayBuilder:
    """Return the SHORT-template builder as is, or reflected around pivot for a LONG."""
    return builder if direction is Direction.SHORT else builder.mirrored(pivot)


def price(direction: Direction, value: float, pivot: float = PIVOT) -> float:
    """Return a template price as seen in a day of this direction."""
    return value if direction is Direction.SHORT else 2 * pivot - value


def run(builder: DayBuilder, direction: Direction, config: StrategyConfig | None = None, pivot: float = PIVOT):
    """Replay the (reflected) day; return the first candidate's events, its view and the builder."""
    day = oriented(builder, direction, pivot)
    events, tracker = replay(day.candles(), config)
    name = direction.value[0] + "1"
    return of(events, name), tracker.candidates()[0], day


def kinds(events) -> list[str]:
    return [event.type.value for event in events]


# -- §2 LIQ #1 -------------------------------------------------------------------------------------


@BOTH
def test_bar_touching_the_lse_level_exactly_is_no_liq1_the_next_breaking_bar_is(direction) -> None:
    builder = short_day().bar(0, 19940, 19950, 19938, 19945)  # high = LSE high 19 950: a touch, no break
    events, view, day = run(builder, direction)
    assert brief(events[:1], "price", "level") == [
        ("14:31", "LIQ1_DETECTED", direction.value[0] + "1", price(direction, 20000.0), price(direction, 19950.0))]
    assert view.liq1_time == day.time(1)


@BOTH
def test_liq1_bar_is_not_part_of_the_structure_even_when_it_is_higher(direction) -> None:
    builder = short_day().bar(0, 19940, 20010, 19938, 19955)  # LIQ #1 high 20 010 above the later HIGH 20 000
    events, view, day = run(builder, direction)
    assert brief(events[:2], "price") == [
        ("14:30", "LIQ1_DETECTED", direction.value[0] + "1", price(direction, 20010.0)),
        ("14:31", HIGH_SET[direction], direction.value[0] + "1", price(direction, 20000.0))]
    assert (view.state, view.liq2_time, view.liq2_price) == (SetupState.SETUP_COMPLETE, day.time(17), price(direction, 20005.0))


@BOTH
def test_side_freed_by_completion_restarts_on_the_next_bar_without_returning_inside(direction) -> None:
    builder = short_day().bar(19, 19976, 19980, 19970, 19975).bar(20, 19975, 19978, 19972, 19974)
    day = oriented(builder, direction)
    events, tracker = replay(day.candles())
    letter = direction.value[0]
    liq1 = [event for event in events if event.type is EventType.LIQ1_DETECTED]
    # m1..m18 all break the level while the first candidate lives; m18 completes it and starts nothing.
    assert brief(liq1) == [("14:30", "LIQ1_DETECTED", letter + "1"), ("14:49", "LIQ1_DETECTED", letter + "2")]
    second = of(events, letter + "2")
    assert brief(second, "price") == [
        ("14:49", "LIQ1_DETECTED", letter + "2", price(direction, 19980.0)),
        ("14:50", HIGH_SET[direction], letter + "2", price(direction, 19978.0))]  # its own bar is not processed
    assert [view.state for view in tracker.candidates()] == [SetupState.SETUP_COMPLETE, SetupState.WATCHING_CONSOL]


# -- §3.1 / §3.2 touching a level is no break ------------------------------------------------------


@BOTH
def test_bar_touching_the_internal_high_neither_reanchors_nor_stops_its_confirmation(direction) -> None:
    builder = short_day().bar(3, 19980, 20000, 19979, 19980)  # high = H exactly
    events, view, day = run(builder, direction)
    assert kinds(events).count(HIGH_SET[direction]) == 1
    confirmed = [event for event in events if event.type.value == HIGH_SET[direction].replace("SET", "CONFIRMED")]
    assert [event.bar_time for event in confirmed] == [day.time(6 if direction is Direction.SHORT else 4)]
    assert view.state is SetupState.SETUP_COMPLETE


@BOTH
def test_bar_touching_the_internal_low_does_not_replace_it_nor_restart_its_confirmation(direction) -> None:
    builder = short_day().bar(3, 19980, 19981, 19970, 19980)  # low = L exactly
    events, view, day = run(builder, direction)
    assert kinds(events).count(LOW_SET[direction]) == 1
    confirmed = [event for event in events if event.type.value == LOW_SET[direction].replace("SET", "CONFIRMED")]
    assert [event.bar_time for event in confirmed] == [day.time(5 if direction is Direction.SHORT else 7)]
    assert (view.state, view.liq2_time) == (SetupState.SETUP_COMPLETE, day.time(17))


@BOTH
def test_liq2_bar_touching_the_high_exactly_is_no_break(direction) -> None:
    builder = short_day().bar(17, 19990, 20000, 19985, 19988)  # high = H: no LIQ #2, no reset
    events, view, _ = run(builder, direction)
    assert "LIQ2_DETECTED" not in kinds(events) and "STRUCTURE_RESET" not in kinds(events)
    assert (view.state, view.trigger_time) == (SetupState.WATCHING_LIQ2, None)


# -- §3.3 band, both bounds inclusive, both directions --------------------------------------------


@BOTH
@pytest.mark.parametrize(("low", "outcome"), [(19940.0, SetupState.SETUP_COMPLETE), (19939.75, SetupState.INVALIDATED)])
def test_depth_of_exactly_0_30_percent_is_inside_the_band(direction, low, outcome) -> None:
    # LONG: reflected around (20 000 + low) / 2, so its LOW is `low` and its HIGH 20 000: the same depth.
    builder = short_day().bar(2, 19990, 19992, low, 19975)
    events, view, _ = run(builder, direction, pivot=(20000.0 + low) / 2)
    assert view.state is outcome
    assert (view.high, view.low) == (20000.0, low)
    if outcome is SetupState.INVALIDATED:
        assert events[-1].data["reason"] == "CONSOL_RANGE_INVALID" and events[-1].data["level"] == price(
            direction, low, (20000.0 + low) / 2)


@BOTH
@pytest.mark.parametrize(("low", "armed"), [(19980.0, True), (19980.25, False)])
def test_depth_of_exactly_0_10_percent_arms_and_just_below_waits(direction, low, armed) -> None:
    builder = short_day().bar(2, 19990, 19992, low, 19985).hold(3, 13, 19985.0)
    builder.bar(16, 19985, 19990, 19984.75, 19990)  # no-wick candle (wick 0.25 / body 5)
    events, view, day = run(builder, direction, pivot=(20000.0 + low) / 2)
    assert ("ARMED" in kinds(events)) is armed
    if armed:
        assert (view.state, view.liq2_time, view.trigger_time) == (SetupState.SETUP_COMPLETE, day.time(17), day.time(18))
    else:  # a break with a too-shallow LOW is a plain new extreme: the structure re-anchors there
        reset = [event for event in events if event.type is EventType.STRUCTURE_RESET]
        assert [(event.data["reason"], event.bar_time) for event in reset] == [("new_high", day.time(17))]
        assert view.state is SetupState.WATCHING_CONSOL


# -- §3.4 timing -----------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(("liq2", "valid"), [(17, True), (16, False)])
def test_liq2_needs_15_minutes_from_the_bar_that_made_the_low(direction, liq2, valid) -> None:
    builder = short_day().drop(16, 17, 18)
    builder.bar(liq2 - 1, 19980, 19990, 19979.75, 19990)  # no-wick candle
    builder.bar(liq2, 19990, 20005, 19985, 19988)  # break, t - tL = 15 or 14 (t - tH = 16 or 15)
    events, view, day = run(builder, direction)
    if valid:
        assert (view.state, view.liq2_time) == (SetupState.WAITING_ENTRY, day.time(liq2))
    else:
        reset = [event for event in events if event.type is EventType.STRUCTURE_RESET]
        assert [(event.data["reason"], event.bar_time) for event in reset] == [("premature", day.time(liq2))]
        assert (view.state, view.high_time if direction is Direction.SHORT else view.low_time) == (
            SetupState.WATCHING_CONSOL, day.time(liq2))


@BOTH
@pytest.mark.parametrize(("liq2", "valid"), [(25, True), (24, False)])
def test_a_new_low_restarts_the_15_minute_rule(direction, liq2, valid) -> None:
    builder = short_day().bar(10, 19980, 19981, 19960, 19975).hold(11, 14, 19980.0)  # new LOW m10, m11..m24
    builder.bar(liq2 - 1, 19980, 19990, 19979.75, 19990)
    builder.bar(liq2, 19990, 20005, 19985, 19988)
    events, view, day = run(builder, direction)
    if valid:
        assert (view.state, view.liq2_time) == (SetupState.WAITING_ENTRY, day.time(25))
    else:
        assert [event.data["reason"] for event in events if event.type is EventType.STRUCTURE_RESET] == ["premature"]
        assert view.state is SetupState.WATCHING_CONSOL


@BOTH
@pytest.mark.parametrize(("liq2", "valid"), [(16, True), (15, False)])
def test_liq2_needs_15_minutes_from_the_high_when_the_low_wait_is_shorter(direction, liq2, valid) -> None:
    builder = short_day().drop(16, 17, 18)
    builder.bar(liq2 - 1, 19980, 19990, 19979.75, 19990)
    builder.bar(liq2, 19990, 20005, 19985, 19988)  # t - tH = 15 or 14; t - tL >= 5
    events, view, day = run(builder, direction, StrategyConfig(liq2_wait_min=5))
    assert (view.liq2_time == day.time(liq2)) is valid
    assert ("STRUCTURE_RESET" in kinds(events)) is not valid


@BOTH
def test_structure_reset_restarts_the_120_minute_clock(direction) -> None:
    builder = short_day().bar(10, 19980, 20010, 19979, 20008).hold(11, 125, 19990.0)  # premature at m10, m11..m135
    events, view, day = run(builder, direction)
    invalid = events[-1]
    assert (invalid.data["reason"], invalid.data["minutes"], invalid.bar_time) == ("CONSOL_TIMEOUT", 120, day.time(130))
    assert (view.high_time if direction is Direction.SHORT else view.low_time) == day.time(10)


@BOTH
def test_119_minutes_after_the_high_is_not_yet_a_timeout(direction) -> None:
    builder = short_day().hold(16, 104, 19980.0)  # m16..m119: t - tH reaches 118 at m119
    builder.bar(120, 19980, 19981, 19979, 19980)  # t - tH = 119
    events, view, _ = run(builder, direction)
    assert view.state is SetupState.WATCHING_LIQ2 and "SETUP_INVALIDATED" not in kinds(events)


@BOTH
def test_break_of_the_high_after_a_data_hole_past_120_minutes_finds_it_timed_out(direction) -> None:
    # §4.7 "Timers run on the clock": the bar after the hole (m126, t - tH = 125) comes too late to
    # break anything; the candidate is already CONSOL_TIMEOUT at tH + 120 (m121), the limit minute.
    builder = short_day().hold(3, 100, 19980.0).bar(126, 19980, 20005, 19979, 19990)  # m103..m125 missing
    events, view, day = run(builder, direction)
    assert EventType.STRUCTURE_RESET not in {event.type for event in events if event.bar_time >= day.time(103)}
    invalid = [event for event in events if event.type is EventType.SETUP_INVALIDATED]
    assert [(event.data["reason"], event.data["minutes"], event.bar_time) for event in invalid] == [
        ("CONSOL_TIMEOUT", 120, day.time(121))]
    assert view.state is SetupState.INVALIDATED


@pytest.mark.parametrize(("low", "state"), [
    (25561.5, SetupState.WATCHING_CONSOL),  # 25.5 / 25 587 = 0.0997 %: too shallow, the break re-anchors
    (25561.25, SetupState.SETUP_COMPLETE),  # 0.1006 %
    (25510.25, SetupState.SETUP_COMPLETE),  # 0.29996 %
    (25510.0, SetupState.INVALIDATED),  # 0.3009 %
])
def test_spec_band_example_high_25587_valid_low_between_25561_41_and_25510_24(low, state) -> None:
    shift = 25587.0 - 20000.0  # the template moved up so that H = 25 587 (§3.3 example)
    builder = short_day().bar(2, 19990, 19992, low - shift, 19975).mirrored(20000.0).mirrored(20000.0 + shift / 2)
    _events, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.state, view.high_time) == (state, builder.time(17 if state is SetupState.WATCHING_CONSOL else 1))
    if state is not SetupState.WATCHING_CONSOL:
        assert (view.high, view.low) == (25587.0, low)


@BOTH
def test_liq2_at_exactly_120_minutes_after_the_first_level_is_valid_in_both_directions(direction) -> None:
    builder = short_day().drop(16, 17, 18).hold(3, 117, 19980.0)  # m3..m119
    builder.bar(120, 19980, 19990, 19979.75, 19990)  # no-wick candle
    builder.bar(121, 19990, 20005, 19985, 19988)  # LIQ #2: t - t(first level m1) = 120
    builder.bar(122, 19988, 19990, 19975, 19976)
    _events, view, day = run(builder, direction)
    assert (view.state, view.liq2_time, view.trigger_time) == (SetupState.SETUP_COMPLETE, day.time(121), day.time(122))


@BOTH
def test_premature_break_at_exactly_120_minutes_resets_instead_of_timing_out(direction) -> None:
    builder = short_day().drop(16, 17, 18).hold(3, 117, 19980.0)  # m3..m119
    builder.bar(112, 19980, 19981, 19965, 19975)  # a new LOW 9 minutes before the break (0.175 %)
    builder.bar(120, 19975, 19990, 19974.75, 19990)  # no-wick candle
    builder.bar(121, 19990, 20005, 19985, 19988)  # break at t - tH = 120, but t - tL = 9: premature
    events, view, day = run(builder, direction)
    reset = [event for event in events if event.type is EventType.STRUCTURE_RESET]
    assert [(event.data["reason"], event.bar_time) for event in reset] == [("premature", day.time(121))]
    assert view.state is SetupState.WATCHING_CONSOL and "SETUP_INVALIDATED" not in kinds(events)
