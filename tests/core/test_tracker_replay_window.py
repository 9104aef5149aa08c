"""`SetupTracker.replay_window` (a reference summary, then the session bars) equals feeding every bar.

`slob setups track` replays stored days this way: it reads the reference window as its extremes,
its count of real bars and its last few real bars instead of every bar. The events and candidates
must be exactly those of `on_candle` over all the window's bars and `on_time(until)`, on every
kind of day (holiday, early close, no reference data, synthetic bars, holes) and at every clock:
before the window, inside the reference window, at the open, mid-session and after the close.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.models import Candle, PriceBar
from slob_cli.core.sessions import TradingCalendar, session_for
from slob_cli.core.strategy import ReferenceWindow, SetupEvent, SetupTracker, StrategyConfig
from slob_cli.core.strategy.tracker import CandidateView
from slob_cli.runtime.tracking import day_window, trading_dates
from slob_cli.sim.scenarios import SCENARIOS, bounded_walk, build_scenario

UTC = timezone.utc
FIRST, LAST = date(2025, 11, 20), date(2025, 12, 5)  # Thanksgiving week: a holiday and an early close


def _calendar() -> TradingCalendar:
    return load_calendar(FIRST - timedelta(days=14), LAST + timedelta(days=14))


def _window_bars(calendar: TradingCalendar, seed: int) -> dict[date, list[Candle]]:
    """Return each trading day's window bars: a scenario with synthetic bars and holes planted.

    One day has no real reference bar (NO_REFERENCE_DATA), one only a few (coverage low).
    """
    rng = random.Random(seed)
    days: dict[date, list[Candle]] = {}
    sessions = [(day, session) for day in trading_dates(FIRST, LAST) if (session := session_for(day, calendar))]
    for index, (day, session) in enumerate(sessions):
        bars = []
        for candle in build_scenario(SCENARIOS[(index + seed) % len(SCENARIOS)], day, seed=index, calendar=calendar):
            roll = rng.random()
            reference = candle.ts < session.session_start
            if roll < 0.03:
                continue  # a hole
            if roll < 0.08 or (index == 2 and reference) or (index == 4 and reference and roll < 0.9):
                candle = dataclasses.replace(candle, tick_count=0)  # synthetic: only moves the clock
            bars.append(candle)
        days[day] = bars
    return days


def _walk_days(calendar: TradingCalendar, seed: int) -> dict[date, list[Candle]]:
    """Return random-walk days whose session opens at the reference extremes: LIQ #1 in the first bars,
    so swing targets look back into the reference window's last bars."""
    rng = random.Random(seed)
    days: dict[date, list[Candle]] = {}
    for day in trading_dates(FIRST, LAST):
        session = session_for(day, calendar)
        if session is None:
            continue
        before = int((session.session_start - session.reference_start).total_seconds() // 60)
        during = int((session.session_end - session.session_start).total_seconds() // 60)
        rows = bounded_walk(rng, before, 20000.0, 19970.0, 20030.0, 4.0)
        rows += bounded_walk(rng, during, rows[-1][3], 19900.0, 20100.0, 9.0)
        days[day] = [Candle("NQ", session.reference_start + timedelta(minutes=minute), *row, 5.0,
                            0 if rng.random() < 0.03 else 7) for minute, row in enumerate(rows)]
    return days


def _clocks(calendar: TradingCalendar, day: date, rng: random.Random) -> list[datetime]:
    session = session_for(day, calendar)
    assert session is not None
    start, end = session.reference_start, session.session_end
    return [
        day_window(day)[1],  # the day over: every candidate closed
        start - timedelta(minutes=5), start, start + timedelta(minutes=7),
        session.session_start - timedelta(minutes=1), session.session_start, session.session_start + timedelta(minutes=1),
        *(session.session_start + timedelta(minutes=rng.randrange(2, 400), seconds=rng.choice((0, 0, 30))) for _ in range(6)),
        end - timedelta(minutes=1), end,
    ]


def _light(candle: Candle) -> PriceBar:
    return PriceBar(candle.symbol, candle.ts, candle.open, candle.high, candle.low, candle.close, candle.tick_count)


def _bar_by_bar(config: StrategyConfig, calendar: TradingCalendar, bars: list[Candle], until: datetime,
                ) -> tuple[list[SetupEvent], list[CandidateView]]:
    tracker = SetupTracker("NQ", config, calendar)
    events = [event for candle in bars if candle.end <= until for event in tracker.on_candle(_light(candle))]
    events += tracker.on_time(until)
    return events, tracker.candidates()


def _summed_up(config: StrategyConfig, calendar: TradingCalendar, day: date, bars: list[Candle], until: datetime,
               ) -> tuple[list[SetupEvent], list[CandidateView]]:
    tracker = SetupTracker("NQ", config, calendar)
    session = session_for(day, calendar)
    opens = session.session_start if session is not None else datetime.max.replace(tzinfo=UTC)
    final = [candle for candle in bars if candle.end <= until]
    real = [candle for candle in final if candle.ts < opens and candle.tick_count > 0]
    reference = ReferenceWindow(
        max((candle.high for candle in real), default=None), min((candle.low for candle in real), default=None),
        len(real), [_light(candle) for candle in real[len(real) - min(len(real), tracker.reference_tail()):]])
    session_bars = [_light(candle) for candle in final if candle.ts >= opens]
    events = tracker.replay_window(day, reference, session_bars, until)
    return events, tracker.candidates()


CONFIGS = [
    StrategyConfig(),
    StrategyConfig(swing_lookback=1),
    StrategyConfig(swing_lookback=30),
    StrategyConfig(tp_mode="lse", gap_rule=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["default", "lookback1", "lookback30", "lse-nogap"])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_summed_up_reference_window_gives_the_events_and_candidates_of_every_bar(
    config: StrategyConfig, seed: int,
) -> None:
    calendar = _calendar()
    rng = random.Random(seed)
    kinds: set[str] = set()
    sources: set[str] = set()
    days = [*_window_bars(calendar, seed).items(), *_walk_days(calendar, seed).items()]
    for day, bars in days:
        for until in _clocks(calendar, day, rng):
            expected = _bar_by_bar(config, calendar, bars, until)
            assert _summed_up(config, calendar, day, bars, until) == expected, (day, until)
            kinds |= {event.type.value for event in expected[0]}
            sources |= {str(event.data.get("tp_source")) for event in expected[0] if "tp_source" in event.data}
    # the days really exercised the rules the summary stands in for
    assert {"LSE_LEVELS_FROZEN", "NO_REFERENCE_DATA", "REFERENCE_COVERAGE_LOW", "LIQ1_DETECTED",
            "SETUP_COMPLETE", "SETUP_INVALIDATED"} <= kinds
    if config.tp_mode == "swing" and config.swing_lookback <= 2:
        assert "swing" in sources


def test_a_day_without_a_session_or_without_bars_gives_what_the_clock_alone_gives() -> None:
    calendar = _calendar()
    empty = ReferenceWindow(None, None, 0, [])
    for day in (date(2025, 11, 27), date(2025, 11, 29), date(2025, 12, 1)):  # holiday, Saturday, plain Monday
        for until in (day_window(day)[0] + timedelta(hours=hour) for hour in (1, 9, 15, 24)):
            expected = _bar_by_bar(StrategyConfig(), calendar, [], until)
            assert _summed_up(StrategyConfig(), calendar, day, [], until) == expected
            tracker = SetupTracker("NQ", StrategyConfig(), calendar)
            assert (tracker.replay_window(day, empty, [], until), tracker.candidates()) == expected


def test_replay_window_refuses_a_used_tracker_and_an_inconsistent_summary() -> None:
    calendar = _calendar()
    day = date(2025, 12, 1)
    session = session_for(day, calendar)
    assert session is not None
    bar = PriceBar("NQ", session.reference_start, 1.0, 2.0, 0.5, 1.5, 3)
    used = SetupTracker("NQ", StrategyConfig(), calendar)
    used.on_candle(bar)
    with pytest.raises(ValueError, match="fresh tracker"):
        used.replay_window(day, ReferenceWindow(2.0, 0.5, 1, [bar]), [], session.session_end)
    for wrong in (ReferenceWindow(2.0, 0.5, 3, [bar]),  # fewer of the last bars than it needs
                  ReferenceWindow(None, None, 0, [bar]),  # bars given for an empty window
                  ReferenceWindow(None, None, 1, [bar])):  # real bars without extremes
        with pytest.raises(ValueError, match="inconsistent reference window"):
            SetupTracker("NQ", StrategyConfig(), calendar).replay_window(day, wrong, [], session.session_end)
    opening = PriceBar("NQ", session.session_start, 1.0, 2.0, 0.5, 1.5, 3)
    later = PriceBar("NQ", session.session_start + timedelta(minutes=1), 1.0, 2.0, 0.5, 1.5, 3)
    for bars in ([bar], [later, opening], [opening, PriceBar("MNQ", later.ts, 1.0, 2.0, 0.5, 1.5, 3)]):
        with pytest.raises(ValueError, match="is not the next bar of the NQ session"):  # a reference bar, out of order, another symbol
            SetupTracker("NQ", StrategyConfig(), calendar).replay_window(
                day, ReferenceWindow(2.0, 0.5, 1, [bar]), bars, session.session_end)
