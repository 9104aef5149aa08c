"""Differential audit: the tracker against an independent literal reading of the spec (tests/core/spec_reference.py).

Seeded random days — trends, pauses, many no-wick bars, rare jumps, missing minutes and synthetic
bars — are replayed through the SetupTracker and through the reference; every candidate row must
agree field for field, in both directions.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar, TradingSession, session_for
from slob_cli.core.strategy import SetupTracker, StrategyConfig
from tests.core.spec_reference import reference_day

DAYS = 150


def _tick(price: float) -> float:
    return round(price * 4) / 4


def generated_day(seed: int) -> tuple[list[Candle], TradingSession]:
    """Return a seeded day from the reference start to the session end and its session."""
    rng = random.Random(seed)
    trading_date = date(2026, 1, 5) + timedelta(days=7 * (seed % 45) + seed % 5)  # weekdays across the year
    session = session_for(trading_date, TradingCalendar())
    assert session is not None
    candles: list[Candle] = []
    label, price, drift = session.reference_start, 20000.0, 0.0
    step = rng.choice((2.0, 3.0, 5.0, 8.0))
    while label < session.session_end:
        if rng.random() < 0.02:
            drift = rng.gauss(0.0, 1.5)
        opened, close = price, _tick(price + drift + rng.gauss(0.0, step))
        small = rng.random() < 0.3  # a candidate no-wick bar
        lower = _tick(abs(rng.gauss(0.0, 0.3 if small else step / 2)))
        upper = _tick(abs(rng.gauss(0.0, step / 2)))
        if close < opened and rng.random() < 0.5:
            lower, upper = upper, lower
        high, low = max(opened, close) + upper, min(opened, close) - lower
        if rng.random() < 0.003:
            jump = _tick(rng.choice((-1, 1)) * rng.uniform(10.0, 30.0))
            opened, high, low, close = opened + jump, high + jump, low + jump, close + jump
        roll = rng.random()
        if roll < 0.01:
            pass  # a missing minute
        elif roll < 0.015:
            candles.append(Candle("NQ", label, price, price, price, price, 0.0, 0))  # synthetic flat bar
        else:
            candles.append(Candle("NQ", label, opened, high, low, close, 60.0, 30))
            price = close
        label += timedelta(minutes=1)
    return candles, session


def tracker_rows(candles: list[Candle], session: TradingSession) -> list[dict]:
    tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
    for candle in candles:
        tracker.on_candle(candle)
    tracker.on_time(session.session_end)
    rows = []
    for view in tracker.candidates():
        row = {key: getattr(view, key) for key in (
            "high", "high_time", "low", "low_time", "nowick_time", "liq2_time", "liq2_price", "trigger_time",
            "entry_estimate", "stop", "target", "risk_reward")}
        row.update(name=view.id.rsplit("-", 1)[1], state=view.state.value,
                   invalidation_reason=view.invalidation_reason.value if view.invalidation_reason else None)
        rows.append(row)
    return rows


def test_tracker_agrees_with_the_reference_reading_of_the_spec_on_generated_days() -> None:
    outcomes: Counter[str] = Counter()
    for seed in range(DAYS):
        candles, session = generated_day(seed)
        expected = reference_day(candles, session)
        got = tracker_rows(candles, session)
        assert [row["name"] for row in got] == [row["name"] for row in expected], f"seed {seed}"
        for mine, theirs in zip(got, expected, strict=True):
            assert mine == theirs, f"seed {seed} {mine['name']}: " + str(
                {key: (mine[key], theirs[key]) for key in theirs if mine[key] != theirs[key]})
            outcomes[theirs["invalidation_reason"] or theirs["state"]] += 1
            outcomes[theirs["name"][0]] += 1
    # the generated days reach every common ending in both directions, so the comparison is not vacuous
    for outcome in ("SETUP_COMPLETE", "CONSOL_RANGE_INVALID", "CONSOL_TIMEOUT", "GAP_DETECTED", "ENTRY_TIMEOUT",
                    "MARKET_CLOSED", "S", "L"):
        assert outcomes[outcome] >= 3, (outcome, outcomes)


def test_reference_itself_completes_the_template_day_with_its_known_numbers() -> None:
    from tests.core.tracking import short_day

    builder = short_day()
    rows = reference_day(builder.candles(), builder.session)
    assert [(row["name"], row["state"], row["entry_estimate"], row["stop"], row["target"], row["risk_reward"])
            for row in rows] == [("S1", "SETUP_COMPLETE", 19976.0, 20006.0, 19937.0, 1.3)]
    assert rows[0]["liq2_time"] == datetime.fromisoformat("2026-01-06T14:47:00+00:00")
