"""CME Globex hours: the daily halt, weekends and holiday closes are scheduled, not gaps."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from slob_cli.core.market_hours import cme_open, is_scheduled_close, open_minutes
from slob_cli.core.sessions import TradingCalendar

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("start, end", [
    ("2026-01-06T22:00", "2026-01-06T23:00"),  # the daily halt, 17:00-18:00 New York in winter
    ("2026-07-07T21:00", "2026-07-07T22:00"),  # the same halt in summer time
    ("2026-01-09T22:00", "2026-01-11T23:00"),  # Friday close to Sunday open
])
def test_scheduled_closes_are_not_gaps(start: str, end: str) -> None:
    assert is_scheduled_close(at(start), at(end))


def test_a_hole_while_open_is_a_gap_even_next_to_the_halt() -> None:
    assert not is_scheduled_close(at("2026-01-06T21:58"), at("2026-01-06T23:00"))
    assert not is_scheduled_close(at("2026-01-06T22:00"), at("2026-01-06T23:01"))
    assert open_minutes(at("2026-01-06T22:00"), at("2026-01-06T23:01")) == 1
    assert cme_open(at("2026-01-06T23:00")) and not cme_open(at("2026-01-06T22:59"))


def test_holiday_closes_early_at_13_new_york() -> None:
    calendar = TradingCalendar(holidays=frozenset({date(2026, 1, 19)}))
    assert is_scheduled_close(at("2026-01-19T18:00"), at("2026-01-19T23:00"), calendar)
    assert not is_scheduled_close(at("2026-01-19T18:00"), at("2026-01-19T23:00"))
