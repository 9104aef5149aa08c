"""IB's historical pacing rules kept across restarts: exact waits instead of error 162 and blind back-offs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.contracts import resolve_front_month
from slob_cli.adapters.ib.history import HistoryPacer, fetch_minute_bars
from slob_cli.adapters.ib.rolls import trading_date as trading_date_of
from slob_cli.adapters.store import Store


class Shared:
    """One persisted request log (the store's state row) and a clock the test moves."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.now = 1000.0

    def pacer(self) -> HistoryPacer:
        return HistoryPacer(lambda: self.rows, self._save, now=lambda: self.now)

    def _save(self, rows: list[Any]) -> None:
        self.rows = rows


def test_an_identical_request_after_a_restart_waits_only_the_rest_of_15_seconds() -> None:
    shared = Shared()
    shared.pacer().record("NQ|end|1200", "NQ")
    shared.now += 4.0
    restarted = shared.pacer()  # a new process reads the same log
    assert restarted.delay("NQ|end|1200", "NQ") == pytest.approx(11.25)  # 15 s from the first, plus a margin
    assert restarted.delay("NQ|other|1200", "NQ") == 0.0


def test_the_sixth_request_for_a_contract_within_two_seconds_waits_for_the_window() -> None:
    shared = Shared()
    for index in range(5):
        shared.pacer().record(f"k{index}", "NQ")
        shared.now += 0.1
    assert shared.pacer().delay("k5", "NQ") == pytest.approx(2.25 - 0.5)
    assert shared.pacer().delay("k5", "MNQ") == 0.0
    shared.now += 2.25
    assert shared.pacer().delay("k5", "NQ") == 0.0


def test_a_pacer_says_how_long_it_waits_while_it_waits_and_nothing_after() -> None:
    shared = Shared()
    shared.pacer().record("NQ|end|1200", "NQ")
    pacer, seen = shared.pacer(), []

    async def sleep(seconds: float) -> None:  # what a lockstep run cut short meanwhile reads (Engine.step_held_by)
        seen.append((seconds, pacer.pausing))

    asyncio.run(pacer.pace("NQ|end|1200", "NQ", sleep))
    assert seen == [(pytest.approx(15.25), pytest.approx(15.25))] and pacer.pausing is None


def test_an_unreadable_log_is_no_reason_to_stop() -> None:
    pacer = HistoryPacer(lambda: [["x", 1]], lambda rows: None)
    assert pacer.delay("k", "NQ") == 0.0


def test_quick_restarts_fetch_without_error_162_and_wait_no_more_than_the_rules(gateway, tmp_path) -> None:
    store = Store.open(tmp_path / "pacing.db")
    waited: list[float] = []

    async def session(client_id: int, offsets: range) -> None:
        pacer = HistoryPacer.kept_in(store, gateway.clock.now)
        connection = IBConnection(GatewayConfig(port=gateway.port, client_id=client_id, sync_orders=False))
        await connection.connect()
        try:
            resolved = await resolve_front_month(connection.ib, "NQ", trading_date_of(gateway.clock.now()))
            end = gateway.clock.now().replace(second=0, microsecond=0)
            for minutes in offsets:  # distinct windows, no spacing: only the pacer keeps them legal
                await fetch_minute_bars(connection.ib, resolved.ib_contract, "NQ", end - timedelta(minutes=minutes),
                                        end, spacing=0.0, pacing_waits=(), pacer=pacer)
            waited.extend(pacer.waited)
        finally:
            await connection.close()

    try:
        asyncio.run(session(61, range(10, 14)))
        asyncio.run(session(62, range(14, 18)))  # "restarted" at once: the burst rule spans both
    finally:
        store.close()
    assert waited and all(0 < wait <= 2.25 for wait in waited)
