"""Batch = streaming: for any tick sequence the numpy path gives exactly the aggregator's output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.adapters.store import Store
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
             for o, p, s in zip(offsets, 20000 + rng.normal(0, 5, 3000), rng.random(3000) * 3, strict=False)]
    store.insert_ticks(ticks)
    candles, gaps, late = streaming(ticks, 0)
    batch = aggregate_store(store, ["NQ"], chunk=700)
    assert batch.candles == candles and batch.gaps == gaps and batch.late_ticks == late


def test_batch_from_store_finds_every_symbol_and_keeps_them_apart(store) -> None:
    rng = np.random.default_rng(11)
    ticks = [Tick(str(rng.choice(["NQ", "MNQ"])), T0 + timedelta(seconds=int(s)), 20000 + float(p), 1.0)
             for s, p in zip(np.sort(rng.integers(0, 600, 400)), rng.integers(0, 40, 400) * 0.25, strict=False)]
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
    for start, count in zip(starts, counts, strict=False):
        total = values[start]
        for value in values[start + 1:start + count]:
            total += value
        expected.append(total)
    assert sequential_segment_sums(values, starts, counts).tolist() == expected


# Stored ticks: often in time order with whole sizes (what the recorder writes, and what the
# in-SQLite path handles), otherwise anything (the numpy path); both must equal streaming.
in_order_ticks = st.lists(
    st.tuples(st.sampled_from(["NQ", "MNQ"]), offsets, prices, st.integers(0, 50).map(float)), max_size=80,
).map(lambda rows: [Tick(symbol, T0 + timedelta(microseconds=offset), price, size)
                    for symbol, offset, price, size in sorted(rows, key=lambda row: row[1])])
window_edges = st.one_of(st.none(), st.sampled_from([30_000_000, 60_000_000, 61_000_000, 240_000_000]))


@settings(max_examples=150, deadline=None)
@given(ticks=st.one_of(in_order_ticks, ticks_strategy), fill=st.integers(0, 3), start=window_edges,
       end=window_edges)
def test_stored_ticks_aggregate_like_streaming_in_any_order_and_window(
    tmp_path_factory, ticks: list[Tick], fill: int, start: int | None, end: int | None,
) -> None:
    begin = None if start is None else T0 + timedelta(microseconds=start)
    finish = None if end is None else T0 + timedelta(microseconds=end + 180_000_000)
    chosen = [t for t in ticks if (begin is None or t.ts >= begin) and (finish is None or t.ts < finish)]
    with Store.open(tmp_path_factory.mktemp("batch") / "ticks.db") as store:
        store.insert_ticks(ticks)
        batch = aggregate_store(store, None, begin, finish, fill_gaps_up_to=fill)
    candles, gaps, late = streaming(chosen, fill)
    assert batch.candles == candles
    assert batch.gaps == gaps
    assert batch.late_ticks == late
    assert batch.ticks == len(chosen)
