"""Lossless recording where IB allows it: the trades an outage missed, fetched with reqHistoricalTicks.

Both sources carry exchange time in whole seconds, so they meet second by second: in the second the
feed was cut, the store already holds the first trades (history supplies the rest); in the second
the feed came back, it holds the last ones (history supplies those before); every second between
comes from history whole. Within a second, trades are matched by their sequence, so nothing is
stored twice; what history cannot supply is reported with its span.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from slob_cli.core.models import Tick

log = logging.getLogger(__name__)
UTC = timezone.utc
PAGE = 1000  # IB's most ticks per reqHistoricalTicks


@dataclass(frozen=True)
class Gap:
    """An outage of one symbol's feed: the last trade stored before it, the first one after it."""

    symbol: str
    last_before: datetime
    first_after: datetime


@dataclass(frozen=True)
class Merge:
    """What a backfill writes: `ticks` in time order; the boundary second `replace` (if any) is rewritten whole.

    The feed delivered the last trades of the second it came back in, history supplies the earlier
    ones: inserted after them, they would sort behind them (the store orders a second by arrival),
    so that second is stored again from history in the exchange's order.
    """

    ticks: list[Tick]
    replace: datetime | None  # the second whose stored trades `ticks` replace
    new: int  # trades the store gains


def missed_trades(gap: Gap, history: Sequence[Tick], stored_in_first: int, stored_in_last: int) -> Merge:
    """Return how to merge `history` into the store between the gap's two boundary seconds (inclusive).

    `stored_in_first`/`stored_in_last` are the trades the store holds in the boundary seconds.
    """
    first, last = _second(gap.last_before), _second(gap.first_after)
    by_second: dict[datetime, list[Tick]] = defaultdict(list)
    for tick in history:
        second = _second(tick.ts)
        if first <= second <= last:
            by_second[second].append(tick)
    ticks: list[Tick] = []
    new = 0
    replace = None
    for second in sorted(by_second):
        trades = by_second[second]
        if second == last and last != first:
            if len(trades) > stored_in_last:  # history holds more of it than the store: rewrite it whole
                ticks += trades
                new += len(trades) - stored_in_last
                replace = last
            continue
        begin = stored_in_first if second == first else 0
        ticks += trades[begin:]
        new += len(trades[begin:])
    return Merge(ticks, replace, new)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def fetch_trades(request: Callable[[datetime], Awaitable[list[Tick]]], start: datetime, end: datetime,
                       pages: int = 50) -> tuple[list[Tick], datetime]:
    """Page through history from `start` until a trade at or after `end`; return the trades and how far they reach.

    `request(start)` returns up to PAGE trades from `start` on (whole seconds, never a second cut).
    """
    trades: list[Tick] = []
    cursor = start
    reached = start
    for _ in range(pages):
        page = await request(cursor)
        if not page:
            return trades, end  # no trade at all up to now: nothing is missing
        trades += [tick for tick in page if tick.ts <= end]
        reached = page[-1].ts
        if reached >= end:
            return trades, end
        cursor = _second(reached) + timedelta(seconds=1)
    return trades, reached


def historical_request(ib: Any, contract: Any, symbol: str) -> Callable[[datetime], Awaitable[list[Tick]]]:
    """Return `request(start)` for fetch_trades over ib_async's reqHistoricalTicksAsync (TRADES)."""

    async def request(start: datetime) -> list[Tick]:
        rows = await ib.reqHistoricalTicksAsync(contract, start, "", PAGE, "TRADES", useRth=False)
        ticks = []
        for row in rows or []:
            moment = row.time if row.time.tzinfo else row.time.replace(tzinfo=UTC)
            ticks.append(Tick(symbol, moment.astimezone(UTC), float(row.price), float(row.size)))
        return ticks

    return request
