"""The one hook into ib_async: it must match ib_async's signature and leave ib_async's own objects working."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ib_async import ContFuture
from ib_async.wrapper import Wrapper

from slob_cli.adapters.ib.hooks import hook_problems, on_tick_by_tick_trade
from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for


def test_the_installed_ib_async_has_the_signatures_the_hook_relies_on() -> None:
    assert hook_problems() == []


def test_a_changed_wrapper_signature_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(self: Wrapper, reqId: int, tickType: int, time: int, price: float) -> None:  # noqa: N803
        """A future ib_async that dropped size and the rest."""

    monkeypatch.setattr(Wrapper, "tickByTickAllLast", changed)
    [problem] = hook_problems()
    assert "tickByTickAllLast" in problem


def test_installing_the_hook_on_a_changed_ib_async_says_so_loudly(monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from ib_async import IB

    monkeypatch.setattr(Wrapper, "tickByTickAllLast", lambda self, reqId, tickType, time: None)
    on_tick_by_tick_trade(IB(), lambda *trade: None)
    assert any("ib_async changed under slob's tick-by-tick hook" in r.getMessage() and r.levelname == "ERROR"
               for r in caplog.records)


def test_the_hook_gets_exchange_times_and_ib_async_still_fills_its_ticker() -> None:
    async def body() -> tuple[list[tuple[int, int, float, float]], int, object]:
        async with SimGateway(start=BUSY_START, speed="max", seed=2) as gateway:
            ib = await connect(gateway.host, gateway.port)
            seen: list[tuple[int, int, float, float]] = []
            on_tick_by_tick_trade(ib, lambda *trade: seen.append(trade))
            [contract] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
            ticker = ib.reqTickByTickData(contract, "AllLast")
            updates = 0

            def count(_ticker: object) -> None:
                nonlocal updates
                updates += 1

            ticker.updateEvent += count
            await wait_for(lambda: len(seen) >= 50 and updates > 0)
            last = ticker.last
            ib.disconnect()
            return seen, updates, last

    seen, updates, last = run(body())
    epochs = [epoch for _, epoch, _, _ in seen]
    assert epochs == sorted(epochs)
    # Exchange time is the simulated market's (March 2026), not the test's wall clock.
    assert datetime.fromtimestamp(epochs[0], timezone.utc).date() == BUSY_START.date()
    assert updates > 0 and last in {price for _, _, price, _ in seen}  # ib_async's Ticker still updates
