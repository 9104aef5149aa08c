"""Helpers for driving the simulated gateway with the real ib_async client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar

from ib_async import IB

UTC = timezone.utc
# A Tuesday, five minutes before the New York open: a busy market.
BUSY_START = datetime(2026, 3, 10, 13, 25, tzinfo=UTC)
T = TypeVar("T")


def run(coroutine: Awaitable[T], timeout: float = 30.0) -> T:
    """Run one async test body on a fresh loop, with an overall timeout."""

    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


async def connect(host: str, port: int, client_id: int = 1, timeout: float = 3.0, **options: object) -> IB:
    """Return a connected ib_async IB (the whole startup sync included)."""
    ib = IB()
    await ib.connectAsync(host, port, clientId=client_id, timeout=timeout, **options)
    return ib


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait on the running loop until predicate() holds (no fixed sleeps)."""
    from tests.conftest import eventually_async

    await eventually_async(predicate, timeout=timeout)
