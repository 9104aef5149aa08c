"""Named failpoints: places where a test can make the process 'die' to prove crash safety.

Production code calls `hit(name)` at the dangerous moments (after an intent is written, before it
is sent, ...). Nothing happens unless a test armed that name with `arm(name)`, in which case
`SimulatedCrash` (a BaseException, so no `except Exception` swallows it) unwinds the engine
without any graceful shutdown, like a SIGKILL would: whatever was committed to SQLite stays, the
rest of the process state is gone.
"""

from __future__ import annotations

import time

_armed: set[str] = set()
tripped: str | None = None  # the failpoint that fired; the engine dies at its next step
_delays: dict[str, float] = {}

POINTS = ("after_intent", "after_send", "after_entry_fill")


class SimulatedCrash(BaseException):
    """Raised by an armed failpoint."""


def arm(name: str) -> None:
    """Make the next `hit(name)` raise SimulatedCrash (tests only)."""
    if name not in POINTS:
        raise ValueError(f"unknown failpoint {name!r} (known: {', '.join(POINTS)})")
    _armed.add(name)


def disarm_all() -> None:
    """Disarm every failpoint and delay, and forget a trip."""
    global tripped
    _armed.clear()
    _delays.clear()
    tripped = None


def slow_down(name: str, seconds: float) -> None:
    """Make every `delay(name)` block for `seconds` of real time (a slow consumer; tests only)."""
    _delays[name] = seconds


def delay(name: str) -> None:
    """Block the calling thread for the delay a test set for this name (nothing otherwise)."""
    if _delays:
        seconds = _delays.get(name)
        if seconds:
            time.sleep(seconds)


def hit(name: str) -> None:
    """Crash here when a test armed this failpoint (once)."""
    global tripped
    if tripped is not None:
        raise SimulatedCrash(tripped)
    if name in _armed:
        _armed.discard(name)
        tripped = name
        raise SimulatedCrash(name)


def check() -> None:
    """Raise SimulatedCrash if a failpoint fired (for loops that outlive the callback that tripped it)."""
    if tripped is not None:
        raise SimulatedCrash(tripped)
