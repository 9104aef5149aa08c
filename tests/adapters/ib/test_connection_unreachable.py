"""The connection manager against a port where nothing listens (real sockets, no gateway needed)."""

from __future__ import annotations

import asyncio
import random
import socket

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection, trading_mode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ten_refused_attempts_enter_safe_mode_after_the_backoff_schedule() -> None:
    events: list[tuple[str, dict]] = []
    slept: list[float] = []

    async def scenario() -> IBConnection:
        stop = asyncio.Event()

        async def fake_sleep(delay: float) -> None:
            slept.append(delay)
            if len(slept) >= 11:
                stop.set()

        connection = IBConnection(GatewayConfig(port=_free_port(), connect_timeout=2.0),
                                  lambda kind, payload: events.append((kind, payload)),
                                  policy=BackoffPolicy(jitter=0.1), sleep=fake_sleep, rng=random.Random(3))
        await asyncio.wait_for(connection.run(stop), 20)
        return connection

    connection = asyncio.run(scenario())
    nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    assert all(n * 0.9 <= d <= n * 1.1 for n, d in zip(nominal, slept, strict=True))
    kinds = [kind for kind, _ in events]
    assert kinds.count("SAFE_MODE_ENTERED") == 1
    assert kinds[:11] == ["IB_CONNECT_FAILED"] * 10 + ["SAFE_MODE_ENTERED"]  # right after the tenth failure
    assert connection.safe_mode and not connection.orders_allowed
    failed = [payload for kind, payload in events if kind == "IB_CONNECT_FAILED"]
    assert "connection refused" in failed[0]["error"].lower()


def test_trading_mode_reads_port_and_account_prefix() -> None:
    assert trading_mode(4002, "DU123456") == ("paper", None)
    assert trading_mode(4001, "U1234567") == ("live", None)
    assert trading_mode(55555, None) == ("unknown", None)
    mode, conflict = trading_mode(4002, "U1234567")
    assert mode == "live" and "4002" in conflict
