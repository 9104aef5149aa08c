"""The one hook into ib_async: it must match ib_async's signature and leave ib_async's own objects working."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ib_async import ContFuture
from ib_async.wrapper import Wrapper

from slob_cli.adapters.ib.hooks import fast_path_problems, hook_problems, on_tick_by_tick_trade
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


def _wire(req_id: int, *values: object) -> list[str]:
    """Return the decoded fields of one tickByTick (99) message."""
    return ["99", str(req_id), *(str(value) for value in values)]


OWNED, OTHER = 5, 6
MESSAGES = [
    _wire(OWNED, 2, 1_773_153_300, "20000.25", "2", "0", "CME", ""),
    _wire(OWNED, 1, 1_773_153_300, "20000.5", "1", "3", "CME", "T"),  # Last, both attribute bits
    _wire(OWNED, 2, 1_773_153_301, "-1", "0", "0", "", ""),  # IB's empty price: passed on for the feed to reject
    _wire(OWNED, 2, 1_773_153_301, "20000.75", "1", "4", "CME", ""),  # an unusual mask: ib_async's path
    _wire(OWNED, 2, 1_773_153_302, "", "1", "0", "CME", ""),  # malformed: ib_async logs and drops it
    _wire(OWNED, 2, 1_773_153_302, "20001", "1", "0", "CME"),  # a field short: dropped too
    _wire(OWNED, 3, 1_773_153_302, "20000.75", "20001", "3", "4", "0"),  # BidAsk is no trade
    _wire(OTHER, 2, 1_773_153_303, "20001.25", "5", "0", "CME", ""),  # not owned: through ib_async
    _wire(OWNED, 2, 1_773_153_304, "20001.5", "2", "0", "CME", ""),
]


def _decoded(owned: set[int] | None) -> tuple[list[tuple[int, int, float, float]], dict[int, list[float]]]:
    """Decode MESSAGES with the hook installed; return what the callback got and each Ticker's trade prices."""
    from ib_async import IB, Ticker

    ib = IB()
    tickers = {req_id: Ticker() for req_id in (OWNED, OTHER)}
    ib.wrapper.reqId2Ticker.update(tickers)
    seen: list[tuple[int, int, float, float]] = []
    on_tick_by_tick_trade(ib, lambda *trade: seen.append(trade), owned=owned)
    for fields in MESSAGES:
        ib.client.decoder.interpret(list(fields))
    return seen, {req_id: [tick.price for tick in ticker.tickByTicks if hasattr(tick, "price")]
                  for req_id, ticker in tickers.items()}


def test_owned_trades_skip_ib_async_and_the_callback_gets_what_the_chained_hook_gets(
        ib_decode_problems: list[str]) -> None:
    chained, filled = _decoded(owned=None)
    fast, left = _decoded(owned={OWNED})
    # The two malformed messages are logged by ib_async's decoder on either path, and dropped.
    assert len(ib_decode_problems) == 4 and all("Error handling fields" in p for p in ib_decode_problems)
    ib_decode_problems.clear()
    assert repr(fast) == repr(chained)  # repr: also float against int
    assert [trade[2] for trade in chained] == [20000.25, 20000.5, -1.0, 20000.75, 20001.25, 20001.5]
    assert len(filled[OWNED]) == 5 and left[OWNED] == [20000.75]  # only the unusual mask went through ib_async
    assert left[OTHER] == filled[OTHER] == [20001.25]


def test_without_the_decoder_table_it_expects_the_hook_says_so_and_stays_on_ib_asyncs_path(
        caplog: pytest.LogCaptureFixture) -> None:
    from ib_async import IB, Ticker

    ib = IB()
    ib.wrapper.reqId2Ticker[OWNED] = Ticker()
    ib.client.decoder.handlers[99] = lambda fields: ib.client.decoder.tickByTick(fields)  # a future ib_async
    assert fast_path_problems(ib)
    seen: list[tuple[int, int, float, float]] = []
    on_tick_by_tick_trade(ib, lambda *trade: seen.append(trade), owned={OWNED})
    ib.client.decoder.interpret(MESSAGES[0])
    assert seen == [(OWNED, 1_773_153_300, 20000.25, 2.0)]
    assert any("go through ib_async's objects" in r.getMessage() for r in caplog.records)


def test_a_second_owner_goes_in_front_of_the_first() -> None:
    from ib_async import IB, Ticker

    ib = IB()
    ib.wrapper.reqId2Ticker.update({OWNED: Ticker(), OTHER: Ticker()})
    first: list[int] = []
    second: list[int] = []
    on_tick_by_tick_trade(ib, lambda req_id, *_: first.append(req_id), owned={OWNED})
    on_tick_by_tick_trade(ib, lambda req_id, *_: second.append(req_id), owned={OTHER})
    for fields in (MESSAGES[0], MESSAGES[7]):
        ib.client.decoder.interpret(list(fields))
    # Each owner gets its own trades, once, off its own fast path (the feed passes on only its own anyway).
    assert first == [OWNED] and second == [OTHER]
