"""Print how fast the simulated market generates and serves ticks, and how fast the broker matches.

Run: PYTHONPATH=. python bench/sim_market.py
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from slob_cli.sim.broker import SimBroker, SimOrder
from slob_cli.sim.market import GeneratedMarket, ScriptedMarket, build_market

UTC = timezone.utc


def _timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    """Print the figures."""
    market = GeneratedMarket(1)
    days = [date(2026, 3, 9) + timedelta(days=offset) for offset in range(5)]
    timings = []
    for day in days:
        ticks, seconds = _timed(lambda day=day: market.day_ticks(day))
        timings.append(seconds)
    print(f"generated day: {len(ticks):,} ticks in {min(timings) * 1000:.0f}-{max(timings) * 1000:.0f} ms "
          f"({len(ticks) / min(timings) / 1e6:.1f} M ticks/s)")
    start = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
    served, seconds = _timed(lambda: market.ticks_between(start, start + timedelta(hours=1)))
    print(f"ticks_between (NY open hour, cached day): {len(served):,} MarketTick in {seconds * 1000:.0f} ms "
          f"({len(served) / seconds / 1e3:.0f} k ticks/s)")
    small = [_timed(lambda s=s: market.ticks_between(start + timedelta(seconds=s), start + timedelta(seconds=s + 1)))[1]
             for s in range(200)]
    print(f"ticks_between 1-second windows: {sum(small) / len(small) * 1e6:.0f} us per call")
    candles, seconds = _timed(lambda: market.candles_between(start, start + timedelta(days=1)))
    print(f"candles_between one day: {len(candles):,} bars in {seconds * 1000:.0f} ms")
    scenario, seconds = _timed(lambda: build_market(scenario="short_setup", trading_date=date(2026, 3, 10)))
    assert isinstance(scenario, ScriptedMarket)
    print(f"scenario market short_setup: {len(scenario.candles)} candles scripted in {seconds * 1000:.0f} ms")

    broker = SimBroker(["DU1"])
    now = start
    quote = served[0]
    for order_id in range(1, 21):
        broker.place_order(SimOrder(order_id, 1, 0, "DU1", 1, "NQ", "NQM6", 20.0, "BUY", 1, "LMT",
                                    quote.price - 200 - order_id, None, tif="GTC"), now, quote)
    tape = served[:100_000]
    _, seconds = _timed(lambda: [broker.on_tick(1, tick, tick.ts) for tick in tape])
    print(f"broker on_tick with 20 resting orders: {len(tape) / seconds / 1e3:.0f} k ticks/s")


if __name__ == "__main__":
    main()
