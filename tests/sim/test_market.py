"""Market sources: the seeded generator, scripted candles, waypoints, replay and build_market."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.core.aggregator import CandleCompleted, M1Aggregator
from slob_cli.core.models import Candle, Tick
from slob_cli.errors import InputError
from slob_cli.sim.market import (
    GeneratedMarket,
    MarketTick,
    ReplayError,
    ReplayMarket,
    ScriptedMarket,
    UnknownScenario,
    WaypointMarket,
    build_market,
)
from slob_cli.sim.scenarios import build_scenario

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
# Small days keep the suite fast; the shape and the determinism do not depend on the size.
SMALL_DAY = 60_000


def _fold(ticks: list[MarketTick]) -> list[Candle]:
    """Fold ticks into M1 candles with the spine's streaming aggregator (independent of the market's fold)."""
    aggregator = M1Aggregator(["NQ"])
    events = [event for tick in ticks for event in aggregator.on_tick(Tick("NQ", tick.ts, tick.price, tick.size))]
    events += aggregator.force_complete_all()
    return [event.candle for event in events if isinstance(event, CandleCompleted)]


def _ny(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


# ---------------------------------------------------------------------- generated market
def test_same_seed_gives_the_same_ticks_and_another_seed_differs() -> None:
    start = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    end = start + timedelta(minutes=90)
    first = GeneratedMarket(7, ticks_per_day=SMALL_DAY).ticks_between(start, end)
    again = GeneratedMarket(7, ticks_per_day=SMALL_DAY).ticks_between(start, end)
    other = GeneratedMarket(8, ticks_per_day=SMALL_DAY).ticks_between(start, end)
    assert first and first == again
    assert [t.price for t in other] != [t.price for t in first]


def test_ticks_do_not_depend_on_how_or_in_what_order_windows_are_requested() -> None:
    start = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)
    end = start + timedelta(hours=4)  # crosses midnight UTC
    whole = GeneratedMarket(3, ticks_per_day=SMALL_DAY, cache_days=1).ticks_between(start, end)
    pieced = GeneratedMarket(3, ticks_per_day=SMALL_DAY, cache_days=1)
    pieced.ticks_between(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 1, tzinfo=UTC))
    cuts = [start + timedelta(minutes=m) for m in (0, 17, 121, 122, 240)]
    parts = [pieced.ticks_between(a, b) for a, b in reversed(list(itertools.pairwise(cuts)))]
    assert [tick for part in reversed(parts) for tick in part] == whole
    assert any(t.ts.date() == date(2026, 3, 11) for t in whole) and whole[0].ts.date() == date(2026, 3, 10)


def test_generated_ticks_are_on_the_grid_with_a_one_tick_quote_and_realistic_sizes() -> None:
    market = GeneratedMarket(11, ticks_per_day=SMALL_DAY)
    day = date(2026, 3, 10)
    arrays = market.arrays_between(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    assert len(arrays) == pytest.approx(SMALL_DAY, rel=0.05)
    assert np.all(arrays.price * 4 == np.round(arrays.price * 4))
    assert np.all(arrays.ask - arrays.bid == 0.25)
    assert np.all((arrays.price == arrays.bid) | (arrays.price == arrays.ask))
    assert arrays.size.min() >= 1 and arrays.bid_size.min() >= 1 and arrays.ask_size.min() >= 1
    assert np.mean(arrays.size <= 3) > 0.7 and arrays.size.max() >= 20  # mostly small, with a fat tail
    assert np.all(np.diff(arrays.ts) >= 0)
    assert 0.8 * 25_000 < arrays.price.mean() < 1.25 * 25_000
    assert abs(arrays.price[0] - market.day_open(day)) <= 10


def test_new_york_open_is_busier_than_london_morning_and_the_halt_is_silent() -> None:
    market = GeneratedMarket(5, ticks_per_day=SMALL_DAY)
    day = date(2026, 3, 11)

    def count(start: datetime, end: datetime) -> int:
        return len(market.arrays_between(start, end))

    new_york_open = count(_ny(day, 9, 30), _ny(day, 10, 30))
    london_morning = count(_ny(day, 3, 30), _ny(day, 4, 30))
    lunch = count(_ny(day, 12, 15), _ny(day, 13, 15))
    assert new_york_open > 3 * london_morning
    assert new_york_open > 1.5 * lunch
    assert count(_ny(day, 17, 0), _ny(day, 18, 0)) == 0
    assert count(_ny(day, 18, 0), _ny(day, 18, 30)) > 0
    # The market reopens at 18:00: that very minute trades (an empty one would be a gap while open).
    assert count(_ny(day, 18, 0), _ny(day, 18, 1)) > 0

    def mean_bar_range(start: datetime, end: datetime) -> float:
        return float(np.mean([bar.high - bar.low for bar in market.candles_between(start, end)]))

    assert mean_bar_range(_ny(day, 9, 30), _ny(day, 10, 30)) > 1.5 * mean_bar_range(_ny(day, 3, 30), _ny(day, 4, 30))


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1), date(2026, 1, 15), date(2026, 7, 15)])
def test_halt_follows_new_york_time_across_daylight_saving_changes(day: date) -> None:
    market = GeneratedMarket(12, ticks_per_day=SMALL_DAY)
    halt = market.arrays_between(_ny(day, 17, 0), _ny(day, 18, 0))
    around = market.arrays_between(_ny(day, 16, 50), _ny(day, 18, 10))
    assert len(halt) == 0 and len(around) > 0


def test_generated_market_trades_at_the_weekend() -> None:
    saturday = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
    assert len(GeneratedMarket(1, ticks_per_day=SMALL_DAY).ticks_between(saturday, saturday + timedelta(hours=1))) > 100


def test_consecutive_days_join_up_at_midnight() -> None:
    market = GeneratedMarket(9, ticks_per_day=SMALL_DAY)
    midnight = datetime(2026, 3, 12, tzinfo=UTC)
    before = market.last_tick_before(midnight)
    after = market.ticks_between(midnight, midnight + timedelta(minutes=30))[0]
    assert before is not None
    assert abs(before.price - market.day_open(date(2026, 3, 12))) <= 15
    assert abs(after.price - before.price) <= 15


def test_candles_between_are_the_bars_of_exactly_the_ticks_between() -> None:
    market = GeneratedMarket(2, ticks_per_day=SMALL_DAY)
    start = datetime(2026, 3, 10, 14, 0, 30, tzinfo=UTC)
    end = start + timedelta(minutes=20)
    assert market.candles_between(start, end) == _fold(market.ticks_between(start, end))


def test_last_tick_before_is_the_last_trade_strictly_before_the_moment() -> None:
    market = GeneratedMarket(4, ticks_per_day=SMALL_DAY)
    moment = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    window = market.ticks_between(moment - timedelta(minutes=30), moment)
    assert market.last_tick_before(moment) == window[-1]
    first = market.ticks_between(moment, moment + timedelta(minutes=1))[0]
    assert market.last_tick_before(first.ts + timedelta(microseconds=1)) == first


def test_shift_prices_moves_prices_and_quotes_from_the_moment_on() -> None:
    market = GeneratedMarket(6, ticks_per_day=SMALL_DAY)
    start = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    jump_at = start + timedelta(minutes=5)
    end = start + timedelta(minutes=10)
    before = market.ticks_between(start, end)
    market.shift_prices(-100.1, jump_at)  # off-grid points are rounded to the grid
    after = market.ticks_between(start, end)
    for old, new in zip(before, after, strict=False):
        delta = -100.0 if old.ts >= jump_at else 0.0
        assert (new.price, new.bid, new.ask) == (old.price + delta, old.bid + delta, old.ask + delta)


# ---------------------------------------------------------------------- scripted market
def _random_candles(seed: int, count: int, start: datetime) -> list[Candle]:
    rng = np.random.default_rng(seed)
    candles, price = [], 20_000.0
    for index in range(count):
        steps = rng.integers(0, 12, 4)
        open_ = price
        close = open_ + (steps[0] - 6) * 0.25
        high = max(open_, close) + steps[1] * 0.25 * rng.integers(0, 2)
        low = min(open_, close) - steps[2] * 0.25 * rng.integers(0, 2)
        ticks = int(rng.integers(4, 400))
        volume = float(ticks + rng.integers(0, 900))
        candles.append(Candle("NQ", start + timedelta(minutes=index), open_, high, low, close, volume, ticks))
        price = close
    return candles


def test_scripted_market_reproduces_the_given_candles_exactly() -> None:
    start = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    candles = _random_candles(1, 120, start)
    candles += [
        Candle("NQ", start + timedelta(minutes=130), 100.0, 100.0, 100.0, 100.0, 5.0, 1),  # one trade
        Candle("NQ", start + timedelta(minutes=131), 100.0, 100.5, 99.5, 100.0, 4.0, 4),  # doji, minimum trades
        Candle("NQ", start + timedelta(minutes=132), 100.0, 100.0, 99.0, 99.0, 2.0, 2),  # open=high, close=low
    ]
    market = ScriptedMarket(candles, seed=3)
    ticks = market.ticks_between(start - timedelta(hours=1), start + timedelta(hours=3))
    assert _fold(ticks) == candles
    assert market.candles_between(start - timedelta(hours=1), start + timedelta(hours=3)) == candles
    assert all(t.bid < t.ask and t.price in (t.bid, t.ask) for t in ticks)
    assert ScriptedMarket(candles, seed=3).ticks_between(start, start + timedelta(hours=3)) == ticks


def test_scripted_market_skips_empty_bars_and_fills_unscripted_minutes_from_the_fallback() -> None:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    candles = [
        Candle("NQ", start, 25_000.0, 25_001.0, 24_999.0, 25_000.5, 30.0, 10),
        Candle("NQ", start + timedelta(minutes=1), 25_000.5, 25_000.5, 25_000.5, 25_000.5, 0.0, 0),
    ]
    fallback = GeneratedMarket(1, ticks_per_day=SMALL_DAY)
    market = ScriptedMarket(candles, seed=0, fallback=fallback)
    bars = market.candles_between(start - timedelta(minutes=3), start + timedelta(minutes=3))
    assert bars[[bar.ts for bar in bars].index(start)] == candles[0]
    generated = {bar.ts: bar for bar in fallback.candles_between(start - timedelta(minutes=3), start + timedelta(minutes=3))}
    scripted_minutes = {start, start + timedelta(minutes=1)}  # the empty scripted bar stays silent
    assert [bar for bar in bars if bar.ts != start] == [bar for ts, bar in generated.items() if ts not in scripted_minutes]
    assert ScriptedMarket(candles).ticks_between(start + timedelta(minutes=1), start + timedelta(minutes=2)) == []


@st.composite
def _candles(draw: st.DrawFn) -> Candle:
    open_, close = draw(st.integers(0, 40)), draw(st.integers(0, 40))
    high = max(open_, close) + draw(st.integers(0, 6))
    low = min(open_, close) - draw(st.integers(0, 6))
    prices = [100.0 + quarter * 0.25 for quarter in (open_, high, low, close)]
    inner = len({high, low} - {open_, close})
    minimum = 1 + (close != open_ or inner > 0) + inner
    count = draw(st.integers(minimum, 60))
    volume = count + draw(st.integers(0, 200))
    minute = datetime(2026, 3, 10, 14, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 1000)))
    return Candle("NQ", minute, *prices, float(volume), count)


@settings(max_examples=200, deadline=None)
@given(candle=_candles(), seed=st.integers(0, 2**32))
def test_any_consistent_candle_round_trips_through_its_ticks(candle: Candle, seed: int) -> None:
    market = ScriptedMarket([candle], seed=seed)
    ticks = market.ticks_between(candle.ts, candle.end)
    assert _fold(ticks) == [candle]
    assert all(candle.low <= t.price <= candle.high and t.size >= 1 for t in ticks)


@pytest.mark.parametrize(
    ("candle", "problem"),
    [
        (Candle("NQ", datetime(2026, 3, 10, 14, tzinfo=UTC), 100.1, 101.0, 99.0, 100.0, 10.0, 5), "grid"),
        (Candle("NQ", datetime(2026, 3, 10, 14, tzinfo=UTC), 100.0, 101.0, 99.0, 100.0, 3.0, 5), "volume"),
        (Candle("NQ", datetime(2026, 3, 10, 14, tzinfo=UTC), 100.0, 101.0, 99.0, 100.5, 10.0, 2), "cannot print"),
        (Candle("NQ", datetime(2026, 3, 10, 14, tzinfo=UTC), 100.0, 99.0, 98.0, 100.0, 10.0, 5), "contain"),
    ],
)
def test_scripted_market_refuses_inconsistent_candles(candle: Candle, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ScriptedMarket([candle])


# ---------------------------------------------------------------------- waypoint market
def test_waypoint_market_passes_through_each_waypoint_and_is_silent_outside() -> None:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    points = [(start, 25_000.0), (start + timedelta(minutes=10), 25_060.0), (start + timedelta(minutes=25), 24_980.0)]
    market = WaypointMarket(points, seed=2)
    ticks = market.ticks_between(start - timedelta(hours=1), start + timedelta(hours=1))
    at = {tick.ts: tick.price for tick in ticks}
    assert [at[when] for when, _ in points] == [price for _, price in points]
    assert ticks[0].ts == start and ticks[-1].ts == points[-1][0]
    assert all(t.price * 4 == round(t.price * 4) for t in ticks)
    assert WaypointMarket(points, seed=2).ticks_between(start, start + timedelta(hours=1)) == ticks
    assert market.last_tick_before(start) is None
    assert market.span == (start, points[-1][0] + timedelta(microseconds=1))


# ---------------------------------------------------------------------- replay
def _recorded(symbol: str = "NQ") -> list[Tick]:
    base = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
    return [Tick(symbol, base + timedelta(seconds=s, microseconds=7), 25_000.0 + s * 0.25, 1 + s % 3) for s in range(90)]


def test_replay_from_a_store_plays_the_recorded_ticks_with_a_quote_around_them(store, db_path: Path) -> None:
    store.insert_ticks(_recorded("NQ") + _recorded("MNQ")[:5])
    market = ReplayMarket.from_store(db_path, "NQ")
    recorded = _recorded()
    ticks = market.ticks_between(recorded[0].ts, recorded[-1].ts + timedelta(seconds=1))
    assert [(t.ts, t.price, t.size) for t in ticks] == [(r.ts, r.price, r.size) for r in recorded]
    assert all((t.bid, t.ask) == (t.price - 0.25, t.price + 0.25) for t in ticks)
    assert market.last_tick_before(recorded[10].ts) == ticks[9]
    assert market.span == (recorded[0].ts, recorded[-1].ts + timedelta(microseconds=1))
    assert market.candles_between(recorded[0].ts, recorded[-1].ts + timedelta(seconds=1)) == _fold(ticks)
    market.close()


def test_replay_from_a_store_without_the_symbol_names_what_is_there(store, db_path: Path) -> None:
    store.insert_ticks(_recorded("MNQ"))
    with pytest.raises(ReplayError, match=r"no NQ ticks.*MNQ"):
        ReplayMarket.from_store(db_path, "NQ")


def test_replay_from_csv_and_parquet_files(tmp_path: Path) -> None:
    import pandas as pd

    recorded = _recorded()
    frame = pd.DataFrame(
        {"timestamp": [t.ts.isoformat() for t in recorded], "price": [t.price for t in recorded],
         "size": [t.size for t in recorded], "symbol": "NQ"}
    )  # fmt: skip
    other = frame.head(3).assign(symbol="ES", price=5000.0)
    csv = tmp_path / "ticks.csv"
    pd.concat([other, frame.iloc[::-1]]).to_csv(csv, index=False)  # unsorted, with another symbol
    parquet = tmp_path / "ticks.parquet"
    frame.to_parquet(parquet)
    for path in (csv, parquet):
        market = ReplayMarket.from_file(path, "NQ")
        ticks = market.ticks_between(recorded[0].ts, recorded[-1].ts + timedelta(seconds=1))
        assert [(t.ts, t.price, t.size) for t in ticks] == [(r.ts, r.price, r.size) for r in recorded]
        assert market.span == (recorded[0].ts, recorded[-1].ts + timedelta(microseconds=1))


def test_replay_file_problems_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="does not exist"):
        ReplayMarket.from_file(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,price\n2026-03-10T14:00:00Z,100\n")
    with pytest.raises(ReplayError, match=r"lacks column\(s\) \['size'\]"):
        ReplayMarket.from_file(bad)
    bad.write_text("timestamp,price,size\n2026-03-10T14:00:00Z,100,1\n2026-03-10T14:00:01Z,-3,1\n")
    with pytest.raises(ReplayError, match="line 3"):
        ReplayMarket.from_file(bad)


# ---------------------------------------------------------------------- build_market
def test_build_market_picks_generator_or_replay(tmp_path: Path) -> None:
    generated = build_market(seed=4)
    assert isinstance(generated, GeneratedMarket) and generated.span is None
    csv = tmp_path / "ticks.csv"
    csv.write_text("timestamp,price,size\n2026-03-10T14:00:00Z,25000,1\n")
    assert isinstance(build_market(replay=csv), ReplayMarket)
    with pytest.raises(InputError, match="either"):
        build_market(scenario="quiet", replay=csv)


@pytest.mark.parametrize("name", ["quiet", "short_setup", "long_setup", "volatile_gaps"])
def test_scenario_market_serves_the_scenario_day_tick_by_tick(name: str) -> None:
    day = date(2026, 3, 10)
    market = build_market(seed=5, scenario=name, trading_date=day)
    planted = build_scenario(name, day, 5)
    assert isinstance(market, ScriptedMarket) and market.span == (planted[0].ts, planted[-1].end)
    ticks = market.ticks_between(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    assert _fold(ticks) == planted


def test_unknown_scenario_or_a_non_trading_day_is_a_clear_error() -> None:
    with pytest.raises(UnknownScenario, match="known scenarios: quiet, short_setup, long_setup, volatile_gaps"):
        build_market(scenario="sunny")
    with pytest.raises(ValueError, match="cannot be built for 2026-03-14"):
        build_market(scenario="quiet", trading_date=date(2026, 3, 14))


def test_a_stitched_fallback_continues_the_planted_day_without_jumps() -> None:
    from slob_cli.adapters.calendar import load_calendar
    from slob_cli.sim.scenarios import build_scenario
    from slob_cli.sim.scripted import stitch_fallback

    day = date(2026, 1, 6)
    candles = build_scenario("both_setups", day, seed=7, calendar=load_calendar(date(2025, 12, 1), date(2026, 2, 28)))
    fallback = stitch_fallback(candles, GeneratedMarket(7, base_price=candles[0].open, ticks_per_day=SMALL_DAY))
    market = ScriptedMarket(candles, seed=7, fallback=fallback)
    start, end = candles[0].ts, candles[-1].end
    before = market.last_tick_before(start)
    after = market.ticks_between(end, end + timedelta(hours=1))[0]
    assert abs(before.price - candles[0].open) <= 2.0, "no jump into the planted day"
    assert abs(after.price - candles[-1].close) <= 2.0, "no jump out of it"
    # Overnight the generated path moves as a market does: not flat, far less than a crash.
    next_morning = market.last_tick_before(end + timedelta(hours=11))
    assert 0 < abs(next_morning.price - candles[-1].close) < 0.05 * candles[-1].close
    # The CME halt (17:00-18:00 New York) stays silent after the stitch.
    halt = datetime(2026, 1, 6, 22, 0, tzinfo=timezone.utc)
    assert market.ticks_between(halt + timedelta(minutes=1), halt + timedelta(minutes=59)) == []
