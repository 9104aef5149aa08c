"""The tracker's clock rules fire from the engine's clock on a quiet market, where no bar would fire them.

The planted day trades its reference window until 14:19, then nothing until 14:40: the levels must
freeze at the open (14:30) all the same. The 14:40 bar breaks the LSE high (SHORT S1), six bars
confirm its HIGH (14:41), then nothing until 20:00: S1's consolidation runs out at 16:41 (120
minutes) from the clock, hours before the next bar. The 20:00 bar breaks the LSE low (LONG L1), then
nothing until the session end: L1 dies MARKET_CLOSED at 21:00, and no bar ever comes after it.
Without the engine driving `LiveTracking.on_time` from its clock, the freeze would wait for the 14:40
bar, the timeout for the 20:00 bar, and the session end would never come.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from typing import Any

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.models import Candle
from slob_cli.core.strategy.events import SetupEvent
from slob_cli.runtime.events import Event, EventType
from slob_cli.sim.scenarios import DayBuilder
from tests.e2e.harness import DAY, Harness, at, start_planted

SHORT, LONG = "NQ-20260106-S1", "NQ-20260106-L1"


def quiet_day() -> list[Candle]:
    """Return the planted day of the module docstring."""
    builder = DayBuilder(DAY, "NQ", load_calendar(date(2025, 12, 1), date(2026, 2, 28)))
    builder.reference(25060.0, 24940.0, seed=3, bars=builder.session.reference_minutes - 11)  # 08:00-14:18
    builder.bar(10, 25050.0, 25070.0, 25048.0, 25066.0)  # 14:40: above the LSE high 25 060
    builder.walk(11, [25062.0, 25058.0, 25061.0, 25057.0, 25059.0, 25060.0])  # 14:41-14:46: HIGH 14:41 confirmed
    builder.bar(330, 24950.0, 24952.0, 24930.0, 24935.0)  # 20:00: below the LSE low 24 940
    return builder.candles()


def watch_setup_events(h: Harness, seen: list[tuple[SetupEvent, datetime]]) -> dict[EventType, object]:
    """Return bus handlers that note each tracker event with the engine clock's reading when it came."""
    def note(event: Event) -> None:
        seen.append((event.payload, h.gateway.clock.now()))

    return {EventType.SETUP_EVENT: note}


def late_clock_events(seen: list[tuple[SetupEvent, datetime]]) -> dict[tuple[str, str | None, str | None], Any]:
    """Return the clock-fired events of the quiet day that came outside their minute, with when they came."""
    came = {(event.type.value, event.candidate_id, event.data.get("reason")): when for event, when in seen}
    # Each within its minute plus the candle grace, not at the next bar (14:40 closes at 14:41, 20:00 at 20:01).
    due = {("LSE_LEVELS_FROZEN", None, None): (at(14, 30), at(14, 31)),
           ("SETUP_INVALIDATED", SHORT, "CONSOL_TIMEOUT"): (at(16, 42), at(16, 43)),
           ("SETUP_INVALIDATED", LONG, "MARKET_CLOSED"): (at(21, 0), at(21, 1))}
    return {key: came.get(key) for key, (earliest, latest) in due.items()
            if not earliest < (came.get(key) or latest) < latest}


def real_bars(h: Harness, start: datetime, end: datetime) -> list[datetime]:
    """Return the labels of the stored candles in [start, end) that had trades."""
    return [candle.ts for candle in h.store.candles("NQ", start, end) if candle.tick_count > 0]


def test_levels_freeze_timeouts_and_the_session_end_come_from_the_clock_on_a_quiet_market(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_planted(stack, tmp_path, quiet_day())  # lockstep: the engine's clock steps the gateway's
        seen: list[tuple[SetupEvent, datetime]] = []
        h.session(until=at(21, 2), stale_after=3600, on=watch_setup_events(h, seen))

        assert late_clock_events(seen) == {}, "engine clock readings when the events came (None: never)"
        # No bar came in those stretches: the clock alone moved the tracker.
        assert real_bars(h, at(14, 19), at(14, 40)) == []
        assert real_bars(h, at(14, 47), at(20, 0)) == []
        assert real_bars(h, at(20, 1), at(21, 2)) == []

        [levels] = [json.loads(row["data"]) for row in h.store.db.query(
            "SELECT data FROM setup_events WHERE type='LSE_LEVELS_FROZEN'")]
        assert (levels["high"], levels["low"], levels["bars"]) == (25060.0, 24940.0, 379)
        states = {row["id"]: (row["state"], row["invalidation_reason"]) for row in h.store.db.query(
            "SELECT id, state, invalidation_reason FROM setups ORDER BY id")}
        assert states == {LONG: ("INVALIDATED", "MARKET_CLOSED"), SHORT: ("INVALIDATED", "CONSOL_TIMEOUT")}
        labels = {(event.candidate_id, event.type.value): event.bar_time for event, _ in seen}
        assert labels[(SHORT, "SETUP_INVALIDATED")] == at(16, 41) and labels[(LONG, "SETUP_INVALIDATED")] == at(21, 0)


def test_the_minute_timer_freezes_the_levels_at_the_open_of_a_quiet_market(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # The clock on its own at 60x (no lockstep): the engine's minute timer, not its step loop, runs the rules.
        h = start_planted(stack, tmp_path, quiet_day(), speed=60.0, start=at(14, 27), lockstep=False)
        seen: list[tuple[SetupEvent, datetime]] = []
        h.session(until=at(14, 33), stale_after=3600, on=watch_setup_events(h, seen))
        [(frozen, when)] = [(event, when) for event, when in seen if event.type.value == "LSE_LEVELS_FROZEN"]
        assert at(14, 30) < when < at(14, 40), "frozen by the timer, long before the 14:40 bar"
        assert frozen.data["bars"] == 379 and real_bars(h, at(14, 19), at(14, 33)) == []
