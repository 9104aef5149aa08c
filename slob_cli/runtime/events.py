"""Typed events carried by the event bus."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class EventType(str, Enum):
    """Every kind of event the runtime publishes; the payload type is noted per member."""

    TICK_RECEIVED = "tick_received"  # Tick
    CANDLE_COMPLETED = "candle_completed"  # Candle
    GAP_DETECTED = "gap_detected"  # core.aggregator.GapDetected
    LATE_TICK = "late_tick"  # Tick
    TICKS_DROPPED = "ticks_dropped"  # dict(symbol, ts, count)
    SETUP_EVENT = "setup_event"  # the tracker's SetupEvent, whatever its kind
    SETUP_DETECTED = "setup_detected"  # setup (tracker object)
    SETUP_INVALIDATED = "setup_invalidated"  # setup (tracker object)
    ORDER_PLACED = "order_placed"
    ORDER_FILLED = "order_filled"
    ORDER_REJECTED = "order_rejected"
    ORDER_CANCELLED = "order_cancelled"
    POSITION_OPENED = "position_opened"
    POSITION_CLOSED = "position_closed"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    CIRCUIT_BREAKER_TRIGGERED = "circuit_breaker_triggered"
    SAFE_MODE_ENTERED = "safe_mode_entered"
    SAFE_MODE_EXITED = "safe_mode_exited"
    HEALTH = "health"  # dict of health figures
    ALERT = "alert"  # dict(level, message)
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class Event:
    """One published event: its type, a payload, and the data time it refers to (UTC, optional)."""

    type: EventType
    payload: Any = None
    ts: datetime | None = None
    source: str = ""
