"""A line-based JSON control channel (--ctrl-port) that triggers the gateway's faults from outside."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slob_cli.sim.gateway import SimGateway

log = logging.getLogger("slob.sim")
COMMANDS_HELP = ('{"cmd": "status"} | {"cmd": "drop", "rst": false} | {"cmd": "silent", "on": true} | '
                 '{"cmd": "mute", "on": true} | '
                 '{"cmd": "mute_between", "from": "2026-01-06T15:14:20Z", "to": "2026-01-06T15:15:40Z"} | '
                 '{"cmd": "error", "code": 1100, "req_id": -1, "message": null} | '
                 '{"cmd": "reject_next", "reason": "..."} | {"cmd": "withhold", "on": true} | {"cmd": "partial_next", "qty": 1, "hold_rest": false} | {"cmd": "pause"} | '
                 '{"cmd": "resume"} | {"cmd": "restart", "down_for": 5} | {"cmd": "jump", "points": 50} | '
                 '{"cmd": "advance", "to": "2026-01-06T15:40:00Z"} | '
                 '{"cmd": "orders", "open_only": false} | {"cmd": "positions"}')


class ControlError(ValueError):
    """A control command is malformed; the message says what is wrong."""


class ControlServer:
    """Accept JSON lines on 127.0.0.1 and answer each with one JSON line."""

    def __init__(self, gateway: SimGateway, host: str, port: int) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._background: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the control port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("control channel listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Close the control port."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in self._background:
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                reply = await self.execute_line(line.decode(errors="replace"))
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def execute_line(self, line: str) -> dict[str, Any]:
        """Run one command line and return the reply ({"ok": true, ...} or {"ok": false, "error": ...})."""
        try:
            command = json.loads(line)
            if not isinstance(command, dict) or not isinstance(command.get("cmd"), str):
                raise ControlError('a command is a JSON object with a "cmd" string')
            result = await self.execute(command)
        except (json.JSONDecodeError, ControlError, TypeError, ValueError, KeyError) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "usage": COMMANDS_HELP}
        return {"ok": True, **result}

    async def execute(self, command: dict[str, Any]) -> dict[str, Any]:
        """Run one parsed command."""
        gateway = self.gateway
        name = command["cmd"]
        actions: dict[str, Callable[[], object]] = {
            "drop": lambda: gateway.drop_connections(bool(command.get("rst", False))),
            "silent": lambda: gateway.set_silent(bool(command.get("on", True))),
            "mute": lambda: gateway.set_muted(bool(command.get("on", True))),
            "error": lambda: gateway.send_error(int(command["code"]), int(command.get("req_id", -1)),
                                                command.get("message")),
            "reject_next": lambda: gateway.reject_next_order(str(command.get("reason", "simulated rejection"))),
            "partial_next": lambda: gateway.partial_fill_next(float(command["qty"]), bool(command.get("hold_rest", False))),
            "withhold": lambda: gateway.withhold_fills(bool(command.get("on", True))),
            "pause": gateway.pause_market,
            "resume": gateway.resume_market,
            "jump": lambda: gateway.jump_price(float(command["points"])),
        }
        if name == "status":
            return self.status()
        if name == "orders":
            return {"orders": self.orders(bool(command.get("open_only", False)))}
        if name == "positions":
            return {"positions": [{"account": account, "con_id": con_id, "position": quantity, "avg_cost": cost}
                                  for account, con_id, quantity, cost in gateway.broker.positions()]}
        if name == "advance":
            return {"time": (await gateway.advance_market(_instant(command["to"]))).isoformat()}
        if name == "mute_between":
            start, end = _instant(command["from"]), _instant(command["to"])
            if end <= start:
                raise ControlError(f"the span ends ({end.isoformat()}) before it starts ({start.isoformat()})")
            gateway.mute_between(start, end)
            return {"mute_between": [start.isoformat(), end.isoformat()]}
        if name == "restart":
            down_for = float(command.get("down_for", 5))
            self._spawn(gateway.restart(down_for))
            return {"restarting_for": down_for}
        action = actions.get(name)
        if action is None:
            raise ControlError(f"unknown command {name!r}")
        action()
        return {}

    def status(self) -> dict[str, Any]:
        """Return where the gateway listens, its time and its clients."""
        gateway = self.gateway
        return {"host": gateway.host, "port": gateway.port, "time": gateway.clock.now().isoformat(),
                "paused": gateway.clock.paused, "clients": gateway.client_count,
                "muted": gateway.server.muted, "mute_between": _span(gateway.server.mute_span),
                "connections_accepted": gateway.server.connections_accepted, "listening": gateway.server.listening,
                "served": gateway.server.served.as_dict(),
                "lockstep": None if gateway.server.lockstep is None else {
                    "steps": gateway.server.lockstep.steps, "followers": gateway.server.lockstep.followers}}

    def orders(self, open_only: bool) -> list[dict[str, Any]]:
        """Return the broker's working orders (and, unless open_only, its completed ones) as plain dicts."""
        broker = self.gateway.broker
        held = broker.open_orders() + ([] if open_only else broker.completed_orders())
        return [{"order_id": o.order_id, "client_id": o.client_id, "order_ref": o.order_ref, "action": o.action,
                 "order_type": o.order_type, "quantity": o.quantity, "filled": o.filled, "status": o.status,
                 "limit_price": o.limit_price, "stop_price": o.stop_price, "parent_id": o.parent_id}
                for o in held]

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _instant(text: object) -> datetime:
    """Return an ISO-8601 instant with its zone; a naive or malformed one is a ControlError."""
    when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ControlError(f"{text} has no time zone")
    return when


def _span(span: tuple[datetime, datetime] | None) -> list[str] | None:
    return None if span is None else [span[0].isoformat(), span[1].isoformat()]


async def send_command(host: str, port: int, command: dict[str, Any]) -> dict[str, Any]:
    """Send one command to a running gateway's control channel and return its reply."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write((json.dumps(command) + "\n").encode())
        await writer.drain()
        return dict(json.loads(await reader.readline()))
    finally:
        writer.close()
