"""Backfill planning without a gateway: the roll rule per day, session windows, IB's pacing limits."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timezone

import pytest

from slob_cli.adapters.ib.rolls import FutureContract, third_friday
from slob_cli.errors import UsageError
from slob_cli.runtime.backfill import (
    MIN_SPACING,
    WINDOW_LIMIT,
    WINDOW_SECONDS,
    Pacer,
    check_range,
    plan_days,
    trading_days,
)

UTC = timezone.utc


def _future(year: int, month: int) -> FutureContract:
    expiry = third_friday(year, month)
    return FutureContract("NQ", f"NQ{'HMUZ'[month // 3 - 1]}{year % 10}", 1000 + year * 100 + month, expiry)


def test_each_day_uses_the_live_roll_rule_and_its_globex_session() -> None:
    expiries = [_future(2025, 6), _future(2025, 9), _future(2025, 3)]
    plans = plan_days(trading_days(date(2025, 6, 9), date(2025, 6, 16)), expiries)
    assert [(p.day.isoformat(), p.contract.local_symbol) for p in plans] == [
        ("2025-06-09", "NQM5"), ("2025-06-10", "NQM5"), ("2025-06-11", "NQM5"),
        ("2025-06-12", "NQU5"), ("2025-06-13", "NQU5"), ("2025-06-16", "NQU5")]
    monday = plans[-1]
    # Monday's session opens Sunday 17:00 Chicago (22:00 UTC in summer) and ends 16:00 Chicago.
    assert monday.start == datetime(2025, 6, 15, 22, 0, tzinfo=UTC)
    assert monday.end == datetime(2025, 6, 16, 21, 0, tzinfo=UTC)
    assert all(a.end <= b.start for a, b in itertools.pairwise(plans))


@pytest.mark.parametrize("start, end, message", [
    (date(2026, 3, 2), date(2026, 3, 1), "before --from"),
    (date(2026, 12, 7), date(2026, 12, 8), "--from 2026-12-07 is in the future"),
    (date(2026, 12, 1), date(2026, 12, 8), "--to 2026-12-08 is in the future"),
    (date(2024, 11, 29), date(2024, 12, 31), "older than IB serves"),
])
def test_bad_ranges_are_usage_errors(start: date, end: date, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_range(start, end, today=date(2026, 12, 4))


def test_pacer_spaces_requests_and_keeps_under_the_ten_minute_limit() -> None:
    now = [0.0]
    sent: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def body() -> None:
        pacer = Pacer(monotonic=lambda: now[0], sleep=sleep)
        for _ in range(WINDOW_LIMIT + 5):
            await pacer.wait()
            sent.append(now[0])

    asyncio.run(body())
    assert all(b - a >= MIN_SPACING - 1e-9 for a, b in itertools.pairwise(sent))
    for index, moment in enumerate(sent):
        in_window = [t for t in sent[: index + 1] if moment - t < WINDOW_SECONDS]
        assert len(in_window) <= WINDOW_LIMIT
    assert sent[WINDOW_LIMIT] >= WINDOW_SECONDS
