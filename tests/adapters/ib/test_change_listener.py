"""IBConnection.add_change_listener: what lockstep and the recorder wait on instead of polling."""

from __future__ import annotations

import asyncio
from typing import Any

from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from tests.conftest import eventually_async


def test_a_change_listener_hears_each_reply_and_the_session_beginning_and_ending_until_removed(gateway: Any) -> None:
    async def main() -> tuple[list[bool], int, int]:
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=41, sync_orders=False, connect_timeout=5))
        kept: list[bool] = []  # in_session as each change was heard
        removed: list[bool] = []
        connection.add_change_listener(lambda: kept.append(connection.in_session))
        remove = connection.add_change_listener(lambda: removed.append(connection.in_session))
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.ensure_future(connection.run(stop, ready))
        try:
            await eventually_async(lambda: True in kept, timeout=10)  # the session began: heard at once
            heard = len(kept)
            await connection.ib.reqCurrentTimeAsync()  # its reply is heard once it has been handled
            assert len(kept) > heard
            remove()
            silent = len(removed)
            await connection.ib.reqCurrentTimeAsync()
            return kept, silent, len(removed)
        finally:
            stop.set()
            await asyncio.wait_for(runner, 10)

    kept, silent, after_removal = asyncio.run(main())
    assert kept[-1] is False  # the session's end was heard too
    assert after_removal == silent  # a removed listener hears nothing more
