"""Events the setup tracker emits (STRATEGY.md §5.4), frozen and JSON-able."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import Enum
from typing import Any

from slob_cli.core.models import Direction
from slob_cli.core.timefmt import iso_z


class EventType(str, Enum):
    """Kinds of tracker events; the last block are day-level warnings."""

    LSE_LEVELS_FROZEN = "LSE_LEVELS_FROZEN"
    LIQ1_DETECTED = "LIQ1_DETECTED"
    HIGH_SET = "HIGH_SET"
    HIGH_CONFIRMED = "HIGH_CONFIRMED"
    LOW_SET = "LOW_SET"
    LOW_CONFIRMED = "LOW_CONFIRMED"
    STRUCTURE_RESET = "STRUCTURE_RESET"
    ARMED = "ARMED"
    DISARMED = "DISARMED"
    LIQ2_DETECTED = "LIQ2_DETECTED"
    SETUP_COMPLETE = "SETUP_COMPLETE"
    SETUP_SKIPPED = "SETUP_SKIPPED"  # emitted by the risk manager, never by the tracker
    SETUP_INVALIDATED = "SETUP_INVALIDATED"
    REFERENCE_COVERAGE_LOW = "REFERENCE_COVERAGE_LOW"
    NO_REFERENCE_DATA = "NO_REFERENCE_DATA"


# The keys of an event's data that hold a price (docs/strategy.md's event fields): `setups show` and the
# alerts write these as every price is written (core/pnl.price_text), the JSON keeps the numbers.
PRICE_FIELDS = frozenset({"price", "previous", "level", "limit", "high", "low", "nwc_low", "nwc_high",
                          "entry_est", "sl", "tp"})


@dataclass(frozen=True, slots=True)
class SetupEvent:
    """One thing that happened to a trading day or to one candidate, at one bar (or clock instant)."""

    type: EventType
    symbol: str
    trading_date: date
    bar_time: datetime
    candidate_id: str | None
    direction: Direction | None
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return a stable JSON-able dict (data keys sorted) for persistence and comparisons."""
        return {
            "type": self.type.value,
            "symbol": self.symbol,
            "trading_date": self.trading_date.isoformat(),
            "bar_time": iso_z(self.bar_time),
            "candidate_id": self.candidate_id,
            "direction": self.direction.value if self.direction is not None else None,
            "data": {key: self.data[key] for key in sorted(self.data)},
        }


# The tracker makes an event for every rule that fires: tens of thousands in a replayed year. A
# frozen dataclass's __init__ stores each field through object.__setattr__ (a lookup and a bound
# method per field); storing through the slots' own descriptors makes the same object in less than
# half the time. SetupEvent has no __post_init__ for this to skip (tests/core/test_setup_events.py).
_SET_TYPE, _SET_SYMBOL, _SET_TRADING_DATE, _SET_BAR_TIME, _SET_CANDIDATE_ID, _SET_DIRECTION, _SET_DATA = (
    getattr(SetupEvent, item.name).__set__ for item in fields(SetupEvent))


def new_event(
    type: EventType, symbol: str, trading_date: date, bar_time: datetime,  # noqa: A002 (the field's name)
    candidate_id: str | None, direction: Direction | None, data: Mapping[str, Any],
) -> SetupEvent:
    """Return SetupEvent(type, symbol, trading_date, bar_time, candidate_id, direction, data), made faster."""
    event: SetupEvent = object.__new__(SetupEvent)
    _SET_TYPE(event, type)
    _SET_SYMBOL(event, symbol)
    _SET_TRADING_DATE(event, trading_date)
    _SET_BAR_TIME(event, bar_time)
    _SET_CANDIDATE_ID(event, candidate_id)
    _SET_DIRECTION(event, direction)
    _SET_DATA(event, data)
    return event
