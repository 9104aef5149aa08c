"""Helpers for tracker tests: feed candles, and write event sequences compactly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import SetupEvent, SetupTracker, StrategyConfig


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
