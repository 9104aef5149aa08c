"""A feed that goes silent mid-minute without a disconnect: the tracker never gets the partial bar.

The silence is longer than the stall threshold before the minute it began in closes, so the engine
holds that bar (and every later one) and takes each silent minute from history once it is over,
and the minute the ticks resume in as well. The bars the tracker was fed are then the stored
candles, one a minute in order, and a replay of those gives the live log.
"""

from __future__ import annotations

import itertools
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store, to_iso
from slob_cli.core.models import Candle, floor_minute
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import SetupEvent
from slob_cli.errors import SlobError
from slob_cli.runtime import minute_gate
from slob_cli.runtime.events import Event, EventType
from slob_cli.runtime.session import SessionResult
from slob_cli.runtime.tracking import day_window, track_range
from tests.e2e.harness import DAY, Harness, at, start_harness, start_planted
from tests.e2e.tables import table_differences
from tests.e2e.test_engine_clock_rules import late_clock_events, quiet_day, real_bars, watch_setup_events
from tests.sqlfile import as_shown

SETUP = "NQ-20260106-S1"
SILENT_MINUTE = at(15, 14)
SILENT_FROM = SILENT_MINUTE + timedelta(seconds=20)
END = at(15, 33)  # the planted SHORT triggers at 15:31
# Ticks resume in the next minute, or a whole minute (15:15) passes without one.
RESUMES = {"into-the-next-minute": at(15, 15) + timedelta(seconds=40),
           "over-a-whole-minute": at(15, 16) + timedelta(seconds=40)}


def run_through_the_silence(h: Harness, resumes: datetime) -> tuple[SessionResult, list[Candle]]:
    """Run the planted day from 15:10 with the feed silent from 15:14:20 to `resumes`; return the bars fed."""
    fed: list[Candle] = []

    def take(event: Event) -> None:
        fed.append(event.payload)

    h.gateway.mute_between(SILENT_FROM, resumes)  # the market prints on; the feed says nothing, and no disconnect
    # The stall threshold on the engine's clock: production's 30 s (the watchdog's real seconds stay far away).
    result = h.session(until=END, silence_after=30.0, on={EventType.CANDLE_COMPLETED: take})
    return result, fed


def bars(candles: list[Any]) -> list[tuple[Any, ...]]:
    """Return each candle's minute and prices."""
    return [(c.ts, c.open, c.high, c.low, c.close) for c in candles]


def replayed_events(h: Harness, tmp_path: Path, now: datetime) -> list[dict[str, Any]]:
    """Return the events `slob setups track` writes for the day from the candles the live run stored."""
    with Store.open(tmp_path / "replay.db") as replay:
        replay.upsert_candles(h.store.candles("NQ", *day_window(DAY)))
        track_range(replay, "NQ", DAY, DAY, StrategyConfig(), h.calendar, now)
        return setup_events(replay)


def setup_events(store: Store) -> list[dict[str, Any]]:
    """Return the stored setup events of the day, in order, without their row ids."""
    rows = as_shown("setup_events", store.db.query("SELECT * FROM setup_events ORDER BY trading_date, seq"))
    return [{key: value for key, value in row.items() if key != "id"} for row in rows]


def assert_each_minute_fed_once(fed: list[Candle]) -> None:
    """Assert the bars fed are one a minute, in order, with no minute skipped."""
    minutes = [candle.ts for candle in fed]
    assert minutes == sorted(set(minutes)), "no minute was fed twice or out of order"
    steps = {later - earlier for earlier, later in itertools.pairwise(minutes)}
    assert steps == {timedelta(minutes=1)}, "no minute was skipped"


@pytest.mark.parametrize("resumes", list(RESUMES.values()), ids=list(RESUMES))
def test_a_minute_the_feed_went_silent_in_is_held_and_fed_from_history(tmp_path: Path, resumes: datetime) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", start=at(15, 10))
        result, fed = run_through_the_silence(h, resumes)
        through = floor_minute(resumes) + timedelta(minutes=1)  # history brings 15:14 to the minute ticks resumed in
        market = h.gateway.gateway.server.market.candles_between(at(15, 10), END)
        assert bars(fed) == bars(market), "the tracker got the market's bars, never the partial one of 15:14"
        assert bars(h.store.candles("NQ", at(15, 10), END)) == bars(fed), \
            "what the tracker got is what is stored"
        assert_each_minute_fed_once(fed)
        [held] = h.logged("FEED_SILENT")
        assert held["held_from"] == "2026-01-06T15:14:00Z" and held["last_tick"] < "2026-01-06T15:14:20Z"
        [resumed] = h.logged("FEED_RESUMED")
        assert resumed["reason"] == "stale" and datetime.fromisoformat(resumed["first_after"]) >= resumes
        backfills = h.logged("BACKFILL")
        assert (backfills[-1]["from"], backfills[-1]["to"]) == ("2026-01-06T15:14:00Z", to_iso(through))
        assert {backfill["live_bars"] for backfill in backfills} == {0}, "history had every minute"
        assert result.stats.backfilled_candles == (through - SILENT_MINUTE) // timedelta(minutes=1), \
            "every silent minute came from history, in order, before the live bars held after them"
        assert result.stats.reconnects == 0 and not h.logged("IB_DISCONNECTED"), "a silence, not a disconnect"
        assert not h.logged("DATA_GAP") and not h.logged("GAP_DETECTED") and result.stats.gaps == 0
        live = setup_events(h.store)
        assert live == replayed_events(h, tmp_path, fed[-1].end), \
            "`setups track` over the stored candles gives the live log"
        assert [row["id"] for row in h.completed_setups()] == [SETUP]


def test_a_silence_history_cannot_fill_feeds_the_held_live_bars_as_they_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fetch = minute_gate.fetch_minute_bars

    async def no_history_for_the_silence(ib: Any, contract: Any, symbol: str, start: datetime, *args: Any,
                                         **kwargs: Any) -> Any:
        if start == SILENT_MINUTE:  # what IB answers when its farm lost the minutes too
            raise SlobError("HMDS query returned no data")
        return await real_fetch(ib, contract, symbol, start, *args, **kwargs)

    monkeypatch.setattr(minute_gate, "fetch_minute_bars", no_history_for_the_silence)
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", start=at(15, 10))
        resumes = RESUMES["into-the-next-minute"]
        result, fed = run_through_the_silence(h, resumes)
        gaps = [(gap["start"], gap["end"], gap["live_bars"]) for gap in h.logged("DATA_GAP")]
        # The silent 15:14, then 15:14 to the 15:15 the ticks resumed in: each gap says its held live bar was fed.
        assert gaps == [("2026-01-06T15:14:00Z", "2026-01-06T15:15:00Z", 1),
                        ("2026-01-06T15:14:00Z", "2026-01-06T15:16:00Z", 1)]
        assert all(gap["reason"].startswith("backfill failed") for gap in h.logged("DATA_GAP"))
        assert result.stats.gaps == 2
        assert_each_minute_fed_once(fed)
        partial = {candle.ts: candle for candle in fed if SILENT_MINUTE <= candle.ts <= resumes}
        assert sorted(partial) == [at(15, 14), at(15, 15)], "nothing held was lost"
        market = {c.ts: c for c in h.gateway.gateway.server.market.candles_between(at(15, 14), at(15, 16))}
        assert all(partial[minute].tick_count < market[minute].tick_count for minute in partial), "live, partial"
        assert bars(h.store.candles("NQ", at(15, 10), END)) == bars(fed), \
            "the store holds the bars the tracker got"
        assert setup_events(h.store) == replayed_events(h, tmp_path, fed[-1].end)


def test_a_market_quiet_for_hours_is_taken_from_history_minute_by_minute_and_the_clock_moves_on(
        tmp_path: Path) -> None:
    # The quiet planted day of test_engine_clock_rules (no trade for hours), with production's 30 s
    # threshold on the virtual clock: every silent minute is asked of history, which has no bar, so
    # the tracker's clock still fires the freeze, the timeout and the session end in their minutes.
    with ExitStack() as stack:
        h = start_planted(stack, tmp_path, quiet_day())
        seen: list[tuple[SetupEvent, datetime]] = []
        result = h.session(until=at(21, 2), silence_after=30.0, on=watch_setup_events(h, seen))
        assert late_clock_events(seen) == {}, "engine clock readings when the events came (None: never)"
        silences = [(silent["last_tick"][11:16], silent["held_from"][11:16]) for silent in h.logged("FEED_SILENT")]
        assert silences == [("14:46", "14:47"), ("20:00", "20:01")], "each silence noted once (none before a tick)"
        spans = [(backfill["from"][11:16], backfill["to"][11:16]) for backfill in h.logged("BACKFILL")]
        # One silent minute each showed the market quiet; the tick that ended the first silence brought its minute.
        assert spans == [("14:47", "14:48"), ("14:46", "20:01"), ("20:01", "20:02")]
        assert result.stats.gaps == 0 and not h.logged("DATA_GAP")
        assert real_bars(h, at(14, 19), at(14, 40)) == [] and real_bars(h, at(20, 1), at(21, 2)) == []
        assert setup_events(h.store) == replayed_events(h, tmp_path, at(21, 0)), "the live log is the replay's"


def test_the_minute_timer_holds_the_minute_of_a_silence_too(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # The clock on its own at 60x (no lockstep): the minute timer, at each close, notices the silence.
        h = start_harness(stack, tmp_path, "short_setup", speed=60.0, start=at(15, 12), lockstep=False)
        fed: list[Candle] = []
        h.gateway.mute_between(SILENT_FROM, RESUMES["into-the-next-minute"])
        h.session(until=at(15, 18), stale_after=3600, silence_after=30.0,
                  on={EventType.CANDLE_COMPLETED: lambda event: fed.append(event.payload)})
        fed = [candle for candle in fed if candle.ts < at(15, 17)]
        market = h.gateway.gateway.server.market.candles_between(fed[0].ts, at(15, 17))
        assert SILENT_MINUTE in [candle.ts for candle in fed]
        assert bars(fed) == bars(market), "the tracker got the market's bars, never the partial one of 15:14"
        assert_each_minute_fed_once(fed)
        assert [silent["held_from"] for silent in h.logged("FEED_SILENT")] == ["2026-01-06T15:14:00Z"]


def test_a_silence_held_on_the_session_clock_gives_the_same_stored_run_at_1000x_and_max(tmp_path: Path) -> None:
    # The hold is judged at each lockstep step's virtual time, so a silence changes the run alike at any
    # speed. The threshold is set: by default it is SLOB_STALE_AFTER real seconds' worth (30,000 s at 1000x).
    stores = []
    for speed in (1000.0, "max"):
        with ExitStack() as stack:
            (tmp_path / str(speed)).mkdir()
            h = start_harness(stack, tmp_path / str(speed), "short_setup", speed=speed, start=at(15, 10))
            h.gateway.mute_between(SILENT_FROM, RESUMES["into-the-next-minute"])
            result = h.session(until=END, silence_after=30.0)
            [held] = h.logged("FEED_SILENT")
            assert held["held_from"] == "2026-01-06T15:14:00Z" and 30 < held["silent_seconds"] <= 62
            assert result.stats.backfilled_candles >= 2 and not h.logged("DATA_GAP")
            assert [row["id"] for row in h.completed_setups()] == [SETUP]
            stores.append(h.store.path)
    assert table_differences(*stores) == [], "the same seed and silence give the same stored run at 1000x and max"
