"""SimGatewayProcess: the simulated gateway as a `slob sim-gateway` subprocess, faults over its control channel."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from slob_cli.sim.protocol import MAX_SERVER_VERSION


class SimGatewayProcess:
    """Run `python -m slob_cli sim-gateway` on free ports; usable as `with` or `async with`."""

    def __init__(self, seed: int = 0, scenario: str | None = None, start: datetime | str | None = None,
                 speed: float | str = 1.0, replay: Path | str | None = None, delayed: bool = False,
                 server_version: int = MAX_SERVER_VERSION, live_account: bool = False,
                 accounts: Sequence[str] = ("DU1234567",), lockstep: bool = False) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.ctrl_port = 0
        arguments = ["--port", "0", "--ctrl-port", "0", "--seed", str(seed), "--speed", str(speed),
                     "--server-version", str(server_version)]
        if scenario:
            arguments += ["--scenario", scenario]
        if start is not None:
            arguments += ["--start", start if isinstance(start, str) else start.isoformat()]
        if replay is not None:
            arguments += ["--replay", str(replay)]
        if delayed:
            arguments.append("--delayed")
        if live_account:
            arguments.append("--live-account")
        if lockstep:
            arguments.append("--lockstep")
        for account in accounts:
            arguments += ["--account", account]
        self.arguments = arguments
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SimGatewayProcess:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> SimGatewayProcess:
        self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        """Start the subprocess and read the ports from its banner."""
        command = [sys.executable, "-m", "slob_cli", "--log-level", "WARNING", "sim-gateway", *self.arguments]
        self._stderr = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a full pipe would block the child
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                        env=dict(os.environ))
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if match := re.search(r"listening on 127\.0\.0\.1:(\d+)", line):
                self.port = int(match.group(1))
            if match := re.search(r"JSON lines on 127\.0\.0\.1:(\d+)", line):
                self.ctrl_port = int(match.group(1))
            if line.startswith("Press Ctrl-C"):
                return
        self.process.wait(timeout=10)
        self._stderr.seek(0)
        error = self._stderr.read()
        raise RuntimeError(f"the simulated gateway did not start: {error.strip()}")

    def stop(self) -> int | None:
        """Send SIGTERM and return the exit code."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def command(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Send one control command and return the reply; raise RuntimeError when refused."""
        with socket.create_connection((self.host, self.ctrl_port), timeout=10) as connection:
            connection.sendall((json.dumps({"cmd": name, **arguments}) + "\n").encode())
            reply = json.loads(connection.makefile().readline())
        if not reply.get("ok"):
            raise RuntimeError(f"control command {name!r} refused: {reply.get('error')}")
        return dict(reply)

    def drop_connections(self, rst: bool = False) -> None:
        """Close every client connection (FIN, or RST)."""
        self.command("drop", rst=rst)

    def set_silent(self, on: bool) -> None:
        """Stop or resume answering."""
        self.command("silent", on=on)

    def set_muted(self, on: bool) -> None:
        """Stop or resume streaming market data (requests are still answered)."""
        self.command("mute", on=on)

    def mute_between(self, start: datetime, end: datetime) -> None:
        """Stream none of the trades printed from start to end (exclusive)."""
        self.command("mute_between", **{"from": start.isoformat(), "to": end.isoformat()})

    def send_error(self, code: int, req_id: int = -1, message: str | None = None) -> None:
        """Send an error or notice to every client."""
        self.command("error", code=code, req_id=req_id, message=message)

    def reject_next_order(self, reason: str = "simulated rejection") -> None:
        """Reject the next order placed."""
        self.command("reject_next", reason=reason)

    def partial_fill_next(self, qty: float, hold_rest: bool = False) -> None:
        """Fill only qty of the next fill (with hold_rest, the rest of that order never fills)."""
        self.command("partial_next", qty=qty, hold_rest=hold_rest)

    def withhold_fills(self, on: bool = True) -> None:
        """While on, orders work but nothing fills."""
        self.command("withhold", on=on)

    def pause_market(self) -> None:
        """Freeze the clock and the market."""
        self.command("pause")

    def resume_market(self) -> None:
        """Let the clock and the market run again."""
        self.command("resume")

    def jump_price(self, points: float) -> None:
        """Shift every price from now on by points."""
        self.command("jump", points=points)

    def advance_market(self, until: datetime) -> datetime:
        """Let the market run to `until` while no client drives the clock; return the new time."""
        return datetime.fromisoformat(self.command("advance", to=until.isoformat())["time"])

    def restart(self, down_for_seconds: float) -> None:
        """Begin a restart: connections refused for down_for_seconds, state kept."""
        self.command("restart", down_for=down_for_seconds)

    def orders(self, open_only: bool = False) -> list[dict[str, Any]]:
        """Return the broker's working (and, unless open_only, completed) orders."""
        return list(self.command("orders", open_only=open_only)["orders"])

    def positions(self) -> list[dict[str, Any]]:
        """Return the broker's positions (flat ones included)."""
        return list(self.command("positions")["positions"])

    def status(self) -> dict[str, Any]:
        """Return the gateway's status (port, time, clients, listening)."""
        return self.command("status")
