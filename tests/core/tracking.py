"""Helpers for tracker tests: feed candles, and write event sequences compactly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import SetupEvent, SetupTracker, StrategyConfig
from slob_cli.sim.scenarios import DayBuilder


def replay(candles: Iterable[Candle], config: StrategyConfig | None = None, calendar: TradingCalendar | None = None,
           until: datetime | None = None) -> tuple[list[SetupEvent], SetupTracker]:
    """Feed candles one by one (then the clock, when `until` is given); return all events and the tracker."""
    tracker = SetupTracker("NQ", config or StrategyConfig(), calendar or TradingCalendar())
    events: list[SetupEvent] = []
    for candle in candles:
        events.extend(tracker.on_candle(candle))
    if until is not None:
        events.extend(tracker.on_time(until))
    return events, tracker


def brief(events: Iterable[SetupEvent], *keys: str) -> list[tuple[Any, ...]]:
    """Return (HH:MM UTC, type, candidate suffix, data[keys]...) per event."""
    rows = []
    for event in events:
        suffix = event.candidate_id.rsplit("-", 1)[1] if event.candidate_id else None
        rows.append((event.bar_time.strftime("%H:%M"), event.type.value, suffix,
                     *(event.data.get(key) for key in keys)))
    return rows


def of(events: Iterable[SetupEvent], suffix: str) -> list[SetupEvent]:
    """Return the events of one candidate (by id suffix such as 'S1')."""
    return [event for event in events if event.candidate_id and event.candidate_id.endswith("-" + suffix)]


def short_day(day: date | None = None, calendar: TradingCalendar | None = None) -> DayBuilder:
    """Return the compact SHORT template (minutes from the open, H = 20 000, L = 19 970 = 0.15 %).

    m0 LIQ #1 (19 960 > LSE high 19 950), m1 HIGH 20 000, m2 LOW 19 970, m5 LOW confirmed,
    m6 HIGH confirmed + armed, m16 no-wick candle (low 19 979.75), m17 LIQ #2 (high 20 005),
    m18 trigger (close 19 976): SL 20 006, TP 19 937 (swing low of m0 - 1), R:R 39/30 = 1.3.
    """
    builder = DayBuilder(day or date(2026, 1, 6), "NQ", calendar)
    builder.reference(19950.0, 19850.0, seed=3)
    builder.bar(-2, 19940, 19945, 19939, 19942).bar(-1, 19942, 19946, 19940, 19940)
    builder.bar(0, 19940, 19960, 19938, 19955)  # LIQ #1
    builder.bar(1, 19955, 20000, 19940, 19990)  # internal HIGH (lower wick 15 > 20 % of body 35: no NWC)
    builder.bar(2, 19990, 19992, 19970, 19975)  # internal LOW, depth 0.15 %
    builder.hold(3, 13, 19980.0)  # m3..m15 dojis 19 979-19 981
    builder.bar(16, 19980, 19990, 19979.75, 19990)  # no-wick candle: wick 0.25 / body 10
    builder.bar(17, 19990, 20005, 19985, 19988)  # LIQ #2
    builder.bar(18, 19988, 19990, 19975, 19976)  # trigger: close < 19 979.75
    return builder
