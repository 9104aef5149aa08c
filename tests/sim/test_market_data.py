"""reqMktData, tick-by-tick and determinism, through the real ib_async client."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ib_async import IB, ContFuture, Ticker

from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for

UTC = timezone.utc


async def _front(ib: IB) -> ContFuture:
    [contract] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    return contract


async def _collect_all_last(gateway: SimGateway, count: int, tick_type: str = "AllLast") -> list[tuple]:
    """Return the first `count` tick-by-tick ticks as the wire carried them (epoch time converted to UTC).

    ib_async 2.1.0 stamps TickByTick objects with their arrival time, so the wire time is read by
    wrapping the wrapper callback (which still updates the ticker as usual).
    """
    ib = await connect(gateway.host, gateway.port)
    contract = await _front(ib)
    seen: list[tuple] = []
    wrapper = ib.wrapper
    if tick_type == "BidAsk":
        original_bid_ask = wrapper.tickByTickBidAsk

        def bid_ask(req_id: int, time: int, bid: float, ask: float, bid_size: float, ask_size: float,
                    attrib: object) -> None:
            seen.append((datetime.fromtimestamp(time, UTC), bid, ask, bid_size, ask_size))
            original_bid_ask(req_id, time, bid, ask, bid_size, ask_size, attrib)

        wrapper.tickByTickBidAsk = bid_ask  # type: ignore[method-assign]
    else:
        original_last = wrapper.tickByTickAllLast

        def all_last(req_id: int, kind: int, time: int, price: float, size: float, *rest: object) -> None:
            seen.append((datetime.fromtimestamp(time, UTC), price, size))
            original_last(req_id, kind, time, price, size, *rest)

        wrapper.tickByTickAllLast = all_last  # type: ignore[method-assign]
    ib.reqTickByTickData(contract, tick_type)
    await wait_for(lambda: len(seen) >= count)
    ib.cancelTickByTickData(contract, tick_type)
    ib.disconnect()
    return seen[:count]


def test_all_last_ticks_carry_the_markets_trades_with_sizes_and_utc_times() -> None:
    async def body() -> tuple[list[tuple], list[tuple]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=11) as gateway:
            received = await _collect_all_last(gateway, 300)
            market = gateway.market.ticks_between(BUSY_START, BUSY_START + timedelta(hours=2))[:300]
            expected = [(tick.ts.replace(microsecond=0), tick.price, float(tick.size)) for tick in market]
            return received, expected

    received, expected = run(body())
    assert received == expected
    assert all(when.tzinfo is not None and when.utcoffset() == timedelta(0) for when, _, _ in received)
    assert all(size >= 1 for _, _, size in received)


def test_bid_ask_ticks_follow_each_change_of_the_quote() -> None:
    async def body() -> tuple[list[tuple], list[tuple]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=5) as gateway:
            received = await _collect_all_last(gateway, 100, "BidAsk")
            quotes: list[tuple] = []
            for tick in gateway.market.ticks_between(BUSY_START, BUSY_START + timedelta(hours=2)):
                quote = (tick.ts.replace(microsecond=0), tick.bid, tick.ask, float(tick.bid_size),
                         float(tick.ask_size))
                if not quotes or quote[1:] != quotes[-1][1:]:
                    quotes.append(quote)
            return received, quotes[:100]

    received, expected = run(body())
    assert received == expected
    assert all(bid < ask for _, bid, ask, _, _ in received)


def test_the_same_seed_gives_the_same_ticks_and_another_seed_does_not() -> None:
    async def ticks(seed: int) -> list[tuple]:
        async with SimGateway(start=BUSY_START, speed="max", seed=seed) as gateway:
            return await _collect_all_last(gateway, 200)

    first, again, other = run(ticks(21)), run(ticks(21)), run(ticks(22))
    assert first == again
    assert first != other


def test_live_market_data_shows_quote_last_sizes_session_figures_and_timestamp() -> None:
    session_open = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)  # 17:00 Chicago (CDT) the evening before

    async def body() -> tuple[Ticker, datetime, list, float]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            ticker = ib.reqMktData(await _front(ib))
            await wait_for(lambda: ticker.lastTimestamp is not None
                           and ticker.lastTimestamp >= BUSY_START + timedelta(seconds=30))
            now = gateway.clock.now()
            ib.disconnect()
            candles = gateway.market.candles_between(session_open, BUSY_START)
            previous = gateway.market.last_tick_before(session_open).price
            return ticker, now, candles, previous

    ticker, now, candles, previous_close = run(body())
    assert ticker.marketDataType == 1 and ticker.minTick == 0.25
    assert 0 < ticker.bid < ticker.ask and ticker.bidSize > 0 and ticker.askSize > 0
    assert ticker.last % 0.25 == 0 and ticker.lastSize >= 1
    assert ticker.open == candles[0].open and ticker.close == previous_close
    assert ticker.high >= max(c.high for c in candles) and ticker.low <= min(c.low for c in candles)
    assert ticker.volume > sum(c.volume for c in candles)  # the session's volume, then every trade on top
    assert BUSY_START <= ticker.lastTimestamp <= now and ticker.lastTimestamp.tzinfo is not None


def test_a_snapshot_ends_with_tick_snapshot_end() -> None:
    async def body() -> Ticker:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            [ticker] = await ib.reqTickersAsync(await _front(ib))
            ib.disconnect()
            return ticker

    ticker = run(body())
    assert ticker.last > 0 and ticker.bid > 0 and ticker.ask > ticker.bid


def test_delayed_gateway_sends_10167_and_delayed_tick_types_or_354_without_delayed_request() -> None:
    async def body() -> tuple[list[int], Ticker, timedelta]:
        async with SimGateway(start=BUSY_START, speed="max", delayed=True) as gateway:
            ib = await connect(gateway.host, gateway.port)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            contract = await _front(ib)
            ib.reqMktData(contract)
            await wait_for(lambda: 354 in codes)
            ib.cancelMktData(contract)
            ib.reqMarketDataType(3)
            ticker = ib.reqMktData(contract)
            await wait_for(lambda: ticker.last > 0 and ticker.marketDataType == 3 and ticker.volume > 0
                           and ticker.delayedLastTimestamp is not None)
            first_seen = ticker.delayedLastTimestamp
            await wait_for(lambda: ticker.delayedLastTimestamp > first_seen + timedelta(seconds=30))
            lag = gateway.clock.now() - ticker.delayedLastTimestamp
            ib.disconnect()
            return codes, ticker, lag

    codes, ticker, lag = run(body())
    assert codes[:1] == [354] and 10167 in codes
    assert ticker.marketDataType == 3 and ticker.bid > 0
    assert timedelta(minutes=10) <= lag < timedelta(minutes=11)  # delayed by ten minutes, as IB's CME data
