"""Replay one year of generated M1 candles through the setup tracker; print candles/s and setups by state.

Usage: python bench/tracker.py [--year 2026] [--repeat 3]
Each trading day is a named scenario day (08:00 London to the session end) plus overnight bars
from 00:00 UTC to the window and from the session end to midnight UTC, so most candles touch no
candidate. Generation is not timed; the best of `--repeat` runs is reported.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slob_cli.adapters.calendar import load_calendar  # noqa: E402
from slob_cli.core.models import Candle  # noqa: E402
from slob_cli.core.sessions import session_for, trading_date_of  # noqa: E402
from slob_cli.core.strategy import EventType, SetupEvent, SetupTracker, StrategyConfig  # noqa: E402
from slob_cli.sim.scenarios import SCENARIOS, bounded_walk, build_scenario  # noqa: E402

UTC = timezone.utc


def _overnight(start: datetime, count: int, price: float, rng: random.Random) -> list[Candle]:
    rows = bounded_walk(rng, count, price, price - 150.0, price + 150.0, 6.0)
    return [Candle("NQ", start + timedelta(minutes=index), *row, 20.0, 10) for index, row in enumerate(rows)]


def generate_year(year: int) -> list[Candle]:
    """Return about 350 k candles: every trading day of the year with overnight bars."""
    calendar = load_calendar(date(year, 1, 1), date(year, 12, 31))
    rng = random.Random(year)
    candles: list[Candle] = []
    day = date(year, 1, 1)
    index = 0
    while day.year == year:
        session = session_for(day, calendar)
        if session is not None:
            name = SCENARIOS[index % len(SCENARIOS)]
            planted = build_scenario(name, day, seed=index, calendar=calendar)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            before = int((session.reference_start - midnight).total_seconds() // 60)
            after = int((midnight + timedelta(hours=24) - session.session_end).total_seconds() // 60)
            candles += _overnight(midnight, before, planted[0].open, rng)
            candles += planted
            candles += _overnight(session.session_end, after, planted[-1].close, rng)
            index += 1
        day += timedelta(days=1)
    return candles


def replay(candles: list[Candle], year: int) -> tuple[float, list[SetupEvent]]:
    """Return (seconds, events) of one uninterrupted replay, the clock run past the last day."""
    tracker = SetupTracker("NQ", StrategyConfig(), load_calendar(date(year, 1, 1), date(year, 12, 31)))
    events: list[SetupEvent] = []
    on_candle = tracker.on_candle
    started = time.perf_counter()
    for candle in candles:
        produced = on_candle(candle)
        if produced:
            events += produced
    events += tracker.on_time(candles[-1].end + timedelta(days=1))
    return time.perf_counter() - started, events


def final_states(events: list[SetupEvent]) -> Counter[str]:
    """Return how many candidates ended in each state (with the reason when invalidated)."""
    states: Counter[str] = Counter()
    for event in events:
        if event.type is EventType.SETUP_COMPLETE:
            states["SETUP_COMPLETE"] += 1
        elif event.type is EventType.SETUP_INVALIDATED:
            states[f"INVALIDATED ({event.data['reason']})"] += 1
    return states


def main() -> None:
    """Generate, replay and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    candles = generate_year(args.year)
    print(f"generated {len(candles):,} M1 candles for {args.year} in {time.perf_counter() - started:.1f} s")
    runs = [replay(candles, args.year) for _ in range(args.repeat)]
    best = min(seconds for seconds, _ in runs)
    events = runs[0][1]
    print(f"replay: {best:.3f} s best of {args.repeat} -> {len(candles) / best:,.0f} candles/s on one core "
          f"(target >= 300,000); {len(events):,} events")
    calendar = load_calendar(date(args.year, 1, 1), date(args.year, 12, 31))
    in_window = [c for c in candles if (s := session_for(trading_date_of(c.ts), calendar)) is not None
                 and s.reference_start <= c.ts < s.session_end]
    window_best = min(replay(in_window, args.year)[0] for _ in range(args.repeat))
    print(f"reference-window and session bars only (no overnight): {len(in_window):,} in {window_best:.3f} s "
          f"-> {len(in_window) / window_best:,.0f} candles/s")
    states = final_states(events)
    print(f"setups by final state ({sum(states.values()):,} candidates):")
    for label, count in sorted(states.items(), key=lambda item: -item[1]):
        print(f"  {label:<45} {count:>6,}")


if __name__ == "__main__":
    main()
