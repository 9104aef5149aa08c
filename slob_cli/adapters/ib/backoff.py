"""Reconnect schedule: exponential backoff with jitter, and the circuit breaker that opens safe mode."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delays 1, 2, 4 ... capped at 60 s, each spread by +/- jitter (a fraction)."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.1
    breaker_after: int = 10

    def nominal(self, attempt: int) -> float:
        """Return the delay before retry `attempt` (1-based) without jitter."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        return min(self.cap, self.base * self.factor ** (attempt - 1))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Return the jittered delay before retry `attempt` (1-based)."""
        nominal = self.nominal(attempt)
        return max(0.0, nominal * (1.0 + rng.uniform(-self.jitter, self.jitter)))

    def bounds(self, attempt: int) -> tuple[float, float]:
        """Return the smallest and largest delay `delay(attempt)` can produce."""
        nominal = self.nominal(attempt)
        return nominal * (1.0 - self.jitter), nominal * (1.0 + self.jitter)


class CircuitBreaker:
    """Count consecutive failed connection attempts; trip once when the limit is reached."""

    def __init__(self, limit: int = 10) -> None:
        self.limit = limit
        self.failures = 0
        self.tripped = False

    def failure(self) -> bool:
        """Record a failed attempt; return True exactly when this failure trips the breaker."""
        self.failures += 1
        if not self.tripped and self.failures >= self.limit:
            self.tripped = True
            return True
        return False

    def success(self) -> None:
        """Reset the failure count after a successful connection (a trip stays recorded)."""
        self.failures = 0
