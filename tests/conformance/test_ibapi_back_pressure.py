"""--speed max against IB's official client reading slowly in its own thread: back-pressure per client.

The client here is not a lockstep follower (it never asks reqCurrentTime): the gateway only learns
that it stopped reading from its socket, and must neither flood it nor run ahead of it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from slob_cli.sim.gateway import SimGatewayThread
from slob_cli.sim.session import ClientSession
from tests.conformance.ibapi_client import IbapiApp, nq_future
from tests.conftest import eventually
from tests.sim.helpers import BUSY_START

UTC = timezone.utc
BOUND = 1 << 20  # bytes the gateway may hold for one client: asyncio's 64 KiB mark plus one batch, with room


class Gate(threading.Event):
    """Open: the reader thread reads. Shut: it stops reading; `parked` is set once it waits at the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.parked = threading.Event()


@contextmanager
def slow_reader(gateway: SimGatewayThread, client_id: int) -> Iterator[tuple[IbapiApp, Gate]]:
    """Yield an ibapi app whose reader thread reads only while the returned gate is set."""
    app = IbapiApp()
    app.start(gateway.host, gateway.port, client_id)
    app.conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # a modest receive buffer
    gate = Gate()
    gate.set()
    receive = app.conn.recvMsg

    def gated() -> bytes:
        while not gate.wait(0.2):  # the reader thread's own pace: nothing is read while the gate is shut
            gate.parked.set()  # from here on, nothing more is read until the gate opens
            if not app.isConnected():
                return b""
        gate.parked.clear()
        return receive()

    app.conn.recvMsg = gated  # type: ignore[method-assign]
    try:
        yield app, gate
    finally:
        gate.set()
        app.stop()


def on_loop(gateway: SimGatewayThread, call: Any, turns: int = 0) -> Any:
    """Return call() run on the gateway's loop after letting it turn `turns` times (the pump's chances to run)."""
    async def run() -> Any:
        for _ in range(turns):
            await asyncio.sleep(0)
        return call()

    return gateway._call(run())


def session_of(gateway: SimGatewayThread, client_id: int) -> ClientSession | None:
    """Return the gateway's session of one client id (None once it is gone)."""
    return next((s for s in gateway.gateway.server.sessions if s.client_id == client_id and not s.closed), None)


def buffered(gateway: SimGatewayThread, client_id: int) -> int:
    """Return the bytes the gateway holds for a client in its transport buffer."""
    def size() -> int:
        session = session_of(gateway, client_id)
        return 0 if session is None else session.writer.transport.get_write_buffer_size()

    return on_loop(gateway, size)


def trades(app: IbapiApp) -> list[tuple[int, float, float]]:
    """Return the (epoch second, price, size) of every tickByTickAllLast the app processed, in order."""
    return [(int(args[2]), float(args[3]), float(args[4])) for args in app.of("tickByTickAllLast")]


def test_a_client_that_stops_reading_holds_the_max_speed_gateway_and_then_gets_every_tick_in_order() -> None:
    with SimGatewayThread(start=BUSY_START, speed="max", seed=5) as gateway:
        gateway.gateway.server.served.keep = True
        with slow_reader(gateway, 21) as (app, gate):
            app.reqTickByTickData(2, nq_future("NQH6"), "AllLast", 0, False)
            app.wait(lambda: len(trades(app)) >= 20)
            gate.clear()
            # A read the reader thread had begun before the gate shut can still free the socket later and
            # let the clock run on: measure only once it waits at the gate.
            eventually(gate.parked.is_set, timeout=60)

            def holding() -> bool:
                """Kernel buffers full, then ours past asyncio's high-water mark, and the pump waits: the clock holds.

                The pump stops once the buffer passes 64 KiB, but the kernel may still take a few bytes after
                that, leaving it just under the mark while drain() waits for 16 KiB: so the buffer is only
                asked to be past the low-water mark, and the clock to stand still over 200 loop turns.
                """
                if buffered(gateway, 21) <= 16 * 1024:
                    return False
                before = on_loop(gateway, gateway.gateway.clock.now)
                return bool(on_loop(gateway, gateway.gateway.clock.now, turns=200) == before)

            eventually(holding, timeout=60)
            held = on_loop(gateway, gateway.gateway.clock.now)
            assert on_loop(gateway, gateway.gateway.clock.now, turns=200) == held, "the clock ran on"
            assert buffered(gateway, 21) <= BOUND
            served = on_loop(gateway, lambda: list(gateway.gateway.server.served.ticks))
            seen_while_held = len(trades(app))
            assert seen_while_held < len(served)
            gate.set()
            app.wait(lambda: len(trades(app)) >= len(served), timeout=60)
            assert on_loop(gateway, gateway.gateway.clock.now) > held, "the clock moves again once the client reads"
        expected = [(int(ts.timestamp()), price, size) for ts, price, size in served]
        assert trades(app)[:len(expected)] == expected, "every tick, in order, none lost"


def test_a_client_that_reads_nothing_is_dropped_after_the_patience_and_the_others_go_on() -> None:
    with SimGatewayThread(start=BUSY_START, speed="max", seed=5) as gateway:
        on_loop(gateway, lambda: setattr(gateway.gateway.server, "drain_patience", 1.0))
        with slow_reader(gateway, 31) as (dead, gate), slow_reader(gateway, 32) as (reader, _):
            for app in (dead, reader):
                app.reqTickByTickData(2, nq_future("NQH6"), "AllLast", 0, False)
            dead.wait(lambda: len(trades(dead)) >= 5)
            gate.clear()
            eventually(lambda: on_loop(gateway, lambda: session_of(gateway, 31)) is None, timeout=60)
            start = len(trades(reader))
            reader.wait(lambda: len(trades(reader)) >= start + 500, timeout=60)
            assert on_loop(gateway, lambda: session_of(gateway, 32)) is not None


def test_a_day_order_of_a_client_that_stopped_reading_expires_only_after_it_read_the_ticks_before_the_close() -> None:
    close = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 16:00 New York
    with SimGatewayThread(start=datetime(2026, 3, 10, 19, 45, tzinfo=UTC), speed="max", seed=5) as gateway:
        with slow_reader(gateway, 41) as (app, gate):
            from ibapi.order import Order

            contract = nq_future("NQH6")
            gate.clear()  # the client reads nothing from here on, until told
            order = Order()
            order.action, order.totalQuantity, order.orderType, order.lmtPrice, order.tif = "BUY", 1, "LMT", 1000.0, "DAY"
            order_id = app.next_id()
            app.placeOrder(order_id, contract, order)
            app.reqTickByTickData(2, contract, "AllLast", 0, False)
            eventually(lambda: on_loop(gateway, gateway.gateway.clock.now) >= close or buffered(gateway, 41) > 0,
                       timeout=60)
            assert on_loop(gateway, lambda: len(gateway.gateway.broker.open_orders()), turns=200) == 1, \
                "the order expired while the ticks before the close were still waiting for the client"
            gate.set()
            app.wait_for("orderStatus", where=lambda args: args[0] == order_id and args[1] == "Cancelled", timeout=60)
        calls = [(name, args) for name, args in app.calls if name in ("tickByTickAllLast", "orderStatus")]
    cancelled = next(i for i, (name, args) in enumerate(calls) if name == "orderStatus" and args[1] == "Cancelled")
    before = [args[2] for name, args in calls[:cancelled] if name == "tickByTickAllLast"]
    after = [args[2] for name, args in calls[cancelled:] if name == "tickByTickAllLast"]
    assert before and max(before) < close.timestamp() <= min(after, default=close.timestamp())
