"""Historical warm-up: today's 1-minute TRADES bars, fetched in chunks within IB's pacing rules."""

from __future__ import annotations

import asyncio
import logging
import time
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
# IB's historical pacing rules (real seconds).
IDENTICAL_WINDOW = 15.0  # no identical request within 15 s
BURST_WINDOW, BURST_LIMIT = 2.0, 6  # six or more requests for one contract within 2 s break the rules
TEN_MINUTES, TEN_MINUTE_LIMIT = 600.0, 60
PACING_MARGIN = 0.25  # seconds: requests reach IB some time after they are counted here
PACING_STATE_KEY = "ib_history_pacing"  # the store's `state` row that keeps the requests across restarts


class HistoryPacer:
    """IB's historical pacing rules, kept across restarts: wait exactly as long as the next request needs.

    `load`/`save` keep the last ten minutes of requests (wall-clock seconds, request key, contract
    key) somewhere that outlives the process (the store's `state` table), so a session restarted
    seconds after the last one neither breaks the rules (error 162) nor waits blindly.
    """

    def __init__(self, load: Callable[[], list[Any]] | None = None, save: Callable[[list[Any]], None] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self._load = load
        self._save = save
        self._now = now
        self._memory: list[Any] = []
        self.waited: list[float] = []
        self.pausing: float | None = None  # the wait under way, while pace() waits for the rules

    @classmethod
    def kept_in(cls, store: Any, stamp: Callable[[], datetime], now: Callable[[], float] = time.time) -> HistoryPacer:
        """Return a pacer whose requests live in the store's `state` table, stamped by `stamp()`.

        Every historical request of slob goes through one such pacer (warm-up, reconnect backfills,
        the recorder's tick backfill, `slob candles backfill`), so they all count against the same rules.
        """
        return cls(lambda: store.get_state(PACING_STATE_KEY) or [],
                   lambda rows: store.put_state(PACING_STATE_KEY, rows, stamp()), now)

    def _requests(self, now: float) -> list[tuple[float, str, str]]:
        rows = self._load() if self._load is not None else self._memory
        try:
            return [(float(t), str(key), str(contract)) for t, key, contract in rows or []
                    if now - float(t) < TEN_MINUTES]
        except (TypeError, ValueError):
            return []  # an unreadable record is no reason to stop: IB's 162 remains the fallback

    def delay(self, key: str, contract: str) -> float:
        """Return the seconds to wait before a request with this key for this contract is allowed."""
        now = self._now()
        requests = self._requests(now)
        wait = 0.0
        identical = [t for t, k, _ in requests if k == key]
        if identical:
            wait = max(wait, max(identical) + IDENTICAL_WINDOW + PACING_MARGIN - now)
        window = BURST_WINDOW + PACING_MARGIN
        burst = sorted(t for t, _, c in requests if c == contract and now - t < window)
        if len(burst) >= BURST_LIMIT - 1:
            wait = max(wait, burst[len(burst) - (BURST_LIMIT - 1)] + window - now)
        everything = sorted(t for t, _, _ in requests)
        if len(everything) >= TEN_MINUTE_LIMIT:
            wait = max(wait, everything[len(everything) - TEN_MINUTE_LIMIT] + TEN_MINUTES + PACING_MARGIN - now)
        return max(0.0, wait)

    def record(self, key: str, contract: str) -> None:
        """Note a request sent now."""
        now = self._now()
        rows = [list(row) for row in self._requests(now)] + [[now, key, contract]]
        if self._save is not None:
            self._save(rows)
        else:
            self._memory = rows

    async def pace(self, key: str, contract: str, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait as long as the rules need, then record the request."""
        wait = self.delay(key, contract)
        if wait > 0:
            log.info("waiting %.1fs for IB's historical pacing rules", wait)
            self.waited.append(wait)
            self.pausing = wait
            try:
                await sleep(wait)
            finally:
                self.pausing = None
        self.record(key, contract)


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
    pacer: HistoryPacer | None = None,
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
            if pacer is not None:
                contract_key = f"{getattr(ib_contract, 'conId', symbol)}|TRADES"
                await pacer.pace(f"{contract_key}|{upper.isoformat()}|{seconds}|1 min", contract_key, sleep)
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
