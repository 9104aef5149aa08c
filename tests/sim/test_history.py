"""reqHistoricalData: 1-min TRADES bars equal the spine aggregator's candles of the same market."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ib_async import IB, BarDataList, ContFuture

from slob_cli.core.aggregator import CandleCompleted, M1Aggregator
from slob_cli.core.models import Candle, Tick
from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for

UTC = timezone.utc


def _aggregate(ticks: list) -> list[Candle]:
    aggregator = M1Aggregator(["NQ"])
    candles: list[Candle] = []
    for tick in ticks:
        for event in aggregator.on_tick(Tick("NQ", tick.ts, tick.price, tick.size)):
            if isinstance(event, CandleCompleted):
                candles.append(event.candle)
    candles += [event.candle for event in aggregator.force_complete_all() if isinstance(event, CandleCompleted)]
    return candles


async def _front(ib: IB) -> ContFuture:
    [contract] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    return contract


def test_one_minute_bars_equal_the_aggregated_candles_of_the_same_ticks() -> None:
    async def body() -> tuple[BarDataList, list[Candle]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=9) as gateway:
            ib = await connect(gateway.host, gateway.port)
            bars = await ib.reqHistoricalDataAsync(await _front(ib), "", "5400 S", "1 min", "TRADES", False)
            ib.disconnect()
            ticks = gateway.market.ticks_between(BUSY_START - timedelta(seconds=5400), BUSY_START)
            return bars, _aggregate(ticks)

    bars, candles = run(body())
    assert len(bars) == len(candles) == 90
    for bar, candle in zip(bars, candles, strict=True):
        assert bar.date == candle.ts and bar.date.tzinfo is not None
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.barCount) == \
            (candle.open, candle.high, candle.low, candle.close, candle.volume, candle.tick_count)


def test_format_date_2_gives_epoch_dates_and_five_minute_bars_aggregate_the_minutes() -> None:
    async def body() -> tuple[BarDataList, BarDataList]:
        async with SimGateway(start=BUSY_START, speed="max", seed=9) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _front(ib)
            end = BUSY_START - timedelta(minutes=30)
            minutes = await ib.reqHistoricalDataAsync(contract, end, "1800 S", "1 min", "TRADES", False, 2)
            fives = await ib.reqHistoricalDataAsync(contract, end, "1800 S", "5 mins", "TRADES", False, 2)
            ib.disconnect()
            return minutes, fives

    minutes, fives = run(body())
    assert len(minutes) == 30 and len(fives) == 6
    assert minutes[0].date == datetime(2026, 3, 10, 12, 25, tzinfo=UTC)
    for index, five in enumerate(fives):
        group = minutes[index * 5:index * 5 + 5]
        assert five.date == group[0].date
        assert (five.open, five.close) == (group[0].open, group[-1].close)
        assert five.high == max(bar.high for bar in group) and five.low == min(bar.low for bar in group)
        assert five.volume == sum(bar.volume for bar in group)


def test_keep_up_to_date_streams_the_live_bar_from_the_same_ticks() -> None:
    async def body() -> tuple[BarDataList, list[Candle]]:
        async with SimGateway(start=BUSY_START, speed="max", seed=2) as gateway:
            ib = await connect(gateway.host, gateway.port)
            bars = await ib.reqHistoricalDataAsync(await _front(ib), "", "600 S", "1 min", "TRADES", False,
                                                   keepUpToDate=True)
            first = bars[-1].date
            await wait_for(lambda: bars[-1].date >= first + timedelta(minutes=3))
            ib.cancelHistoricalData(bars)
            ib.disconnect()
            finished = [bar for bar in bars if bar.date < bars[-1].date]
            candles = _aggregate(gateway.market.ticks_between(finished[0].date, bars[-1].date))
            return finished, candles

    finished, candles = run(body())
    assert [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in finished] == \
        [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles]


def test_pacing_violations_and_bad_arguments_get_error_162() -> None:
    async def body() -> list[int]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            contract = await _front(ib)
            first = await ib.reqHistoricalDataAsync(contract, "", "600 S", "1 min", "TRADES", False)
            identical = await ib.reqHistoricalDataAsync(contract, "", "600 S", "1 min", "TRADES", False)
            bad_size = await ib.reqHistoricalDataAsync(contract, "", "600 S", "7 mins", "TRADES", False)
            ib.disconnect()
            assert len(first) == 10 and len(identical) == 0 and len(bad_size) == 0
            return codes

    assert run(body()) == [162, 162]


def test_a_scenario_day_comes_back_over_the_wire_as_its_planted_candles() -> None:
    from datetime import date

    from slob_cli.sim.scenarios import build_scenario

    async def body() -> BarDataList:
        async with SimGateway(scenario="short_setup", start="2026-03-10T20:00Z", speed="max", seed=0) as gateway:
            ib = await connect(gateway.host, gateway.port)
            bars = await ib.reqHistoricalDataAsync(await _front(ib), "", "43200 S", "1 min", "TRADES", False, 2)
            ib.disconnect()
            return bars

    bars = run(body())
    planted = [candle for candle in build_scenario("short_setup", date(2026, 3, 10), 0) if candle.tick_count > 0]
    assert [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in bars] == \
        [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in planted]


def test_historical_ticks_from_a_start_are_the_markets_trades_in_whole_seconds() -> None:
    async def body() -> tuple[list, list, list]:
        async with SimGateway(start=BUSY_START, speed="max", seed=4) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _front(ib)
            start = BUSY_START - timedelta(minutes=3)
            got = await ib.reqHistoricalTicksAsync(contract, start, "", 200, "TRADES", useRth=False)
            last = await ib.reqHistoricalTicksAsync(contract, "", BUSY_START, 5, "TRADES", useRth=False)
            market = gateway.market.ticks_between(start, BUSY_START)
            ib.disconnect()
            return got, last, market

    got, last, market = run(body())
    assert len(got) >= 200 and [(t.time, t.price, t.size) for t in got] == [
        (datetime.fromtimestamp(int(m.ts.timestamp()), UTC), m.price, m.size) for m in market[:len(got)]]
    cut = int(market[len(got) - 1].ts.timestamp())
    assert len(got) == len(market) or int(market[len(got)].ts.timestamp()) != cut, "no second is cut in two"
    assert [t.price for t in last] == [m.price for m in market[-5:]]


def test_expired_contract_bars_need_include_expired() -> None:
    from ib_async import Future

    async def body() -> tuple[int, int]:
        async with SimGateway(start=BUSY_START, speed="max", seed=9) as gateway:
            ib = await connect(gateway.host, gateway.port)
            [details] = await ib.reqContractDetailsAsync(
                Future("NQ", "202503", exchange="CME", includeExpired=True))
            expired = details.contract
            end = datetime(2025, 3, 10, 20, 0, tzinfo=UTC)
            refused = await ib.reqHistoricalDataAsync(expired, end, "1800 S", "1 min", "TRADES", False, 2)
            expired.includeExpired = True
            served = await ib.reqHistoricalDataAsync(expired, end, "1800 S", "1 min", "TRADES", False, 2)
            ib.disconnect()
            return len(refused), len(served)

    refused, served = run(body())
    assert (refused, served) == (0, 30)
