"""Paper-validation rules: each criterion passes on a clean run and fails on its own fault."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.core.validation import (
    FillInfo,
    Gap,
    OrderInfo,
    Outage,
    Severity,
    TradeInfo,
    ValidationInput,
    evaluate,
)

UTC = timezone.utc
END = datetime(2026, 1, 7, 14, 0, tzinfo=UTC)
DAY = 24 * 3600.0


def bracket(setup: str, stop_status: str = "Submitted") -> list[OrderInfo]:
    return [
        OrderInfo(f"slob:{setup}:entry", setup, "entry", "Filled", 1, 1),
        OrderInfo(f"slob:{setup}:stop", setup, "stop", stop_status, 1, 0),
        OrderInfo(f"slob:{setup}:target", setup, "target", "Submitted", 1, 0),
    ]


def clean() -> ValidationInput:
    """A 24 h run with one open SHORT and one closed LONG trade, no faults."""
    return ValidationInput(
        target_seconds=DAY, actual_seconds=DAY + 5, crashed=False, run_end=END,
        candles_received=1380, candles_generated=1380, candles_persisted=1380,
        live_events=[("s1", "SETUP_COMPLETE")], offline_events=[("s1", "SETUP_COMPLETE")],
        orders=[*bracket("s1"), *bracket("s2", stop_status="Filled")],
        fills=[FillInfo("slob:s1:entry", 1, 25449.5), FillInfo("slob:s2:entry", 1, 25400.25),
               FillInfo("slob:s2:stop", 1, 25380.0)],
        trades=[
            TradeInfo("s1", "SHORT", 1, 25450.0, 25449.5, None, None, None, None, open=True),
            TradeInfo("s2", "LONG", 1, 25400.0, 25400.25, 25380.0, -20.25, -405.0, 4.5, open=False),
        ],
        setups_by_state={"SETUP_COMPLETE": 2, "INVALIDATED": 3},
    )


def failed_names(data: ValidationInput, strict: bool = False) -> list[str]:
    return [c.name for c in evaluate(data).failures(strict)]


def test_clean_run_passes_every_criterion_even_strict() -> None:
    report = evaluate(clean())
    assert all(c.passed for c in report.criteria), [c for c in report.criteria if not c.passed]
    assert report.passed(strict=True) and report.verdict() == "PASSED"


def test_clean_run_figures_count_orders_fills_pnl_and_slippage() -> None:
    figures = evaluate(clean()).figures
    assert figures["orders"]["by_role"] == {"entry": 2, "stop": 2, "target": 2}
    assert figures["fills"] == {"count": 3, "quantity": 3}
    assert figures["trades"] == {"total": 2, "open": 1, "closed": 1, "wins": 0, "losses": 1}
    assert figures["pnl"] == {"points": -20.25, "money": -405.0, "commission": 4.5}
    # The SHORT sold 0.5 below its estimate and the LONG bought 0.25 above: both adverse, positive.
    assert figures["entry_slippage_points"] == {"count": 2, "mean": 0.375, "worst": 0.5}
    assert figures["setups_by_state"] == {"INVALIDATED": 3, "SETUP_COMPLETE": 2}


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"crashed": True, "crash_detail": "exit code 1"}, "no crash"),
        ({"actual_seconds": DAY - 3600}, "duration reached"),
        ({"outages": [Outage(END - timedelta(minutes=5), None)]}, "connection recovered"),
        ({"outages": [Outage(END - timedelta(hours=3), END - timedelta(hours=2))]}, "connection recovered"),
        ({"candles_received": 0}, "candles received"),
        ({"candles_persisted": 1379}, "candles persisted"),
        ({"offline_events": [("s1", "SETUP_INVALIDATED")]}, "no look-ahead"),
        ({"offline_events": []}, "no look-ahead"),
    ],
)
def test_error_criterion_fails_the_report(change: dict, name: str) -> None:
    data = replace(clean(), **change)
    assert failed_names(data) == [name]
    assert not evaluate(data).passed()


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"outages": [Outage(END - timedelta(hours=3), END - timedelta(hours=3) + timedelta(seconds=40))],
          "reconnects": 1}, "connection stable"),
        ({"safe_mode_entries": 1}, "connection stable"),
        ({"gaps": [Gap("NQ", END - timedelta(hours=4), 3)]}, "no gaps"),
        ({"dropped_ticks": 12}, "no dropped ticks"),
        ({"late_ticks": 3}, "no late ticks"),
        ({"delayed_data": True}, "live market data"),
        ({"offline_events": None}, "no look-ahead"),
    ],
)
def test_warning_criterion_fails_only_strict(change: dict, name: str) -> None:
    report = evaluate(replace(clean(), **change))
    assert report.passed()
    assert [c.name for c in report.failures(strict=True)] == [name]
    assert report.verdict(strict=True) == f"FAILED: {name}"


def test_order_ref_placed_twice_is_a_duplicate() -> None:
    orders = list(clean().orders)
    orders[0] = replace(orders[0], placed=2)
    report = evaluate(replace(clean(), orders=orders))
    (failed,) = report.failures()
    assert failed.name == "no duplicate orders" and "slob:s1:entry placed twice" in failed.detail


def test_two_entries_for_one_setup_is_a_duplicate() -> None:
    orders = [*clean().orders, OrderInfo("slob:s1:entry:2", "s1", "entry", "Cancelled")]
    (failed,) = evaluate(replace(clean(), orders=orders)).failures()
    assert failed.name == "no duplicate orders" and "setup s1 has 2 entries" in failed.detail


def test_entry_without_target_is_not_bracketed() -> None:
    orders = [o for o in clean().orders if o.order_ref != "slob:s2:target"]
    (failed,) = evaluate(replace(clean(), orders=orders)).failures()
    assert (failed.name, failed.detail) == ("entries bracketed", "without stop or target: s2")


def test_open_position_whose_stop_was_cancelled_is_unprotected() -> None:
    orders = [replace(o, status="Cancelled") if o.order_ref == "slob:s1:stop" else o for o in clean().orders]
    (failed,) = evaluate(replace(clean(), orders=orders)).failures()
    assert (failed.name, failed.severity) == ("positions protected", Severity.ERROR)
    assert "s1" in failed.detail


def test_duration_within_tolerance_counts_as_reached() -> None:
    assert evaluate(replace(clean(), actual_seconds=DAY - 30)).passed()


def test_stop_still_only_an_intent_does_not_protect_an_open_position() -> None:
    orders = [replace(o, status="INTENT") if o.order_ref == "slob:s1:stop" else o for o in clean().orders]
    (failed,) = evaluate(replace(clean(), orders=orders)).failures()
    assert failed.name == "positions protected"
    engine_words = [replace(o, status="WORKING") if o.order_ref == "slob:s1:stop" else o for o in clean().orders]
    assert evaluate(replace(clean(), orders=engine_words)).passed()
