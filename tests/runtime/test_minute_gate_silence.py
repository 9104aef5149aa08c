"""The minute gate and a silent feed: a minute closing after too long a silence is held, a quiet one is not.

The engine side (the FEED_SILENT event, the backfills, the DATA_GAP of a failed one) runs against the
simulated gateway in tests/e2e/test_engine_silence_hold.py; here the gate's own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from slob_cli.core.models import Candle
from slob_cli.runtime.minute_gate import MinuteGate

UTC = timezone.utc
THRESHOLD = 30.0  # seconds of silence (SLOB_STALE_AFTER's default)
GRACE = timedelta(seconds=2)


def minute(hour: int, minute_: int, second: int = 0) -> datetime:
    """Return an instant of 2026-01-06 (UTC)."""
    return datetime(2026, 1, 6, hour, minute_, second, tzinfo=UTC)


def bar(ts: datetime, ticks: int = 30) -> Candle:
    """Return a live bar of the minute ts."""
    return Candle("NQ", ts, 100.0, 101.0, 99.0, 100.5, float(ticks), ticks)


def close_of(label: datetime) -> datetime:
    """Return the instant the bar labelled `label` closes (its end plus the grace)."""
    return label + timedelta(minutes=1) + GRACE


def hold(gate: MinuteGate, now: datetime, last_tick: datetime | None, after: datetime | None,
         trading: Callable[[datetime], bool] = lambda _now: True) -> bool:
    """Ask the gate to hold for a silence since last_tick at `now` (the tracker lacks `after` on)."""
    return gate.hold_silence(now, last_tick, THRESHOLD, after=after, grace=GRACE, trading=trading)


def test_a_minute_the_feed_fell_silent_in_is_held_and_taken_from_history_minute_by_minute() -> None:
    gate = MinuteGate()
    last_tick = minute(15, 14, 19)  # silent from 15:14:20; the tracker has 15:13
    assert hold(gate, minute(15, 14, 50), last_tick, after=minute(15, 14))
    assert (gate.fill_from, gate.fill_until) == (minute(15, 14), minute(15, 15)), "15:14, fetched once over"
    assert not gate.admit(bar(minute(15, 14), ticks=10)), "the partial bar of 15:14 waits"
    assert not hold(gate, close_of(minute(15, 14)), last_tick, after=minute(15, 14)), "one hold at a time"
    assert gate.release({minute(15, 14)}) == [], "history replaced the partial bar"
    # Still silent after history brought 15:14: the next minute is held, never 15:14 again.
    assert hold(gate, close_of(minute(15, 14)), last_tick, after=minute(15, 15))
    assert (gate.fill_from, gate.fill_until) == (minute(15, 15), minute(15, 16))
    gate.refetch(minute(15, 14), minute(15, 15))  # ticks resumed at 15:15:40 (FEED_RESUMED): so is 15:15 taken
    assert not gate.admit(bar(minute(15, 15), ticks=12)), "the minute the ticks resumed in waits too"
    assert gate.release({minute(15, 14), minute(15, 15)}) == []
    assert not gate.pending and gate.discarded == 2
    assert gate.admit(bar(minute(15, 16))), "after the backfills, live bars go through again"


def test_a_silence_noticed_only_at_a_close_holds_the_minute_closing_then() -> None:
    gate = MinuteGate()  # the minute timer (no lockstep) looks only at the closes
    assert hold(gate, close_of(minute(15, 14)), minute(15, 14, 25), after=minute(15, 14))
    assert (gate.fill_from, gate.fill_until) == (minute(15, 14), minute(15, 15)), "due at once, not a minute later"


def test_a_quiet_minute_within_the_threshold_is_not_held() -> None:
    gate = MinuteGate()
    for last_tick in (minute(15, 14, 33), minute(15, 14, 32)):  # 29 s and exactly 30 s before the close
        assert not hold(gate, close_of(minute(15, 14)), last_tick, after=minute(15, 14))
    assert not hold(gate, close_of(minute(15, 14)), None, after=minute(15, 14)), "no tick yet: nothing to judge"
    assert not gate.pending
    assert gate.admit(bar(minute(15, 14), ticks=3)), "a quiet bar goes to the tracker at its close"


def test_a_silence_while_the_market_is_closed_is_not_held() -> None:
    gate = MinuteGate()

    def trading(now: datetime) -> bool:
        return now >= minute(23, 0)  # the CME halt: the last trade was before 22:00 UTC

    assert not hold(gate, minute(22, 30), minute(21, 59, 58), after=minute(22, 0), trading=trading)
    assert not gate.pending
    assert hold(gate, minute(23, 0, 2), minute(21, 59, 58), after=minute(22, 0), trading=trading), \
        "at the reopen the feed has been silent in trading hours, as the stale watchdog says too"


def test_history_that_fails_releases_every_held_live_bar_as_it_is_in_order() -> None:
    gate = MinuteGate()
    assert hold(gate, minute(15, 14, 50), minute(15, 14, 19), after=minute(15, 14))
    gate.refetch(minute(15, 14), minute(15, 15))  # ticks resumed at 15:15:40
    held = [bar(minute(15, 14), ticks=10), bar(minute(15, 15), ticks=12), bar(minute(15, 16))]
    for candle in held:
        assert not gate.admit(candle)
    assert gate.release(()) == held, "nothing held is lost when history brings nothing"
    assert not gate.pending and gate.discarded == 0


def test_history_lacking_a_minute_keeps_that_minutes_live_bar_only() -> None:
    gate = MinuteGate()
    hold(gate, minute(15, 14, 50), minute(15, 14, 19), after=minute(15, 14))
    gate.refetch(minute(15, 14), minute(15, 15))
    held = [bar(minute(15, 14), ticks=10), bar(minute(15, 15), ticks=12), bar(minute(15, 16))]
    for candle in held:
        gate.admit(candle)
    assert gate.release({minute(15, 14)}) == held[1:], "15:15 stands in for the minute history lacks"


def test_the_silence_threshold_is_stale_after_real_seconds_on_the_session_clock_the_same_at_1000x_and_max() -> None:
    from slob_cli.runtime.engine import EngineOptions
    from slob_cli.runtime.minute_gate import silence_threshold
    from slob_cli.runtime.session import SimOptions

    assert silence_threshold(EngineOptions(stale_after=THRESHOLD)) == THRESHOLD, "the wall clock"
    thresholds = {speed: silence_threshold(EngineOptions(stale_after=THRESHOLD, lockstep=True,
                                                         clock_speed=SimOptions(speed=speed).clock_speed))
                  for speed in (1000.0, "max")}
    # Not 30 virtual seconds: each silence held asks history, whose pacing counts real seconds.
    assert thresholds == {1000.0: THRESHOLD * 1000, "max": THRESHOLD * 1000}
    assert silence_threshold(EngineOptions(stale_after=THRESHOLD, clock_speed=60.0, silence_after=45.0)) == 45.0
