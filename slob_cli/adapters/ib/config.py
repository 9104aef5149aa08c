"""Where the gateway is and what kind of login it is: config, paper/live detection, socket helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slob_cli.settings import Settings

PAPER_PORTS = frozenset({4002, 7497})
LIVE_PORTS = frozenset({4001, 7496})


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Where the gateway is and how patiently to talk to it."""

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    account: str | None = None
    connect_timeout: float = 10.0
    heartbeat_interval: float = 30.0
    heartbeat_timeout: float = 10.0
    client_id_attempts: int = 5
    readonly: bool = False
    sync_orders: bool = True
    first_connect_within: float | None = None  # seconds to make the first connection (retries inside), else exit 4

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GatewayConfig:
        """Build the config from validated settings (plus explicit overrides)."""
        values: dict[str, Any] = {
            "host": settings.ib_host, "port": settings.ib_port, "client_id": settings.ib_client_id,
            "account": settings.ib_account, "connect_timeout": settings.ib_connect_timeout,
            "first_connect_within": settings.connect_timeout,
        }
        values.update(overrides)
        return cls(**values)


READ_CHUNK = 32 * 1024


def limit_reads(ib: Any) -> None:
    """Read the socket in small chunks so that one read never holds the loop for long.

    ib_async re-slices its receive buffer once per message, so the cost of one read grows with the
    square of its size; asyncio's default 256 KiB reads held the loop for ~0.4 s under a tick flood
    (bench/record.py), starving the writer and the heartbeat.
    """
    transport = getattr(ib.client.conn, "transport", None)
    if transport is not None and hasattr(transport, "max_size"):
        transport.max_size = READ_CHUNK


def describe_os_error(exc: BaseException) -> str:
    """Return a short lower-case reason for a socket error ("connection refused")."""
    number = getattr(exc, "errno", None)
    if number:
        return os.strerror(number).lower()
    return str(exc) or type(exc).__name__


def trading_mode(port: int, account: str | None) -> tuple[str, str | None]:
    """Return ("paper" | "live" | "unknown", a conflict sentence or None) from port and account prefix."""
    by_port = "paper" if port in PAPER_PORTS else "live" if port in LIVE_PORTS else None
    by_account = None
    if account:
        by_account = "paper" if account.upper().startswith("D") else "live"
    if by_port and by_account and by_port != by_account:
        return by_account, (f"port {port} is the usual {by_port} port but account {account} is a {by_account} account")
    return by_account or by_port or "unknown", None
