"""Historical warm-up: today's 1-minute TRADES bars, fetched in chunks within IB's pacing rules."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from slob_cli.adapters.ib.conversions import BorderGuard, Rejected, bar_candle
from slob_cli.core.models import Candle, floor_minute
from slob_cli.errors import BrokerError

log = logging.getLogger(__name__)

PACING_VIOLATION = 162
# IB: at most six requests for one contract within two seconds; one 1-min request covers a day at most.
DEFAULT_CHUNK = timedelta(hours=4)
DEFAULT_SPACING = 0.4
DEFAULT_PACING_WAITS = (10.0, 20.0, 40.0, 60.0)


def chunk_windows(start: datetime, end: datetime, chunk: timedelta = DEFAULT_CHUNK) -> list[tuple[datetime, datetime]]:
    """Split [start, end) into consecutive windows no longer than chunk."""
    if chunk <= timedelta(0):
        raise ValueError("chunk must be positive")
    windows = []
    cursor = start
    while cursor < end:
        upper = min(end, cursor + chunk)
        windows.append((cursor, upper))
        cursor = upper
    return windows


async def fetch_minute_bars(
    ib: Any,
    ib_contract: Any,
    symbol: str,
    start: datetime,
    end: datetime,
    *,
    chunk: timedelta = DEFAULT_CHUNK,
    spacing: float = DEFAULT_SPACING,
    pacing_waits: tuple[float, ...] = DEFAULT_PACING_WAITS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    guard: BorderGuard | None = None,
    timeout: float = 60.0,
) -> list[Candle]:
    """Return validated M1 candles with labels in [start, floor_minute(end)), oldest first.

    Waits `spacing` seconds between requests and backs off on error 162 (pacing violation) by
    `pacing_waits`; any other IB error raises BrokerError with IB's text.
    """
    from ib_async import RequestError

    guard = guard or BorderGuard(log)
    end = floor_minute(end)
    candles: dict[datetime, Candle] = {}
    for index, (lower, upper) in enumerate(chunk_windows(start, end, chunk)):
        if index:
            await sleep(spacing)
        seconds = int((upper - lower).total_seconds())
        waits = list(pacing_waits)
        while True:
            try:
                bars = await ib.reqHistoricalDataAsync(
                    ib_contract, endDateTime=upper, durationStr=f"{seconds} S", barSizeSetting="1 min",
                    whatToShow="TRADES", useRTH=False, formatDate=2, timeout=timeout,
                )
                break
            except RequestError as exc:
                if exc.code == PACING_VIOLATION and "no data" in exc.message.lower():
                    bars = []
                    break
                if exc.code == PACING_VIOLATION and "pacing" in exc.message.lower() and waits:
                    wait = waits.pop(0)
                    log.warning("IB pacing violation on historical data (162); waiting %.0fs", wait)
                    await sleep(wait)
                    continue
                raise BrokerError(f"historical data for {symbol} refused: IB {exc.code}: {exc.message}") from None
        for bar in bars:
            try:
                candle = bar_candle(symbol, bar)
            except Rejected as exc:
                guard.reject("bar", str(exc))
                continue
            if lower <= candle.ts < upper:
                candles[candle.ts] = candle
    return [candles[key] for key in sorted(candles)]
