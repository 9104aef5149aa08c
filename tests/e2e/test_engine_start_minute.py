"""No hole after a (re)start or a reconnect: every minute of the day is stored and fed to the tracker once."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store, to_iso
from slob_cli.errors import SlobError
from slob_cli.runtime import minute_gate
from slob_cli.runtime.events import Event, EventType
from slob_cli.runtime.minute_gate import MinuteCatchUp
from slob_cli.runtime.session import SessionResult
from tests.e2e.harness import FAST_BACKOFF, Harness, at, start_harness

SETUP = "NQ-20260106-S1"
NO_WICK_BAR = at(15, 25)  # the planted SHORT's no-wick candle; the trigger closes at 15:31


def missing_minutes(store: Store, start: datetime, end: datetime) -> list[datetime]:
    """Return the minutes in [start, end) without a stored candle."""
    stored = {candle.ts for candle in store.candles("NQ", start, end)}
    minutes = []
    minute = start
    while minute < end:
        if minute not in stored:
            minutes.append(minute)
        minute += timedelta(minutes=1)
    return minutes


@pytest.mark.parametrize("second", [0.5, 30.0, 50.0], ids=["start-of-minute", "mid-minute", "end-of-minute"])
def test_start_at_any_second_of_the_no_wick_minute_stores_it_and_trades(tmp_path: Path, second: float) -> None:
    with ExitStack() as stack:
        # 60x: a real tenth of a second of connecting is 6 virtual seconds, so the start stays in its minute.
        h = start_harness(stack, tmp_path, "short_setup", speed=60.0, start=NO_WICK_BAR + timedelta(seconds=second))
        result = h.session(until=at(15, 33))
        assert floor_second(result.started) >= NO_WICK_BAR
        assert missing_minutes(h.store, at(8, 0), at(15, 32)) == [], "history and live meet without a hole"
        [candle] = h.store.candles("NQ", NO_WICK_BAR, NO_WICK_BAR + timedelta(minutes=1))
        assert (candle.open, candle.high, candle.low, candle.close) == (25577.5, 25587, 25577, 25587)
        assert not h.logged("GAP_DETECTED")
        assert [row["id"] for row in h.completed_setups()] == [SETUP], "the setup survives the start"
        assert {row["order_ref"] for row in h.orders()} == {f"slob:{SETUP}:{r}" for r in ("entry", "stop", "target")}


class CountedWakes:
    """A coroutine that counts how often its task resumed it (ignoring resumes inside `busy`)."""

    def __init__(self, coroutine: Any, busy: list[bool]) -> None:
        self.coroutine = coroutine
        self.busy = busy
        self.wakes = 0

    def _count(self) -> None:
        if not self.busy:
            self.wakes += 1

    def send(self, value: Any) -> Any:
        self._count()
        return self.coroutine.send(value)

    def throw(self, *args: Any) -> Any:
        self._count()
        return self.coroutine.throw(*args)

    def close(self) -> None:
        self.coroutine.close()

    def __await__(self) -> Any:
        return self

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return self.send(None)


def test_the_start_minute_backfill_waits_for_the_minute_timer_not_a_poll(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock on its own at 20x (no lockstep): the minute started in is taken from history once the
    # minute timer closed it; meanwhile the backfill loop sleeps. A poll (every 0.25 s real, then every
    # 10 ms for the close) would wake it a dozen times in the 57 virtual seconds it waits here.
    loops: list[CountedWakes] = []
    inside: list[bool] = []  # a backfill under way: its own awaits (the history request) are not idle wakes
    real_run, real_backfill = MinuteCatchUp.run, MinuteCatchUp._backfill

    def counted_run(self: MinuteCatchUp) -> Any:
        loops.append(CountedWakes(real_run(self), inside))
        return loops[-1]

    async def flagged_backfill(self: MinuteCatchUp, until: datetime) -> None:
        inside.append(True)
        try:
            await real_backfill(self, until)
        finally:
            inside.pop()

    monkeypatch.setattr(MinuteCatchUp, "run", counted_run)
    monkeypatch.setattr(MinuteCatchUp, "_backfill", flagged_backfill)
    with ExitStack() as stack:
        start = at(15, 12) + timedelta(seconds=5)
        h = start_harness(stack, tmp_path, "short_setup", speed=20.0, start=start, lockstep=False)
        result = h.session(until=at(15, 14) + timedelta(seconds=20))
        minute = floor_second(result.started).replace(second=0)  # 15:12 unless connecting took 3 real seconds
        [backfill] = h.logged("BACKFILL")
        assert (backfill["from"], backfill["to"]) == (to_iso(minute), to_iso(minute + timedelta(minutes=1)))
        span = (minute, at(15, 14))
        assert bars(h.store.candles("NQ", *span)) == bars(h.gateway.gateway.server.market.candles_between(*span)), \
            "history brought the start minute, live data the next"
        [loop] = loops
        # Started, then woken when the backfill became pending, when its minute closed, and at the stop
        # (each wake is two resumes: the wait, then first_of's cancelled other half): 7. A poll: ~30.
        assert loop.wakes <= 10, f"the backfill loop woke {loop.wakes} times outside its backfill"


def floor_second(moment: datetime) -> datetime:
    """Return moment without its fraction of a second."""
    return moment.replace(microsecond=0)


def test_restart_mid_minute_continues_the_stored_day_without_a_hole(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=60.0, start=at(15, 20) + timedelta(seconds=20))
        h.session(until=at(15, 23) + timedelta(seconds=40))  # stops mid-minute: 15:23 is partial live
        h.session(until=at(15, 33))  # starts again some seconds later
        assert missing_minutes(h.store, at(8, 0), at(15, 32)) == []
        [candle] = h.store.candles("NQ", at(15, 23), at(15, 24))
        assert candle.tick_count == 30, "the partial live bar of the stop minute is not what is stored"
        assert [row["id"] for row in h.completed_setups()] == [SETUP]


def test_reconnect_backfills_the_minutes_the_connection_missed(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=120.0, start=at(15, 10))
        dropped: list[bool] = []

        def drop(event: Event) -> None:
            candle = event.payload
            if candle.ts == at(15, 14) and not dropped:  # down 1 s real = 2 virtual minutes, around 15:16
                dropped.append(True)
                h.gateway.restart(1.0, wait=False)

        result = h.session(until=at(15, 33), policy=FAST_BACKOFF, on={EventType.CANDLE_COMPLETED: drop})
        assert dropped and result.stats.reconnects >= 1
        assert result.stats.backfilled_candles >= 1
        assert h.logged("BACKFILL")
        assert missing_minutes(h.store, at(8, 0), at(15, 32)) == []
        assert not h.logged("GAP_DETECTED")
        assert [row["id"] for row in h.completed_setups()] == [SETUP], "the day's setup survives the outage"


def run_with_a_stall(h: Harness) -> tuple[SessionResult, datetime]:
    """Run the planted day from 15:10 to 15:20, mute the feed after the 15:13 bar until the watchdog resubscribes.

    Lockstep at no more than 60x: the watchdog's 1.5 real seconds of silence are up to 90 virtual seconds.
    Return the result and the minute of the first tick after the silence.
    """
    muted: list[bool] = []

    def mute(event: Event) -> None:
        if event.payload.ts == at(15, 13) and not muted:  # silent from about 15:14:02, mid-bar of 15:14
            muted.append(True)
            h.gateway.set_muted(True)

    log_event = h.store.log_event

    def unmute_on_resubscribe(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "DATA_STALE":  # the watchdog resubscribes; the data farm streams again
            h.gateway.set_muted(False)
        return log_event(kind, *args, **kwargs)

    h.store.log_event = unmute_on_resubscribe  # type: ignore[method-assign, assignment]
    result = h.session(until=at(15, 20), stale_after=1.5, on={EventType.CANDLE_COMPLETED: mute})
    assert muted and [p["action"] for p in h.logged("DATA_STALE")][:1] == ["resubscribe"]
    [resumed] = [p for p in h.logged("FEED_RESUMED") if p["reason"] == "stale"]
    silent_from = datetime.fromisoformat(resumed["last_before"]).replace(second=0, microsecond=0)
    silent_to = datetime.fromisoformat(resumed["first_after"]).replace(second=0, microsecond=0)
    assert silent_from == at(15, 14) and silent_to > silent_from, "silent into the next minute"
    return result, silent_to


def test_a_stall_the_resubscription_ended_takes_its_minutes_from_history(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=60.0, start=at(15, 10))
        result, silent_to = run_with_a_stall(h)
        span = (at(15, 12), silent_to + timedelta(minutes=2))
        assert bars(h.store.candles("NQ", *span)) == bars(h.gateway.gateway.server.market.candles_between(*span)), \
            "the silent minutes are the market's, not the partial live bars"
        [backfill] = [p for p in h.logged("BACKFILL") if p["from"] == "2026-01-06T15:14:00Z"]
        assert backfill["to"] == to_iso(silent_to + timedelta(minutes=1))
        assert result.stats.backfilled_candles == backfill["bars"] >= 1, "history fed the minutes after the last fed"
        assert not h.logged("DATA_GAP") and not h.logged("GAP_DETECTED") and result.stats.gaps == 0
        assert missing_minutes(h.store, at(8, 0), at(15, 19)) == []


def test_a_stall_history_cannot_fill_is_reported_as_a_data_gap(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    real_fetch = minute_gate.fetch_minute_bars

    async def no_history_for_the_stall(ib: Any, contract: Any, symbol: str, start: datetime, *args: Any,
                                       **kwargs: Any) -> Any:
        if start == at(15, 14):  # what IB answers when its farm lost the minutes too
            raise SlobError("HMDS query returned no data")
        return await real_fetch(ib, contract, symbol, start, *args, **kwargs)

    monkeypatch.setattr(minute_gate, "fetch_minute_bars", no_history_for_the_stall)
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=60.0, start=at(15, 10))
        result, silent_to = run_with_a_stall(h)
        [gap] = h.logged("DATA_GAP")
        assert (gap["symbol"], gap["start"], gap["end"]) == ("NQ", "2026-01-06T15:14:00Z",
                                                             to_iso(silent_to + timedelta(minutes=1)))
        assert gap["reason"].startswith("backfill failed") and result.stats.gaps >= 1


def bars(candles: list[Any]) -> list[tuple[Any, ...]]:
    """Return each candle's minute and prices."""
    return [(c.ts, c.open, c.high, c.low, c.close) for c in candles]
