"""`new_event` (the tracker's fast constructor) makes exactly what `SetupEvent(...)` makes."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest

from slob_cli.core.models import Direction
from slob_cli.core.strategy.events import EventType, SetupEvent, new_event

ARGUMENTS = [
    (EventType.HIGH_SET, "NQ", date(2026, 1, 6), datetime(2026, 1, 6, 14, 31, tzinfo=timezone.utc), "NQ-20260106-S1",
     Direction.SHORT, {"price": 20000.25}),
    (EventType.LSE_LEVELS_FROZEN, "MNQ", date(2026, 3, 9), datetime(2026, 3, 9, 13, 30, tzinfo=timezone.utc), None,
     None, {"high": 1.0, "low": 0.5, "bars": 3}),
]


@pytest.mark.parametrize("arguments", ARGUMENTS, ids=["candidate", "day"])
def test_new_event_is_the_dataclass_constructors_event(arguments: tuple) -> None:
    made, built = new_event(*arguments), SetupEvent(*arguments)
    assert type(made) is SetupEvent
    assert made == built and repr(made) == repr(built)
    assert made.to_dict() == built.to_dict()
    assert dataclasses.astuple(made) == arguments
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.symbol = "ES"  # type: ignore[misc]


def test_setup_event_has_no_post_init_that_new_event_would_skip() -> None:
    assert not hasattr(SetupEvent, "__post_init__")
    assert [item.name for item in dataclasses.fields(SetupEvent)] == [
        "type", "symbol", "trading_date", "bar_time", "candidate_id", "direction", "data"]
