"""Unrealized P&L of open trades and the paper report's check against the broker's figure."""

from __future__ import annotations

from datetime import datetime, timezone

from slob_cli.core.unrealized import OpenTrade, largest_difference, open_unrealized
from slob_cli.core.validation import Severity, Thresholds, ValidationInput, check_broker_unrealized

END = datetime(2026, 3, 10, 21, 0, tzinfo=timezone.utc)


def test_long_and_short_trades_make_money_in_opposite_directions() -> None:
    trades = [OpenTrade("LONG", 2, 21000.0), OpenTrade("SHORT", 1, 21010.0)]
    assert open_unrealized(trades, 21005.0, 20.0) == 2 * 5 * 20 + 5 * 20


def test_no_trades_is_zero_and_no_price_is_unknown() -> None:
    assert open_unrealized([], None, 20.0) == 0.0
    assert open_unrealized([OpenTrade("LONG", 1, 21000.0)], None, 20.0) is None


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
    assert "largest difference 200.00 USD" in differ.detail and "broker 300.00" in differ.detail


def test_the_health_view_puts_our_figure_beside_the_brokers(store) -> None:  # type: ignore[no-untyped-def]
    from slob_cli.runtime.pnl_view import unrealized_view

    store.conn.execute("INSERT INTO trades(setup_id, symbol, direction, quantity, entry_price, status) "
                       "VALUES ('s1', 'NQ', 'SHORT', 1, 21000.0, 'OPEN'), ('s0', 'NQ', 'LONG', 1, 20000.0, 'CLOSED')")
    assert unrealized_view(store, "NQ", 20990.0, 190.5) == {"unrealized_pnl": 200.0, "broker_unrealized_pnl": 190.5}
    assert unrealized_view(store, "NQ", None, None) == {"unrealized_pnl": None, "broker_unrealized_pnl": None}
