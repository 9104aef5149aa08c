"""A simulated gateway per test (its own thread and loop), started in a busy US session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

BUSY_START = "2026-03-10T14:35Z"  # 10:35 New York: the market trades several times a second


@pytest.fixture
def gateway() -> Iterator[object]:
    """Return a running SimGatewayThread (real TWS protocol over a real socket)."""
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start=BUSY_START, speed=1.0) as running:
        yield running
