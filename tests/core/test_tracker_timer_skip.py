"""The tracker asks the timers (§4.7) only on a bar past the soonest limit minute, with the same events.

Each candidate keeps its running timer's limit as a minute number (`Candidate.limit_minute`), and
the day the smallest of them; a session bar before that minute is over skips `Candidate.expire`.
These tests hold the cached limit equal to `Candidate.deadline()` after every bar, and the events
equal to those of a tracker that asks every candidate's timer on every bar, over random-walk days
with holes, synthetic bars and short timers, fed bar by bar and clock-driven, and replayed from
their window.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.core.models import Bar, Candle
from slob_cli.core.sessions import TradingCalendar, session_for
from slob_cli.core.strategy import ReferenceWindow, SetupEvent, SetupTracker, StrategyConfig
from slob_cli.core.strategy.candidate import NO_LIMIT
from slob_cli.core.strategy.tracker import _Day, _minute_number
from slob_cli.sim.scenarios import bounded_walk

CALENDAR = TradingCalendar()
DAYS = [day for offset in range(16) if session_for(day := date(2026, 1, 6) + timedelta(days=offset), CALENDAR)]
# Short timers and quick structures: many CONSOL_TIMEOUTs and ENTRY_TIMEOUTs, across holes too.
SHORT_TIMERS = [
    StrategyConfig(high_confirm_bars=1, low_confirm_bars=1, liq2_wait_min=2, min_duration_min=3, max_duration_min=9,
                   entry_timeout_bars=2, min_depth_pct=0.02, max_depth_pct=0.6, nowick_max_wick_ratio=0.6),
    StrategyConfig(high_confirm_bars=1, low_confirm_bars=1, liq2_wait_min=1, min_duration_min=1, max_duration_min=4,
                   entry_timeout_bars=1, min_depth_pct=0.01, max_depth_pct=0.8, nowick_max_wick_ratio=0.9,
                   allow_trigger_on_liq2_bar=False, gap_rule=False),
]
SHORT_IDS = ["nine-minute-structures", "four-minute-structures"]


class EveryBarTimers(SetupTracker):
    """The tracker as it was before the skip: every live candidate's timer asked on every session bar."""

    def _session_bar(self, day: _Day, candle: Bar, events: list[SetupEvent]) -> None:
        day.soonest_limit = -1  # below every minute number: the check always asks the candidates
        super()._session_bar(day, candle, events)


def _day_bars(day: date, rng: random.Random) -> list[Candle]:
    """Return a random-walk window of one day with holes (1 to 25 minutes) and synthetic bars."""
    session = session_for(day, CALENDAR)
    assert session is not None
    minutes = int((session.session_end - session.reference_start).total_seconds() // 60)
    rows = bounded_walk(rng, minutes, 20000.0, 19850.0, 20150.0, 7.0)
    bars: list[Candle] = []
    minute = 0
    while minute < minutes:
        if rng.random() < 0.04:
            minute += rng.randrange(1, 26)  # a hole
            continue
        synthetic = rng.random() < 0.03
        bars.append(Candle("NQ", session.reference_start + timedelta(minutes=minute), *rows[minute], 5.0,
                           0 if synthetic else 9))
        minute += 1
    return bars


def _limit_of(deadline: tuple[datetime, object, int] | None) -> int:
    return NO_LIMIT if deadline is None else _minute_number(deadline[0])


@pytest.mark.parametrize("config", [StrategyConfig(), *SHORT_TIMERS], ids=["default", *SHORT_IDS])
def test_the_cached_limit_minute_is_the_running_timers_limit_after_every_bar(config: StrategyConfig) -> None:
    rng = random.Random(15)
    tracker = SetupTracker("NQ", config, CALENDAR)
    checked = 0
    for day in DAYS:
        for candle in _day_bars(day, rng):
            tracker.on_candle(candle)
            current = tracker._day
            if current is None:
                continue
            for candidate in current.candidates:
                assert candidate.limit_minute == _limit_of(candidate.deadline()), (candidate.id, candle.ts)
                checked += candidate.limit_minute != NO_LIMIT
            assert current.soonest_limit <= min((c.limit_minute for c in current.live), default=NO_LIMIT)
    assert checked > 300  # running timers were seen, not only idle candidates


@pytest.mark.parametrize("config", SHORT_TIMERS, ids=SHORT_IDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skipping_timers_before_the_soonest_limit_gives_the_events_of_asking_them_every_bar(
    config: StrategyConfig, seed: int,
) -> None:
    rng = random.Random(seed)
    fast, slow = SetupTracker("NQ", config, CALENDAR), EveryBarTimers("NQ", config, CALENDAR)
    fast_events: list[SetupEvent] = []
    slow_events: list[SetupEvent] = []
    for day in DAYS:
        for candle in _day_bars(day, rng):
            fast_events += fast.on_candle(candle)
            slow_events += slow.on_candle(candle)
            if rng.random() < 0.02:  # the clock between bars, sometimes inside a hole
                now = candle.end + timedelta(seconds=rng.randrange(0, 600))
                fast_events += fast.on_time(now)
                slow_events += slow.on_time(now)
    end = datetime.combine(DAYS[-1] + timedelta(days=2), datetime.min.time(), tzinfo=timezone.utc)
    fast_events += fast.on_time(end)
    slow_events += slow.on_time(end)
    timeouts = [event for event in slow_events if event.data.get("reason") in ("CONSOL_TIMEOUT", "ENTRY_TIMEOUT")]
    assert len(timeouts) > 20
    assert [event.to_dict() for event in fast_events] == [event.to_dict() for event in slow_events]


@pytest.mark.parametrize("config", SHORT_TIMERS, ids=SHORT_IDS)
def test_a_window_replay_gives_the_events_of_asking_the_timers_every_bar(config: StrategyConfig) -> None:
    rng = random.Random(7)
    for day in DAYS:
        session = session_for(day, CALENDAR)
        assert session is not None
        bars = _day_bars(day, rng)
        real = [bar for bar in bars if bar.ts < session.session_start and bar.tick_count]
        reference = ReferenceWindow(max((bar.high for bar in real), default=None),
                                    min((bar.low for bar in real), default=None), len(real), real[-5:])
        session_bars = [bar for bar in bars if bar.ts >= session.session_start]
        results = [tracker.replay_window(day, reference, session_bars, session.session_end)
                   for tracker in (SetupTracker("NQ", config, CALENDAR), EveryBarTimers("NQ", config, CALENDAR))]
        assert [event.to_dict() for event in results[0]] == [event.to_dict() for event in results[1]]
