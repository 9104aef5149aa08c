"""Batch = streaming: for any tick sequence the numpy path gives exactly the aggregator's output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.core.aggregator import CandleCompleted, GapDetected, M1Aggregator
from slob_cli.core.models import Tick
from slob_cli.runtime.batch import aggregate_store, aggregate_ticks, sequential_segment_sums

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)

# Offsets cluster on a few minutes (so equal timestamps and same-minute ticks are common) and
# reach far enough for gaps; arrival order is whatever hypothesis draws, so ticks are often late.
offsets = st.one_of(
    st.integers(0, 8 * 60_000_000),
    st.sampled_from([0, 59_999_999, 60_000_000, 61_000_000, 180_000_000]),
)
sizes = st.one_of(st.integers(0, 50).map(float), st.floats(0, 1e6, allow_nan=False, allow_infinity=False))
prices = st.floats(0.25, 1e5, allow_nan=False, allow_infinity=False)
ticks_strategy = st.lists(
    st.builds(lambda symbol, offset, price, size: Tick(symbol, T0 + timedelta(microseconds=offset), price, size),
              st.sampled_from(["NQ", "MNQ"]), offsets, prices, sizes),
    max_size=120,
)


def streaming(ticks: list[Tick], fill: int) -> tuple[list, list, int]:
    aggregator = M1Aggregator(["NQ", "MNQ"], fill_gaps_up_to=fill)
    events = []
    for tick in ticks:
        events.extend(aggregator.on_tick(tick))
    events.extend(aggregator.force_complete_all())
    candles = sorted((e.candle for e in events if isinstance(e, CandleCompleted)), key=lambda c: (c.symbol, c.ts))
    gaps = sorted((e for e in events if isinstance(e, GapDetected)), key=lambda g: (g.symbol, g.start))
    return candles, gaps, aggregator.get_stats()["late_ticks"]


@settings(max_examples=300, deadline=None)
@given(ticks=ticks_strategy, fill=st.integers(0, 3))
def test_batch_equals_streaming_for_any_tick_sequence(ticks: list[Tick], fill: int) -> None:
    candles, gaps, late = streaming(ticks, fill)
    batch = aggregate_ticks(ticks, fill_gaps_up_to=fill)
    assert batch.candles == candles
    assert batch.gaps == gaps
    assert batch.late_ticks == late
    assert batch.ticks == len(ticks)


def test_batch_from_store_equals_streaming_on_stored_ticks(store) -> None:
    rng = np.random.default_rng(7)
    offsets = rng.integers(0, 20 * 60_000_000, 3000)
    offsets[::50] -= 120_000_000  # some ticks arrive late
    ticks = [Tick("NQ", T0 + timedelta(microseconds=int(o)), float(p), float(s))
             for o, p, s in zip(offsets, 20000 + rng.normal(0, 5, 3000), rng.random(3000) * 3)]
    store.insert_ticks(ticks)
    candles, gaps, late = streaming(ticks, 0)
    batch = aggregate_store(store, ["NQ"], chunk=700)
    assert batch.candles == candles and batch.gaps == gaps and batch.late_ticks == late


def test_batch_from_store_finds_every_symbol_and_keeps_them_apart(store) -> None:
    rng = np.random.default_rng(11)
    ticks = [Tick(str(rng.choice(["NQ", "MNQ"])), T0 + timedelta(seconds=int(s)), 20000 + float(p), 1.0)
             for s, p in zip(np.sort(rng.integers(0, 600, 400)), rng.integers(0, 40, 400) * 0.25)]
    store.insert_ticks(ticks)
    candles, gaps, late = streaming(ticks, 1)
    batch = aggregate_store(store, fill_gaps_up_to=1)
    assert {c.symbol for c in batch.candles} == {"NQ", "MNQ"}
    assert batch.candles == candles and batch.gaps == gaps and batch.late_ticks == late


def test_segment_sums_add_left_to_right_like_a_python_loop() -> None:
    values = np.array([1e16, 1.0, 1.0, 1.0, 3.3, 0.1, 0.2, 0.3, 1e-3] * 3)
    starts = np.array([0, 9, 10])
    counts = np.array([9, 1, 17])
    expected = []
    for start, count in zip(starts, counts):
        total = values[start]
        for value in values[start + 1:start + count]:
            total += value
        expected.append(total)
    assert sequential_segment_sums(values, starts, counts).tolist() == expected
