"""core/pnl: one trade's result from its fills (the numbers every screen shows)."""

from __future__ import annotations

from slob_cli.core.models import Direction
from slob_cli.core.pnl import FillLine, mark_open, money_text, points_text, price_text, trade_result


def test_short_trade_net_is_gross_minus_entry_and_exit_commission() -> None:
    result = trade_result(Direction.SHORT, 20.0, [FillLine(1, 25477.75, 2.25)], [FillLine(1, 25406.0, 2.25)])
    assert (result.points, result.gross, result.entry_commission, result.exit_commission) == (71.75, 1435.0, 2.25, 2.25)
    assert result.net == 1430.5 and result.commission == 4.5 and result.settled


def test_missing_exit_commission_keeps_the_result_unsettled() -> None:
    result = trade_result(Direction.LONG, 2.0, [FillLine(2, 100.0, 1.24)], [FillLine(2, 101.25, None)])
    assert result.closed and not result.settled and result.commission_pending
    assert result.gross == 5.0 and result.net == 3.76


def test_partial_exit_is_not_closed_and_averages_prices() -> None:
    result = trade_result(Direction.LONG, 20.0, [FillLine(1, 100.0, 1.0), FillLine(1, 101.0, 1.0)],
                          [FillLine(1, 102.0, 1.0)])
    assert result.entry_price == 100.5 and not result.closed and result.points == 1.5 and result.gross == 30.0
    assert trade_result(Direction.LONG, 20.0, [FillLine(1, 100.0, 1.0)], []).net is None


def test_open_position_is_marked_with_distance_to_stop_and_target() -> None:
    marked = mark_open(Direction.SHORT, 20.0, 1, 25477.75, 2.25, 25470.0, stop=25490.0, target=25400.0)
    assert marked.points == 7.75 and marked.unrealized == 152.75
    assert marked.to_stop == 20.0 and marked.to_target == 70.0


def test_a_short_closed_at_its_entry_price_made_zero_not_minus_zero() -> None:
    # A position closed outside slob whose closing price the broker no longer reports is booked at the entry
    # price: the log line, the event and the alert read 0.00 points, not -0.00.
    result = trade_result(Direction.SHORT, 20.0, [FillLine(1, 25571.75, 2.25)], [FillLine(1, 25571.75, 0.0)])
    assert f"{result.points:.2f} {result.gross:.2f}" == "0.00 0.00", (result.points, result.gross)


def test_money_reads_signed_dollars_to_the_cent_and_never_minus_zero() -> None:
    assert [money_text(v) for v in (1410.5, -7.25, 1_234_567.891, None)] == [
        "$+1,410.50", "$-7.25", "$+1,234,567.89", "-"]
    # An amount that rounds to zero has no sign of its own: `$-0.00` would read as a loss.
    assert [money_text(v) for v in (-0.0, -0.004, 0.004)] == ["$+0.00"] * 3
    # Amounts never negative by nature (commission, drawdown, equity) carry no sign.
    assert [money_text(v, signed=False) for v in (4.5, 100_000.0, -0.001, None)] == ["$4.50", "$100,000.00", "$0.00", "-"]


def test_prices_read_thousands_separated_on_two_decimals_and_points_always_signed() -> None:
    # NQ's ticks are 0.25: two decimals are exact; `:g` had written 25571.75 as 25571.8.
    assert [price_text(v) for v in (25571.75, 25501.0, 0.25, 25571.333, None)] == [
        "25,571.75", "25,501.00", "0.25", "25,571.33", "-"]
    assert [points_text(v) for v in (70.75, -20.25, 1002.5, None)] == ["+70.75", "-20.25", "+1,002.50", "-"]
    # Points that round to zero have no sign of their own: a short closed at its entry did not lose.
    assert [points_text(v) for v in (-0.0, -0.004, 0.004)] == ["+0.00"] * 3
