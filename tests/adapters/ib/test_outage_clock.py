"""An outage names the clock it is measured on: a followed simulated clock's seconds are not real seconds.

`slob trade --follow-sim-clock 60` runs its clock 60 times real time, so a 0.5 s restart of the
gateway is some 30 s on it: the log line says both, and the `IB_RECONNECTED` event says which clock
its `gap_seconds` are on (the paper report reads outages from the events, on the run's clock).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.runtime.clock import FollowedClock
from slob_cli.sim.gateway import SimGatewayThread
from tests.adapters.ib.conftest import BUSY_START
from tests.conftest import eventually_async

SPEED = 60.0


def _restart_once(gateway: Any, clock: Any) -> list[tuple[str, dict[str, Any]]]:
    """Connect, restart the gateway for 0.5 real seconds, wait for the reconnect; return the events."""
    events: list[tuple[str, dict[str, Any]]] = []

    async def main() -> None:
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=27, sync_orders=False, connect_timeout=5),
                                  lambda kind, payload: events.append((kind, payload)),
                                  policy=BackoffPolicy(base=0.05, cap=0.2), clock=clock)
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.ensure_future(connection.run(stop, ready))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            await eventually_async(lambda: connection.simulated, timeout=10)  # the gateway named its farm
            await asyncio.to_thread(gateway.restart, 0.5)
            await eventually_async(lambda: connection.reconnects == 1, timeout=15)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)

    asyncio.run(main())
    return events


def _reconnected(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    [payload] = [payload for kind, payload in events if kind == "IB_RECONNECTED"]
    return payload


def test_an_outage_on_a_followed_sim_clock_is_called_simulated_seconds_with_the_real_ones_beside(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="slob_cli.adapters.ib.connection")
    with SimGatewayThread(seed=5, start=BUSY_START, speed=SPEED) as gateway:
        payload = _reconnected(_restart_once(gateway, FollowedClock(SPEED)))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconnected to the gateway")]
    found = re.fullmatch(r"reconnected to the gateway after ([\d.]+)s on the simulated clock \(([\d.]+)s real\)", line)
    assert found, line
    simulated, real = float(found[1]), float(found[2])
    assert real >= 0.5 and 0.8 * SPEED <= simulated / real <= 1.2 * SPEED, line
    assert payload["clock"] == "sim" and abs(payload["gap_seconds"] - simulated) < 0.1, payload


def test_an_outage_on_the_wall_clock_is_real_seconds_and_says_nothing_more(
        gateway: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="slob_cli.adapters.ib.connection")
    payload = _reconnected(_restart_once(gateway, None))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconnected to the gateway")]
    assert re.fullmatch(r"reconnected to the gateway after [\d.]+s", line), line
    assert payload["clock"] == "wall" and payload["gap_seconds"] >= 0.5, payload
