"""Border conversions: IB values to slob models, bad values rejected and counted (pure)."""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.adapters.ib.conversions import (
    BorderGuard,
    Rejected,
    bar_candle,
    execution_filter_time,
    future_contract,
    trade_tick,
)
from slob_cli.adapters.ib.history import chunk_windows
from slob_cli.core.models import InvalidTick

UTC = timezone.utc


@dataclass
class Bar:
    date: object
    open: float = 100.0
    high: float = 101.0
    low: float = 99.0
    close: float = 100.5
    volume: float = 12.0
    barCount: int = 5


@dataclass
class FakeContract:
    symbol: str = "NQ"
    secType: str = "FUT"
    conId: int = 42
    localSymbol: str = "NQH6"
    lastTradeDateOrContractMonth: str = "20260320"
    exchange: str = "CME"
    tradingClass: str = "NQ"
    multiplier: str = "20"


@dataclass
class FakeDetails:
    contract: FakeContract
    realExpirationDate: str = ""


def test_trade_tick_uses_exchange_epoch_seconds_in_utc_and_true_size() -> None:
    tick = trade_tick("NQ", 1_767_000_000, 25_000.25, 3)
    assert tick.ts == datetime.fromtimestamp(1_767_000_000, UTC)
    assert tick.ts.tzinfo is not None and tick.ts.utcoffset() == timedelta(0)
    assert (tick.price, tick.size) == (25_000.25, 3.0)


@pytest.mark.parametrize(("price", "size", "epoch"), [
    (math.nan, 1, 1_767_000_000), (0.0, 1, 1_767_000_000), (-5.0, 1, 1_767_000_000),
    (25_000.0, 0, 1_767_000_000), (25_000.0, math.inf, 1_767_000_000), (25_000.0, 1, 0),
])
def test_trade_tick_rejects_nan_non_positive_and_bad_times(price: float, size: float, epoch: int) -> None:
    with pytest.raises(InvalidTick):
        trade_tick("NQ", epoch, price, size)


def test_bar_candle_converts_epoch_bars_to_utc_minute_candles() -> None:
    candle = bar_candle("NQ", Bar(datetime(2026, 3, 10, 14, 31, tzinfo=UTC)))
    assert candle.ts == datetime(2026, 3, 10, 14, 31, tzinfo=UTC)
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume, candle.tick_count) == (
        100.0, 101.0, 99.0, 100.5, 12.0, 5)


@pytest.mark.parametrize(("bar", "reason"), [
    (Bar(datetime(2026, 3, 10, 14, 31)), "no time zone"),
    (Bar(datetime(2026, 3, 10, 14, 31, 30, tzinfo=UTC)), "minute boundary"),
    (Bar(datetime(2026, 3, 10, 14, 31, tzinfo=UTC), open=math.nan), "open"),
    (Bar(datetime(2026, 3, 10, 14, 31, tzinfo=UTC), low=-1.0), "low"),
    (Bar(datetime(2026, 3, 10, 14, 31, tzinfo=UTC), high=99.5), "high/low"),
    (Bar(datetime(2026, 3, 10, 14, 31, tzinfo=UTC), volume=-1), "volume"),
    (Bar(date(2026, 3, 10)), "not a date and time"),
])
def test_bar_candle_rejects_invalid_bars(bar: Bar, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        bar_candle("NQ", bar)


def test_future_contract_reads_details_and_rejects_wrong_symbol_or_type() -> None:
    future = future_contract(FakeDetails(FakeContract()), "NQ")
    assert (future.local_symbol, future.con_id, future.expiry) == ("NQH6", 42, date(2026, 3, 20))
    with pytest.raises(Rejected, match="answered 'ES'"):
        future_contract(FakeDetails(FakeContract(symbol="ES")), "NQ")
    with pytest.raises(Rejected, match="not a future"):
        future_contract(FakeDetails(FakeContract(secType="OPT")), "NQ")


def test_border_guard_counts_every_rejection_and_logs_each_reason_once(caplog: pytest.LogCaptureFixture) -> None:
    guard = BorderGuard(logging.getLogger("test.guard"))
    with caplog.at_level(logging.WARNING, logger="test.guard"):
        for _ in range(3):
            guard.reject("trade", "price nan")
        guard.reject("trade", "size 0")
    assert guard.total == 4
    assert len(caplog.records) == 2


def test_chunk_windows_cover_the_range_without_overlap() -> None:
    start = datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    windows = chunk_windows(start, start + timedelta(hours=9, minutes=30), timedelta(hours=4))
    assert [w[1] - w[0] for w in windows] == [timedelta(hours=4), timedelta(hours=4), timedelta(hours=1, minutes=30)]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def test_execution_filter_time_is_utc_dash_form() -> None:
    assert execution_filter_time(datetime(2026, 3, 10, 15, 4, 5, tzinfo=UTC)) == "20260310-15:04:05"
