"""Run a slob command in a process of its own with a hurried gateway heartbeat.

Usage: python -m tests.e2e.hurried_heartbeat INTERVAL TIMEOUT SLOB-ARGUMENTS...: the session asks the
gateway for its time every INTERVAL real seconds and gives up on an answer after TIMEOUT (30 s and 10 s
in production, no setting), so a test sees a hung gateway noticed within seconds.
"""

from __future__ import annotations

import sys
from typing import Any

from slob_cli.adapters.ib.config import GatewayConfig
from slob_cli.cli.main import app


def main(interval: float, timeout: float, arguments: list[str]) -> None:
    """Run `slob ARGUMENTS` with every GatewayConfig built from settings on this heartbeat."""
    built = GatewayConfig.from_settings.__func__  # type: ignore[attr-defined]

    def hurried(cls: type[GatewayConfig], settings: Any, **overrides: Any) -> GatewayConfig:
        return built(cls, settings, **{"heartbeat_interval": interval, "heartbeat_timeout": timeout, **overrides})

    GatewayConfig.from_settings = classmethod(hurried)  # type: ignore[method-assign, assignment]
    app(arguments, prog_name="slob")


if __name__ == "__main__":
    main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3:])
