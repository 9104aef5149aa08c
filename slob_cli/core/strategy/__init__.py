"""The 5/1 SLOB setup tracker: configuration, events, states and the state machine."""

from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import EventType, SetupEvent
from slob_cli.core.strategy.states import (
    TRANSITIONS,
    IllegalTransition,
    InvalidationReason,
    ResetReason,
    SetupState,
    check_transition,
)
from slob_cli.core.strategy.tracker import CandidateView, ReferenceWindow, SetupTracker

__all__ = [
    "TRANSITIONS",
    "CandidateView",
    "EventType",
    "IllegalTransition",
    "InvalidationReason",
    "ReferenceWindow",
    "ResetReason",
    "SetupEvent",
    "SetupState",
    "SetupTracker",
    "StrategyConfig",
    "check_transition",
]
