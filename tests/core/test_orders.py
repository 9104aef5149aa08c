"""Bracket construction: sides, grid rounding, OCA, TIF, transmit flags, orderRefs, validation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.core.models import Direction
from slob_cli.core.orders import (
    OrderRole,
    ParsedRef,
    build_bracket,
    exit_pair,
    flatten_intent,
    order_ref,
    parse_order_ref,
)

SETUP = "NQ-20260106-S1"


def test_jan6_short_bracket_has_exact_orders() -> None:
    bracket = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0)
    entry, stop, target = bracket.orders
    assert (entry.order_ref, entry.action, entry.order_type, entry.quantity, entry.tif, entry.transmit) == (
        "slob:NQ-20260106-S1:entry", "SELL", "MKT", 1, "DAY", False)
    assert entry.limit_price is None and entry.parent_ref is None and entry.oca_group is None
    assert (stop.order_ref, stop.action, stop.order_type, stop.stop_price, stop.tif, stop.transmit) == (
        "slob:NQ-20260106-S1:stop", "BUY", "STP", 25_593.0, "GTC", False)
    assert (target.order_ref, target.action, target.order_type, target.limit_price, target.tif, target.transmit) == (
        "slob:NQ-20260106-S1:target", "BUY", "LMT", 25_501.0, "GTC", True)
    assert stop.parent_ref == target.parent_ref == "slob:NQ-20260106-S1:entry"
    assert stop.oca_group == target.oca_group == "slob:NQ-20260106-S1:oca"
    assert stop.oca_type == target.oca_type == 2, "reduce with block: a partial fill shrinks the other exit"
    assert [o.role for o in bracket.orders] == [OrderRole.ENTRY, OrderRole.STOP, OrderRole.TARGET]


def test_long_bracket_mirrors_actions_and_rounding() -> None:
    bracket = build_bracket("NQ-20260106-L1", Direction.LONG, "MNQ", 11, 25_500.0, 25_479.1, 25_571.9)
    entry, stop, target = bracket.orders
    assert (entry.action, stop.action, target.action) == ("BUY", "SELL", "SELL")
    assert stop.stop_price == 25_479.0  # away from entry: down
    assert target.limit_price == 25_571.75  # toward entry: down
    assert entry.quantity == stop.quantity == target.quantity == 11 and entry.symbol == "MNQ"


def test_short_rounds_stop_up_and_target_up() -> None:
    _, stop, target = build_bracket(SETUP, Direction.SHORT, "NQ", 2, 25_572.0, 25_593.1, 25_501.1).orders
    assert (stop.stop_price, target.limit_price) == (25_593.25, 25_501.25)


def test_limit_entry_goes_through_the_estimate_by_offset() -> None:
    short = build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0, "LMT", limit_offset_ticks=2)
    long = build_bracket("X-L1", Direction.LONG, "NQ", 1, 25_500.0, 25_480.0, 25_560.0, "LMT", limit_offset_ticks=2)
    assert (short.entry.order_type, short.entry.limit_price) == ("LMT", 25_571.5)
    assert long.entry.limit_price == 25_500.5


@pytest.mark.parametrize(
    ("direction", "contracts", "entry", "stop", "target", "message"),
    [
        (Direction.SHORT, 1, 25_572.0, 25_560.0, 25_501.0, "SHORT stop 25,560.00 must be above the entry 25,572.00"),
        (Direction.SHORT, 1, 25_572.0, 25_593.0, 25_580.0, "SHORT target 25,580.00 (on grid 25,580.00) must be below"),
        (Direction.SHORT, 1, 25_572.0, 25_593.0, 25_571.9, "SHORT target 25,571.90 (on grid 25,572.00) must be below"),
        (Direction.LONG, 1, 25_500.0, 25_510.0, 25_560.0, "LONG stop 25,510.00 must be below the entry 25,500.00"),
        (Direction.LONG, 1, 25_500.0, 25_480.0, 25_490.0, "LONG target 25,490.00 (on grid 25,490.00) must be above"),
        (Direction.SHORT, 0, 25_572.0, 25_593.0, 25_501.0, "contracts must be a positive whole number, got 0"),
        (Direction.SHORT, -2, 25_572.0, 25_593.0, 25_501.0, "got -2"),
        (Direction.SHORT, 1.5, 25_572.0, 25_593.0, 25_501.0, "got 1.5"),
        (Direction.SHORT, 1, float("nan"), 25_593.0, 25_501.0, "entry price must be a positive number"),
    ],
)
def test_bad_bracket_raises_value_error_naming_the_problem(direction, contracts, entry, stop, target, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_bracket(SETUP, direction, "NQ", contracts, entry, stop, target)


def test_unknown_entry_type_and_bad_setup_id_are_refused() -> None:
    with pytest.raises(ValueError, match="entry type must be MKT or LMT"):
        build_bracket(SETUP, Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0, entry_type="STP")
    with pytest.raises(ValueError, match="without ':'"):
        build_bracket("a:b", Direction.SHORT, "NQ", 1, 25_572.0, 25_593.0, 25_501.0)


def test_flatten_intent_closes_a_signed_position_at_market() -> None:
    short_close = flatten_intent(SETUP, "NQ", -2)
    assert (short_close.order_ref, short_close.action, short_close.order_type, short_close.quantity) == (
        "slob:NQ-20260106-S1:flatten", "BUY", "MKT", 2)
    assert short_close.transmit and short_close.parent_ref is None
    long_close = flatten_intent(SETUP, "NQ", 3, attempt=2)
    assert (long_close.order_ref, long_close.action, long_close.quantity) == ("slob:NQ-20260106-S1:flatten.2", "SELL", 3)
    with pytest.raises(ValueError, match="non-zero"):
        flatten_intent(SETUP, "NQ", 0)


def test_reissued_exit_pair_is_standalone_and_transmits_each_order() -> None:
    stop, target = exit_pair(SETUP, Direction.SHORT, "NQ", 1, 25_593.0, 25_501.0, attempt=2)
    assert target is not None
    assert (stop.order_ref, target.order_ref) == ("slob:NQ-20260106-S1:stop.2", "slob:NQ-20260106-S1:target.2")
    assert stop.oca_group == target.oca_group == "slob:NQ-20260106-S1:oca.2"
    assert stop.transmit and target.transmit and stop.parent_ref is None
    alone, none = exit_pair(SETUP, Direction.LONG, "NQ", 1, 25_479.0, None, attempt=3)
    assert none is None and alone.action == "SELL" and alone.transmit


def test_order_refs_round_trip_and_foreign_refs_parse_to_none() -> None:
    assert parse_order_ref(order_ref(SETUP, OrderRole.STOP, 3)) == ParsedRef(SETUP, OrderRole.STOP, 3)
    assert parse_order_ref("slob:NQ-20260106-L2:entry") == ParsedRef("NQ-20260106-L2", OrderRole.ENTRY, 1)
    for foreign in ("", None, "manual", "SLOB_ab12cd34_20260106_153100_ENTRY", "slob:x:exit", "slob::stop",
                    "slob:x:stop.0", "slob:x:stop.y", "other:x:stop"):
        assert parse_order_ref(foreign) is None


prices = st.integers(min_value=40_000, max_value=120_000).map(lambda q: q / 4)  # 10 000 .. 30 000 on grid
offsets = st.floats(min_value=0.01, max_value=300.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(direction=st.sampled_from(list(Direction)), entry=prices, stop_offset=offsets, target_offset=offsets,
       contracts=st.integers(1, 20))
def test_bracket_prices_are_on_grid_and_on_the_right_sides(direction, entry, stop_offset, target_offset,
                                                          contracts) -> None:
    sign = 1 if direction is Direction.SHORT else -1
    stop, target = entry + sign * stop_offset, entry - sign * target_offset
    try:
        bracket = build_bracket(SETUP, direction, "NQ", contracts, entry, stop, target)
    except ValueError as exc:
        # Only a target closer than one tick may fail: it rounds onto the entry.
        assert "target" in str(exc) and target_offset < 0.25
        return
    stop_px, target_px = bracket.stop.stop_price, bracket.target.limit_price
    assert stop_px is not None and target_px is not None
    assert (stop_px * 4).is_integer() and (target_px * 4).is_integer()
    assert sign * (stop_px - entry) > 0 and sign * (entry - target_px) > 0
    assert abs(stop_px - stop) < 0.25 and abs(target_px - target) < 0.25
    assert sign * (target_px - target) >= 0  # toward entry
    assert sign * (stop_px - stop) >= 0  # away from entry
    assert bracket.entry.action != bracket.stop.action == bracket.target.action
    assert {o.quantity for o in bracket.orders} == {contracts}
