"""IB code classification, plain messages, the backoff schedule and the circuit breaker (pure)."""

from __future__ import annotations

import random

import pytest

from slob_cli.adapters.ib.backoff import BackoffPolicy, CircuitBreaker
from slob_cli.adapters.ib.codes import NoticeKind, classify, plain_message


@pytest.mark.parametrize(("code", "kind"), [
    (1100, NoticeKind.CONNECTIVITY_LOST), (1101, NoticeKind.RESTORED_DATA_LOST),
    (1102, NoticeKind.RESTORED_DATA_KEPT), (2103, NoticeKind.FARM_BROKEN), (2105, NoticeKind.FARM_BROKEN),
    (2104, NoticeKind.FARM_OK), (2106, NoticeKind.FARM_OK), (2158, NoticeKind.FARM_OK),
    (326, NoticeKind.CLIENT_ID_IN_USE), (354, NoticeKind.NO_MARKET_DATA), (10167, NoticeKind.DELAYED_INSTEAD),
    (10197, NoticeKind.COMPETING_SESSION), (162, NoticeKind.HISTORY_PACING), (999, NoticeKind.OTHER),
])
def test_codes_map_to_their_kind(code: int, kind: NoticeKind) -> None:
    assert classify(code, "text").kind is kind


def test_321_is_read_only_only_when_ib_says_so() -> None:
    read_only = classify(321, "Error validating request.-'bW' : cause - The API interface is currently in Read-Only mode.")
    assert read_only.kind is NoticeKind.READ_ONLY
    assert "untick \"Read-Only API\"" in read_only.plain
    assert "Configure > API > Settings" in read_only.plain
    assert classify(321, "Error validating request: quantity 0").kind is NoticeKind.VALIDATION


def test_market_data_refusals_read_plainly_with_the_symbol() -> None:
    for code in (354, 10167, 10197):
        notice = classify(code, "Requested market data is not subscribed.")
        text = plain_message(notice.kind, code, notice.text, symbol="NQ")
        assert text.startswith(f"IB error {code}: ")
        assert "NQ" in text and "market data" in text


def test_backoff_doubles_from_one_second_to_a_sixty_second_cap() -> None:
    policy = BackoffPolicy()
    assert [policy.nominal(n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_backoff_jitter_stays_within_bounds_and_varies() -> None:
    policy, rng = BackoffPolicy(jitter=0.2), random.Random(7)
    delays = [policy.delay(3, rng) for _ in range(200)]
    low, high = policy.bounds(3)
    assert all(low <= d <= high for d in delays)
    assert len({round(d, 6) for d in delays}) > 100


def test_breaker_trips_once_on_the_tenth_failure_and_resets_count_on_success() -> None:
    breaker = CircuitBreaker(10)
    trips = [breaker.failure() for _ in range(12)]
    assert trips.index(True) == 9 and trips.count(True) == 1
    breaker.success()
    assert breaker.failures == 0 and breaker.tripped


def test_every_classified_code_has_a_name_and_the_order_errors_are_named() -> None:
    from slob_cli.adapters.ib.codes import _BY_CODE, ORDER_ERROR_CODES, IBCode

    assert all(isinstance(code, IBCode) for code in _BY_CODE)
    assert sorted(ORDER_ERROR_CODES) == [103, 110, 201, 202, 321, 10147, 10148]
