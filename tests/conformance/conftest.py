"""Fixtures of the conformance suite: simulated gateways in background threads for ibapi's threads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from slob_cli.sim.gateway import SimGatewayThread
from tests.sim.helpers import BUSY_START


@pytest.fixture(scope="module")
def shared_gateway() -> Iterator[SimGatewayThread]:
    """Return one gateway for the read-only checks of a module (market data, contracts, history)."""
    with SimGatewayThread(start=BUSY_START, speed="max", seed=5) as gateway:
        yield gateway


@pytest.fixture
def gateway() -> Iterator[SimGatewayThread]:
    """Return a fresh gateway for a test that trades (its orders and positions stay its own)."""
    with SimGatewayThread(start=BUSY_START, speed="max", seed=3) as fresh:
        yield fresh
