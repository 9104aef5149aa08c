"""Setup states, the transition table, and invalidation reasons (STRATEGY.md §5.1-§5.2)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType


class SetupState(str, Enum):
    """Where one candidate stands."""

    WATCHING_LIQ1 = "WATCHING_LIQ1"
    WATCHING_CONSOL = "WATCHING_CONSOL"
    WATCHING_LIQ2 = "WATCHING_LIQ2"
    WAITING_ENTRY = "WAITING_ENTRY"
    SETUP_COMPLETE = "SETUP_COMPLETE"
    INVALIDATED = "INVALIDATED"

    @property
    def terminal(self) -> bool:
        """Return True for SETUP_COMPLETE and INVALIDATED."""
        return self in TERMINAL_STATES


class InvalidationReason(str, Enum):
    """Why a candidate died."""

    CONSOL_RANGE_INVALID = "CONSOL_RANGE_INVALID"
    CONSOL_TIMEOUT = "CONSOL_TIMEOUT"
    GAP_DETECTED = "GAP_DETECTED"
    RETRACEMENT_EXCEEDED = "RETRACEMENT_EXCEEDED"
    ENTRY_TIMEOUT = "ENTRY_TIMEOUT"
    NEGATIVE_RISK_REWARD = "NEGATIVE_RISK_REWARD"
    MARKET_CLOSED = "MARKET_CLOSED"


class ResetReason(str, Enum):
    """Why a structure was re-anchored on a break of its first level (the candidate lives on)."""

    NEW_HIGH = "new_high"  # no LOW in the band yet: price simply made a new extreme
    PREMATURE = "premature"  # a structure in the band existed, but confirmation or timing failed
    NO_NOWICK = "no_nowick"  # every LIQ #2 condition held except a no-wick candle


TERMINAL_STATES = frozenset({SetupState.SETUP_COMPLETE, SetupState.INVALIDATED})
# The states a candidate can have: WATCHING_LIQ1 is the per-side state before one exists (never stored).
CANDIDATE_STATES = tuple(state for state in SetupState if state is not SetupState.WATCHING_LIQ1)
_ALIVE = (SetupState.WATCHING_CONSOL, SetupState.WATCHING_LIQ2, SetupState.WAITING_ENTRY)

TRANSITIONS: Mapping[SetupState, frozenset[SetupState]] = MappingProxyType(
    {
        SetupState.WATCHING_LIQ1: frozenset({SetupState.WATCHING_CONSOL}),
        SetupState.WATCHING_CONSOL: frozenset({SetupState.WATCHING_LIQ2, SetupState.INVALIDATED}),
        SetupState.WATCHING_LIQ2: frozenset(
            {SetupState.WATCHING_CONSOL, SetupState.WAITING_ENTRY, SetupState.INVALIDATED}
        ),
        SetupState.WAITING_ENTRY: frozenset({SetupState.SETUP_COMPLETE, SetupState.INVALIDATED}),
        SetupState.SETUP_COMPLETE: frozenset(),
        SetupState.INVALIDATED: frozenset(),
    }
)


class IllegalTransition(RuntimeError):
    """A state change the transition table does not allow: a bug, never bad market data."""


def check_transition(current: SetupState, target: SetupState) -> SetupState:
    """Return target when the table allows current -> target; raise IllegalTransition otherwise."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"illegal setup transition {current.value} -> {target.value}")
    return target
