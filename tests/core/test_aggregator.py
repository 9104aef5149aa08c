"""Streaming M1 aggregator: candle values, grace close, late ticks, gaps, fills, drops, shutdown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.core.aggregator import CandleCompleted, GapDetected, LateTick, M1Aggregator, UnknownSymbol
from slob_cli.core.models import Candle, Tick

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def at(minutes: float, symbol: str = "NQ", price: float = 100.0, size: float = 1.0) -> Tick:
    return Tick(symbol, T0 + timedelta(minutes=minutes), price, size)


def candles_of(events) -> list[Candle]:
    return [event.candle for event in events if isinstance(event, CandleCompleted)]


def test_ticks_of_one_minute_make_one_candle_with_ohlcv_in_arrival_order() -> None:
    aggregator = M1Aggregator(["NQ"])
    for minutes, price, size in [(0.1, 100.0, 1), (0.2, 103.0, 2), (0.3, 99.0, 1), (0.9, 101.0, 3)]:
        assert aggregator.on_tick(at(minutes, price=price, size=size)) == ()
    events = aggregator.on_tick(at(1.0, price=102.0))
    assert candles_of(events) == [Candle("NQ", T0, 100.0, 103.0, 99.0, 101.0, 7.0, 4)]


def test_quiet_minute_closes_only_after_grace_has_passed() -> None:
    aggregator = M1Aggregator(["NQ"], grace_seconds=2.0)
    aggregator.on_tick(at(0.5))
    assert aggregator.on_time(T0 + timedelta(seconds=61.999)) == []
    events = aggregator.on_time(T0 + timedelta(seconds=62))
    assert [c.ts for c in candles_of(events)] == [T0]
    assert aggregator.on_time(T0 + timedelta(seconds=200)) == []


def test_tick_for_a_closed_minute_is_counted_late_and_not_applied() -> None:
    aggregator = M1Aggregator(["NQ"])
    aggregator.on_tick(at(0.5, price=100.0))
    aggregator.on_time(T0 + timedelta(seconds=62))
    late = at(0.9, price=500.0)
    assert aggregator.on_tick(late) == (LateTick(late),)
    aggregator.on_tick(at(1.2, price=101.0))
    older = at(0.95, price=1.0)
    assert aggregator.on_tick(older) == (LateTick(older),)
    final = candles_of(aggregator.force_complete_all())
    assert final == [Candle("NQ", T0 + timedelta(minutes=1), 101.0, 101.0, 101.0, 101.0, 1.0, 1)]
    assert aggregator.get_stats()["late_ticks"] == 2


def test_gap_is_reported_and_not_filled_by_default() -> None:
    aggregator = M1Aggregator(["NQ"])
    aggregator.on_tick(at(0.5, price=100.0))
    events = aggregator.on_tick(at(3.5, price=104.0))
    assert events[1] == GapDetected("NQ", T0 + timedelta(minutes=1), T0 + timedelta(minutes=3), 2)
    assert [c.ts for c in candles_of(events)] == [T0]


def test_gap_within_fill_limit_gets_flat_synthetic_candles_at_previous_close() -> None:
    aggregator = M1Aggregator(["NQ"], fill_gaps_up_to=2)
    aggregator.on_tick(at(0.5, price=100.0))
    aggregator.on_tick(at(0.6, price=101.5))
    events = aggregator.on_tick(at(3.5, price=104.0))
    filled = [c for c in candles_of(events) if c.synthetic]
    assert filled == [
        Candle("NQ", T0 + timedelta(minutes=1), 101.5, 101.5, 101.5, 101.5, 0.0, 0),
        Candle("NQ", T0 + timedelta(minutes=2), 101.5, 101.5, 101.5, 101.5, 0.0, 0),
    ]
    assert aggregator.get_stats()["synthetic_candles"] == 2


def test_gap_longer_than_fill_limit_is_reported_but_not_filled() -> None:
    aggregator = M1Aggregator(["NQ"], fill_gaps_up_to=2)
    aggregator.on_tick(at(0.5))
    events = aggregator.on_tick(at(4.5))
    assert [e.minutes for e in events if isinstance(e, GapDetected)] == [3]
    assert not [c for c in candles_of(events) if c.synthetic]


def test_force_complete_all_closes_every_open_symbol() -> None:
    aggregator = M1Aggregator(["NQ", "MNQ"])
    aggregator.on_tick(at(0.5, "NQ"))
    aggregator.on_tick(at(0.7, "MNQ"))
    assert sorted(c.symbol for c in candles_of(aggregator.force_complete_all())) == ["MNQ", "NQ"]
    assert aggregator.force_complete_all() == []


def test_symbols_are_aggregated_independently() -> None:
    aggregator = M1Aggregator(["NQ", "MNQ"])
    aggregator.on_tick(at(0.5, "NQ", price=20000.0))
    assert aggregator.on_tick(at(1.5, "MNQ", price=20001.0)) == ()
    assert aggregator.open_candle("NQ").close == 20000.0  # type: ignore[union-attr]


def test_unknown_symbol_raises() -> None:
    aggregator = M1Aggregator(["NQ"])
    with pytest.raises(UnknownSymbol, match="ES"):
        aggregator.on_tick(at(0.5, "ES"))


def test_dropped_ticks_are_carried_by_the_candle_of_their_minute() -> None:
    aggregator = M1Aggregator(["NQ"])
    aggregator.on_tick(at(0.1))
    aggregator.note_dropped("NQ", T0 + timedelta(seconds=30), 3)
    aggregator.note_dropped("NQ", T0 + timedelta(seconds=70), 2)  # minute not yet open
    first = candles_of(aggregator.on_tick(at(1.5)))
    second = candles_of(aggregator.force_complete_all())
    assert (first[0].dropped_ticks, second[0].dropped_ticks) == (3, 2)


def test_drop_for_a_closed_minute_is_counted_unattributed() -> None:
    aggregator = M1Aggregator(["NQ"])
    aggregator.on_tick(at(0.1))
    aggregator.on_tick(at(1.1))
    aggregator.note_dropped("NQ", T0, 4)
    assert aggregator.get_stats()["dropped_unattributed"] == 4


def test_stats_count_applied_ticks_and_candles() -> None:
    aggregator = M1Aggregator(["NQ"])
    for minutes in (0.1, 0.2, 1.1, 0.5, 1.2):
        aggregator.on_tick(at(minutes))
    stats = aggregator.get_stats()
    assert (stats["ticks_applied"], stats["late_ticks"], stats["candles_completed"]) == (4, 1, 1)


def test_negative_grace_is_refused() -> None:
    with pytest.raises(ValueError, match="grace"):
        M1Aggregator(["NQ"], grace_seconds=-1)
