"""Backfill planning without a gateway: the roll rule per day, session windows, IB's pacing limits."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.ib.history import BURST_LIMIT, BURST_WINDOW, TEN_MINUTE_LIMIT, TEN_MINUTES, HistoryPacer
from slob_cli.adapters.ib.rolls import FutureContract, third_friday
from slob_cli.adapters.store import Store
from slob_cli.errors import UsageError
from slob_cli.runtime.backfill import check_range, plan_days, trading_days

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
    (date(2026, 12, 7), date(2026, 12, 8),
     r"^--from 2026-12-07 is in the future \(the current CME trading date is 2026-12-04\)$"),
    (date(2026, 12, 1), date(2026, 12, 8), "--to 2026-12-08 is in the future"),
    (date(2024, 11, 29), date(2024, 12, 31), "older than IB serves"),
])
def test_bad_ranges_are_usage_errors(start: date, end: date, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_range(start, end, today=date(2026, 12, 4))


def test_backfill_pacing_keeps_ibs_rules_and_a_quick_rerun_is_paced_by_the_run_before(tmp_path: Path) -> None:
    """The pacer backfill uses by default: the store-kept HistoryPacer (one for every historical request)."""
    now = [1000.0]
    sent: list[tuple[float, str]] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def run(store: Store, days: range, contract: str) -> None:
        pacer = HistoryPacer.kept_in(store, lambda: datetime.now(UTC), now=lambda: now[0])
        for day in days:
            await pacer.pace(f"{contract}|day {day}", contract, sleep)
            sent.append((now[0], contract))

    with Store.open(tmp_path / "pacing.db") as store:
        asyncio.run(run(store, range(40), "NQM5"))
    with Store.open(tmp_path / "pacing.db") as store:  # a re-run at once: a new process, the same log
        asyncio.run(run(store, range(40, 70), "NQU5"))
    for index, (moment, contract) in enumerate(sent):
        earlier = sent[: index + 1]
        # IB: six or more requests for one contract within 2 s, or more than 60 within 10 minutes, break the rules.
        assert len([t for t, c in earlier if c == contract and moment - t < BURST_WINDOW]) < BURST_LIMIT
        assert len([t for t, _ in earlier if moment - t < TEN_MINUTES]) <= TEN_MINUTE_LIMIT
    assert sent[TEN_MINUTE_LIMIT][0] >= sent[0][0] + TEN_MINUTES  # the 61st waits for the first to age out
    assert sent[TEN_MINUTE_LIMIT - 1][0] < sent[0][0] + 60  # and nothing before it waits that long
