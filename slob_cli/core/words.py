"""Pure wording shared by every surface (core/ may use it too: runtime/views re-exports it)."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """Return a count with its noun, singular for one: "1 day", "6 days", "1,204 candles"."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
