"""The minute gate and a silent feed: a minute closing after too long a silence is held, a quiet one is not.

The engine side (the FEED_SILENT event, the backfill, the DATA_GAP of a failed one) runs against the
simulated gateway in tests/e2e/test_engine_silence_hold.py; here the gate's own rules.
"""

from __future__ import annotations

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


def test_a_minute_closing_after_a_silence_longer_than_the_threshold_is_held_until_history_has_it() -> None:
    gate = MinuteGate()
    last_tick = minute(15, 14, 19)  # silent from 15:14:20
    assert gate.hold_silence(close_of(minute(15, 14)), last_tick, THRESHOLD)
    assert gate.pending and gate.awaiting_ticks and gate.fill_from == minute(15, 14)
    assert not gate.admit(bar(minute(15, 14), ticks=10)), "the partial bar of 15:14 waits"
    assert not gate.hold_silence(close_of(minute(15, 15)), last_tick, THRESHOLD), "one hold, not one a minute"
    gate.refetch(minute(15, 14), minute(15, 15))  # ticks resumed at 15:15:40: history brings 15:14 and 15:15
    assert not gate.awaiting_ticks and gate.fill_until == minute(15, 16)
    assert not gate.admit(bar(minute(15, 15), ticks=12)), "the minute the ticks resumed in waits too"
    assert gate.release({minute(15, 14), minute(15, 15)}) == [], "history replaced both live bars"
    assert not gate.pending and gate.discarded == 2
    assert gate.admit(bar(minute(15, 16))), "after the backfill, live bars go through again"


def test_a_quiet_minute_within_the_threshold_is_not_held() -> None:
    gate = MinuteGate()
    for last_tick in (minute(15, 14, 33), minute(15, 14, 32)):  # 29 s and exactly 30 s before the close
        assert not gate.hold_silence(close_of(minute(15, 14)), last_tick, THRESHOLD)
    assert not gate.hold_silence(close_of(minute(15, 14)), None, THRESHOLD), "no tick yet: nothing to judge"
    assert not gate.pending and not gate.awaiting_ticks
    assert gate.admit(bar(minute(15, 14), ticks=3)), "a quiet bar goes to the tracker at its close"


def test_a_silence_while_the_market_is_closed_is_not_held() -> None:
    gate = MinuteGate()
    reopen = minute(23, 0, 2)  # the CME halt: the last trade was before 22:00 UTC
    assert not gate.hold_silence(minute(22, 30), minute(21, 59, 58), THRESHOLD, lambda now: now >= minute(23, 0))
    assert not gate.pending
    assert gate.hold_silence(reopen, minute(21, 59, 58), THRESHOLD, lambda now: now >= minute(23, 0)), \
        "at the reopen the feed has been silent in trading hours, as the stale watchdog says too"


def test_history_that_fails_releases_every_held_live_bar_as_it_is_in_order() -> None:
    gate = MinuteGate()
    assert gate.hold_silence(close_of(minute(15, 14)), minute(15, 14, 19), THRESHOLD)
    held = [bar(minute(15, 14), ticks=10), bar(minute(15, 15), ticks=12), bar(minute(15, 16))]
    gate.admit(held[0])
    gate.refetch(minute(15, 14), minute(15, 15))
    for candle in held[1:]:
        assert not gate.admit(candle)
    assert gate.release(()) == held, "nothing held is lost when history brings nothing"
    assert not gate.pending and gate.discarded == 0


def test_history_lacking_a_minute_keeps_that_minutes_live_bar_only() -> None:
    gate = MinuteGate()
    gate.hold_silence(close_of(minute(15, 14)), minute(15, 14, 19), THRESHOLD)
    held = [bar(minute(15, 14), ticks=10), bar(minute(15, 15), ticks=12), bar(minute(15, 16))]
    gate.admit(held[0])
    gate.refetch(minute(15, 14), minute(15, 15))
    gate.admit(held[1])
    gate.admit(held[2])
    assert gate.release({minute(15, 14)}) == held[1:], "15:15 stands in for the minute history lacks"


def test_a_reconnect_ends_the_wait_for_ticks() -> None:
    gate = MinuteGate()
    gate.hold_silence(close_of(minute(15, 14)), minute(15, 14, 19), THRESHOLD)
    gate.cut(minute(15, 14), minute(15, 15, 10))
    assert gate.awaiting_ticks, "the drop alone says nothing of where the silence ends"
    assert gate.resume(minute(15, 14), minute(15, 15, 30))
    assert not gate.awaiting_ticks and gate.fill_from == minute(15, 14) and gate.fill_until == minute(15, 16)
