"""Our unrealized P&L beside the broker's: the health view and the paper report's check."""

from __future__ import annotations

from datetime import datetime, timezone

from slob_cli.core.unrealized import largest_difference
from slob_cli.core.validation import Severity, Thresholds, ValidationInput, check_broker_unrealized
from tests.opsdata import add_trade

END = datetime(2026, 3, 10, 21, 0, tzinfo=timezone.utc)


def test_the_largest_gap_is_reported_with_both_figures() -> None:
    difference = largest_difference([(100.0, 98.0), (200.0, 150.0), (-10.0, -12.0)])
    assert (difference.samples, difference.worst, difference.ours, difference.broker) == (3, 50.0, 200.0, 150.0)
    assert not difference.within(25.0) and difference.within(50.0)


def test_the_paper_report_warns_when_the_broker_disagrees() -> None:
    base = dict(target_seconds=3600.0, actual_seconds=3600.0, crashed=False, run_end=END)
    agree = check_broker_unrealized(ValidationInput(**base, unrealized_pairs=[(100.0, 95.5)]), Thresholds())
    differ = check_broker_unrealized(ValidationInput(**base, unrealized_pairs=[(100.0, 300.0)]), Thresholds())
    unknown = check_broker_unrealized(ValidationInput(**base), Thresholds())
    assert agree.passed and unknown.passed and "no heartbeat" in unknown.detail
    assert not differ.passed and differ.severity is Severity.WARNING
    assert "largest difference $200.00 over 1 heartbeat (ours $+100.00, broker $+300.00; tolerance $25.00)" == differ.detail


def test_the_health_view_puts_our_figure_beside_the_brokers(store) -> None:  # type: ignore[no-untyped-def]
    from slob_cli.runtime.pnl_view import unrealized_view

    add_trade(store, "s1", entry_time="2026-03-10T14:00:00Z", entry_price=21000.0, entry_commission=2.25,
              status="OPEN")
    assert unrealized_view(store, "NQ", 20990.0, 190.5) == {"unrealized_pnl": 197.75, "broker_unrealized_pnl": 190.5}
    assert unrealized_view(store, "NQ", None, None) == {"unrealized_pnl": None, "broker_unrealized_pnl": None}
    assert unrealized_view(store, "MNQ", None, 0.0) == {"unrealized_pnl": 0.0, "broker_unrealized_pnl": 0.0}
