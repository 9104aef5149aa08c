"""Spec audit, STRATEGY.md §4: no-wick candle, LIQ #2, entry, stop, target, gap and session edges.

Built on the compact SHORT template of tests.core.tracking.short_day (NWC m16 low 19 979.75 /
high 19 990, LIQ #2 m17 high 20 005, trigger m18 close 19 976: SL 20 006, TP 19 937, R:R 1.3);
a LONG case reflects the finished day around 20 000.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from slob_cli.core.models import Candle, Direction
from slob_cli.core.strategy import EventType, SetupState, StrategyConfig
from slob_cli.sim.scenarios import DayBuilder
from tests.core.tracking import brief, of, replay, short_day

PIVOT = 20000.0
BOTH = pytest.mark.parametrize("direction", [Direction.SHORT, Direction.LONG])


def price(direction: Direction, value: float) -> float:
    """Return a template price as seen in a day of this direction."""
    return value if direction is Direction.SHORT else 2 * PIVOT - value


def run(builder: DayBuilder, direction: Direction, config: StrategyConfig | None = None):
    """Replay the day (reflected for a LONG); return the first candidate's events, its view and the day."""
    day = builder if direction is Direction.SHORT else builder.mirrored(PIVOT)
    events, tracker = replay(day.candles(), config)
    return of(events, direction.value[0] + "1"), tracker.candidates()[0], day


def reasons(events, kind: EventType) -> list[str]:
    return [event.data["reason"] for event in events if event.type is kind]


# -- §4.1 no-wick candle ---------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(("bar", "nowick"), [
    ((19980, 19990, 19978, 19990), False),  # opening-side wick 2 / body 10 = 0.20: not below 0.20
    ((19980, 19990, 19978.25, 19990), True),  # 1.75 / 10 = 0.175
    ((19980, 19990, 19980, 19980), False),  # body 0 (no wick at all): not a no-wick candle
    ((19990, 19990, 19980, 19980), False),  # against the break side (bearish for a SHORT)
])
def test_nowick_candle_needs_a_body_toward_the_break_and_a_wick_strictly_below_20_percent(direction, bar, nowick) -> None:
    events, view, day = run(short_day().bar(16, *bar), direction)
    if nowick:
        liq2 = next(event for event in events if event.type is EventType.LIQ2_DETECTED)
        assert liq2.data["nwc_time"] == "2026-01-06T14:46:00Z"
        assert view.nowick_time == day.time(16)
    else:
        # m0 (the LIQ #1 bar) would qualify, but it lies before tH: no NWC in [tH, t] -> reset
        assert reasons(events, EventType.STRUCTURE_RESET) == ["no_nowick"]
        assert (view.state, view.nowick_time) == (SetupState.WATCHING_CONSOL, None)


@BOTH
def test_nowick_candle_on_the_high_bar_itself_counts(direction) -> None:
    builder = short_day().bar(1, 19955, 20000, 19954, 19990).bar(16, 19980, 19990, 19979, 19980)  # only m1 qualifies
    builder.bar(18, 19988, 19990, 19950, 19952)  # close 19 952 < NWC low 19 954
    events, view, day = run(builder, direction)
    liq2 = next(event for event in events if event.type is EventType.LIQ2_DETECTED)
    assert (liq2.data["nwc_low"], liq2.data["nwc_high"]) == (
        (19954.0, 20000.0) if direction is Direction.SHORT else (20000.0, 20046.0))
    assert (view.nowick_time, view.state, view.entry_estimate) == (day.time(1), SetupState.SETUP_COMPLETE, price(direction, 19952.0))


@BOTH
def test_latest_nowick_candle_is_used_and_frozen_at_liq2(direction) -> None:
    builder = short_day().bar(14, 19980, 19990, 19979.5, 19990)  # an earlier NWC (low 19 979.5)
    builder.bar(15, 19990, 19991, 19980, 19981)  # back down, no NWC
    builder.bar(18, 19988, 19989, 19987.75, 19989)  # NWC after LIQ #2: ignored, and no trigger
    builder.bar(19, 19989, 19990, 19979, 19979.5)  # 19 979.5 < 19 979.75 (m16 low) but not < 19 979.5
    _events, view, day = run(builder, direction)
    assert (view.nowick_time, view.trigger_time, view.entry_estimate) == (day.time(16), day.time(19), price(direction, 19979.5))


# -- §4.3 entry ------------------------------------------------------------------------------------


@BOTH
def test_trigger_close_exactly_at_the_nowick_low_is_no_trigger(direction) -> None:
    builder = short_day().bar(18, 19988, 19990, 19975, 19979.75).bar(19, 19979.75, 19980, 19970, 19971)
    _events, view, day = run(builder, direction)
    assert (view.trigger_time, view.entry_estimate) == (day.time(19), price(direction, 19971.0))


@BOTH
def test_stop_uses_the_extreme_since_liq2_through_the_trigger_bar(direction) -> None:
    builder = short_day().bar(18, 19988, 20008, 19985, 19990).bar(19, 19990, 19991, 19975, 19976)
    _events, view, day = run(builder, direction)
    assert (view.trigger_time, view.stop, view.target) == (day.time(19), price(direction, 20009.0), price(direction, 19937.0))
    assert view.risk_reward == 39 / 33
    assert view.liq2_price == price(direction, 20005.0)  # the LIQ #2 bar's own extreme, not the level


def _shifted_day(trigger_minute: int) -> DayBuilder:
    """Return a full 2026-01-06 day whose template trigger bar (m18) lands at `trigger_minute`."""
    template = short_day()
    builder = DayBuilder(date(2026, 1, 6)).reference(19950.0, 19850.0, seed=3)
    offset = trigger_minute - 18
    builder.hold(0, offset, 19940.0)  # inside the reference range: no LIQ #1 before the template
    for candle in template.candles():
        minute = int((candle.ts - builder.session.session_start).total_seconds() // 60)
        if minute >= 0:
            builder.bar(minute + offset, candle.open, candle.high, candle.low, candle.close)
    return builder


@pytest.mark.parametrize(("trigger", "state", "reason"), [
    (389, SetupState.INVALIDATED, "MARKET_CLOSED"),  # 15:59 New York: its fill bar would start at 16:00
    (388, SetupState.SETUP_COMPLETE, None),  # 15:58: fills at the 15:59 open
])
def test_trigger_on_the_last_session_bar_is_dropped_the_one_before_is_taken(trigger, state, reason) -> None:
    builder = _shifted_day(trigger)
    events, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.state, view.invalidation_reason.value if view.invalidation_reason else None) == (state, reason)
    if reason:
        assert view.trigger_time is None and events[-1].bar_time == builder.session.session_end
    else:
        assert view.trigger_time == builder.time(388)


@BOTH
def test_retracement_is_checked_on_the_liq2_bar_itself(direction) -> None:
    builder = short_day().bar(17, 19990, 20090.25, 19985, 19988)  # NWC high 19 990 + 100 = 20 090
    events, _view, _day = run(builder, direction)
    assert brief(events[-2:], "reason") == [
        ("14:47", "LIQ2_DETECTED", direction.value[0] + "1", None),
        ("14:47", "SETUP_INVALIDATED", direction.value[0] + "1", "RETRACEMENT_EXCEEDED")]


@pytest.mark.parametrize(("direction", "high", "exceeded"), [
    # SHORT: 0.25 % of the bar's high 20 040.x is 50.1 < 100 points: limit 19 990 + 50.1 = 20 040.1
    (Direction.SHORT, 20040.0, False), (Direction.SHORT, 20040.25, True),
    # LONG (reflected: NWC low 20 010): 0.25 % of the bar's low 19 960.x is 49.9: limit 19 960.1
    (Direction.LONG, 20039.75, False), (Direction.LONG, 20040.0, True),
])
def test_retracement_allowance_is_the_smaller_of_points_and_percent_of_the_bar(direction, high, exceeded) -> None:
    builder = short_day().bar(18, 19988, high, 19985, 19990).bar(19, 19990, 19991, 19975, 19976)
    events, view, _ = run(builder, direction, StrategyConfig(retracement_pct=0.25))
    assert (view.state is SetupState.INVALIDATED) is exceeded
    if exceeded:
        assert events[-1].data["reason"] == "RETRACEMENT_EXCEEDED"


# -- §4.4 / §4.5 stop and target -------------------------------------------------------------------


def _mirror(candles: list[Candle]) -> list[Candle]:
    return [replace(c, open=2 * PIVOT - c.open, high=2 * PIVOT - c.low, low=2 * PIVOT - c.high, close=2 * PIVOT - c.close)
            for c in candles]


@BOTH
def test_stop_rounds_away_from_entry_and_target_toward_it(direction) -> None:
    builder = short_day()
    candles = builder.candles()
    index = {candle.ts: position for position, candle in enumerate(candles)}
    liq1, liq2 = index[builder.time(0)], index[builder.time(17)]
    candles[liq1] = replace(candles[liq1], low=19937.9)  # swing low off the tick grid
    candles[liq2] = replace(candles[liq2], high=20005.1)  # LIQ #2 extreme off the grid
    _events, tracker = replay(candles if direction is Direction.SHORT else _mirror(candles))
    view = tracker.candidates()[0]
    # SHORT: SL 20 006.1 -> 20 006.25 (up, away); TP 19 936.9 -> 19 937.0 (up, toward 19 976)
    assert (view.stop, view.target) == (price(direction, 20006.25), price(direction, 19937.0))
    assert view.risk_reward == 39 / 30.25


@BOTH
@pytest.mark.parametrize("tie", ["before", "after"])
def test_swing_low_needs_lows_strictly_below_both_neighbour_pairs(direction, tie) -> None:
    builder = short_day()
    if tie == "before":
        builder.bar(-2, 19940, 19945, 19938, 19942)  # equal low two bars before m0
    else:
        builder.bar(1, 19955, 20000, 19938, 19990)  # equal low one bar after m0 (the HIGH bar)
    events, view, _ = run(builder, direction)
    complete = next(event for event in events if event.type is EventType.SETUP_COMPLETE)
    assert (complete.data["tp_source"], view.target) == ("lse", price(direction, 19849.0))


def _two_swings_day() -> DayBuilder:
    """Return a SHORT day whose rally m1..m6 leaves swing lows at m0 (19 938) and m3 (19 948)."""
    builder = DayBuilder(date(2026, 1, 6)).reference(19950.0, 19850.0, seed=3)
    builder.bar(-2, 19940, 19945, 19939, 19942).bar(-1, 19942, 19946, 19940, 19940)
    builder.bars(0, [
        (19940, 19960, 19938, 19955),  # LIQ #1, swing low 19 938
        (19955, 19962, 19950, 19958),
        (19958, 19966, 19955, 19957),
        (19957, 19968, 19948, 19966),  # swing low 19 948 (the most recent before tH)
        (19966, 19975, 19958, 19972),
        (19972, 19985, 19965, 19983),
        (19983, 20000, 19975, 19990),  # internal HIGH at m6
        (19990, 19992, 19970, 19975),  # LOW at m7 (0.15 %)
    ])
    builder.hold(8, 13, 19980.0)
    builder.bar(21, 19980, 19990, 19979.75, 19990)  # NWC
    builder.bar(22, 19990, 20005, 19985, 19988)  # LIQ #2: 15 after tL, 16 after tH
    builder.bar(23, 19988, 19990, 19975, 19976)  # trigger
    return builder


@BOTH
def test_target_is_the_most_recent_swing_low_between_liq1_and_the_high(direction) -> None:
    events, view, day = run(_two_swings_day(), direction)
    complete = next(event for event in events if event.type is EventType.SETUP_COMPLETE)
    assert (complete.data["tp_source"], complete.data["swing_time"]) == ("swing", "2026-01-06T14:33:00Z")
    assert (view.high_time if direction is Direction.SHORT else view.low_time) == day.time(6)
    assert (view.entry_estimate, view.stop, view.target, view.risk_reward) == (
        price(direction, 19976.0), price(direction, 20006.0), price(direction, 19947.0), 29 / 30)


# -- §4.7 gap rule ---------------------------------------------------------------------------------


@BOTH
def test_gap_on_the_liq1_bar_itself_does_not_count(direction) -> None:
    builder = short_day().bar(0, 19947, 19960, 19946.25, 19955)  # low above m-1's high 19 946
    events, view, _ = run(builder, direction)
    assert view.state is SetupState.SETUP_COMPLETE and "GAP_DETECTED" not in reasons(events, EventType.SETUP_INVALIDATED)


@BOTH
def test_gap_on_the_first_bar_after_liq1_invalidates(direction) -> None:
    builder = short_day().bar(1, 19961, 20000, 19960.25, 19990)  # low above the LIQ #1 high 19 960
    events, _view, _day = run(builder, direction)
    assert brief(events, "reason") == [
        ("14:30", "LIQ1_DETECTED", direction.value[0] + "1", None),
        ("14:31", "SETUP_INVALIDATED", direction.value[0] + "1", "GAP_DETECTED")]


@BOTH
@pytest.mark.parametrize(("bar", "gap"), [
    ((19983, 19985, 19981, 19984), False),  # low 19 981 = previous real high 19 981: touching, no gap
    ((19983, 19985, 19981.25, 19984), True),
    ((19977, 19978.75, 19975, 19977), True),  # high below the previous real low 19 979
])
def test_gap_is_strict_against_the_previous_real_bar_across_a_hole(direction, bar, gap) -> None:
    builder = short_day().drop(9).bar(10, *bar)  # m9 missing: m10 is compared with m8 (19 979-19 981)
    events, _view, day = run(builder, direction)
    assert ("GAP_DETECTED" in reasons(events, EventType.SETUP_INVALIDATED)) is gap
    if gap:
        invalid = events[-1]
        assert (invalid.bar_time, invalid.data["previous_bar_time"]) == (day.time(10), "2026-01-06T14:38:00Z")


def test_trigger_dropped_on_the_last_bar_that_is_also_the_20th_after_liq2_is_market_closed_not_timeout() -> None:
    # §4.3 / §4.7: a trigger on bar t_LIQ2 + 20 is a trigger by that bar (no ENTRY_TIMEOUT); it is
    # dropped only for want of a fill bar, and the session end closes the candidate.
    builder = _shifted_day(389 - 19)  # trigger of the template (m18) at 370, LIQ #2 at 369
    builder.hold(370, 19, 19985.0).bar(389, 19985, 19986, 19975, 19976)  # no trigger until 389 = LIQ #2 + 20
    events, tracker = replay(builder.candles())
    view = tracker.candidates()[0]
    assert (view.liq2_time, view.trigger_time) == (builder.time(369), None)
    assert (view.state, view.invalidation_reason.value) == (SetupState.INVALIDATED, "MARKET_CLOSED")
    assert brief(events[-1:], "reason") == [("21:00", "SETUP_INVALIDATED", "S1", "MARKET_CLOSED")]


@BOTH
@pytest.mark.parametrize(("liq2_bar", "stop"), [
    ((19990, 20010, 19988, 19991), 19993.0),  # upper wick 19 > 2 x body 1: body top 19 991 + 2
    ((19990, 20010, 19985, 19990), 20011.0),  # body 0: no spike, ext + 1
    ((19990, 20002, 19985, 19994), 20003.0),  # wick 8 = 2 x body 4: not more than 2 x, ext + 1
])
def test_spike_rule_when_enabled_needs_a_body_and_a_wick_above_twice_it(direction, liq2_bar, stop) -> None:
    _events, view, _ = run(short_day().bar(17, *liq2_bar), direction, StrategyConfig(spike_rule=True))
    assert (view.state, view.stop) == (SetupState.SETUP_COMPLETE, price(direction, stop))


@BOTH
def test_tp_mode_lse_targets_the_opposite_reference_level_plus_one_beyond(direction) -> None:
    _events, view, _ = run(short_day(), direction, StrategyConfig(tp_mode="lse"))
    assert (view.target, view.risk_reward) == (price(direction, 19849.0), 127 / 30)


@BOTH
@pytest.mark.parametrize(("nowick_bar", "passes"), [
    ((19980, 19990, 19979.75, 19990), True),  # range 10.25 / 19 990 = 0.051 %
    ((19980, 19985, 19979.75, 19985), False),  # range 5.25 / 19 985 = 0.026 % < 0.03 %
])
def test_optional_nowick_size_filter_bounds_the_candle_range(direction, nowick_bar, passes) -> None:
    events, view, _ = run(short_day().bar(16, *nowick_bar), direction, StrategyConfig(nowick_size_filter=True))
    assert (view.state is SetupState.SETUP_COMPLETE) is passes
    assert (reasons(events, EventType.STRUCTURE_RESET) == ["no_nowick"]) is not passes
