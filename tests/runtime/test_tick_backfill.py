"""Merging history into the recorded ticks of an outage: second by second, never a trade twice, in order."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from slob_cli.core.models import Tick
from slob_cli.runtime.tick_backfill import Gap, fetch_trades, missed_trades

UTC = timezone.utc
T0 = datetime(2026, 3, 10, 14, 35, tzinfo=UTC)


def _trades(second: int, *prices: float) -> list[Tick]:
    return [Tick("NQ", T0 + timedelta(seconds=second), price, 1.0) for price in prices]


HISTORY = _trades(0, 1, 2, 3) + _trades(1, 4) + _trades(3, 5, 6) + _trades(4, 7, 8, 9)


def test_the_cut_second_gains_its_rest_the_seconds_between_come_whole_and_the_return_second_is_rewritten() -> None:
    # The feed stored 2 trades of second 0, then nothing until the last 1 trade of second 4.
    gap = Gap("NQ", T0, T0 + timedelta(seconds=4))
    merge = missed_trades(gap, HISTORY, stored_in_first=2, stored_in_last=1)
    assert [t.price for t in merge.ticks] == [3, 4, 5, 6, 7, 8, 9]
    assert merge.replace == T0 + timedelta(seconds=4)  # stored again whole, in the exchange's order
    assert merge.new == 6


def test_a_return_second_history_holds_no_more_of_is_left_alone() -> None:
    gap = Gap("NQ", T0, T0 + timedelta(seconds=4))
    merge = missed_trades(gap, HISTORY, stored_in_first=3, stored_in_last=3)
    assert [t.price for t in merge.ticks] == [4, 5, 6]
    assert merge.replace is None and merge.new == 3


def test_nothing_missed_means_nothing_written() -> None:
    gap = Gap("NQ", T0 + timedelta(seconds=1), T0 + timedelta(seconds=3))
    merge = missed_trades(gap, HISTORY, stored_in_first=1, stored_in_last=2)
    assert merge.ticks == [] and merge.replace is None and merge.new == 0


def test_paging_stops_at_the_return_and_says_how_far_history_reached() -> None:
    pages: list[datetime] = []

    def page_from(start: datetime, limit: int) -> list[Tick]:
        """Return `limit` trades from start on, and the rest of the last one's second (IB never cuts a second)."""
        pages.append(start)
        later = [t for t in HISTORY if t.ts >= start]
        return [t for t in later if later[:limit] and t.ts <= later[:limit][-1].ts]

    async def request(start: datetime) -> list[Tick]:
        return page_from(start, 2)

    trades, reached = asyncio.run(fetch_trades(request, T0, T0 + timedelta(seconds=3)))
    assert [t.price for t in trades] == [1, 2, 3, 4, 5, 6] and reached == T0 + timedelta(seconds=3)
    short, reached = asyncio.run(fetch_trades(request, T0, T0 + timedelta(seconds=4), pages=2))
    assert [t.price for t in short] == [1, 2, 3, 4, 5, 6] and reached == T0 + timedelta(seconds=3)
    assert pages[-2:] == [T0, T0 + timedelta(seconds=1)]
