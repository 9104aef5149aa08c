"""SimBroker: matching, brackets, OCA, partial fills, DAY expiry, rejections, cancels, P&L, accounts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slob_cli.sim.broker import (
    AccountUpdate,
    Fill,
    OrderRejected,
    OrderUpdate,
    PositionUpdate,
    SimBroker,
    SimOrder,
)
from slob_cli.sim.market import MarketTick

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
NQ, MNQ = 620730920, 620731015
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # 10:00 New York


def quote(price: float, at: datetime = NOW) -> MarketTick:
    """Return a trade at price with the quote one tick wide (trade at the ask)."""
    return MarketTick(at, price, 1, price - 0.25, price, 10, 10)


def order(
    order_id: int, action: str, quantity: float, order_type: str = "MKT", limit: float | None = None,
    stop: float | None = None, client_id: int = 1, account: str = "DU111", symbol: str = "NQ", **fields: object,
) -> SimOrder:  # fmt: skip
    con_id, multiplier = (NQ, 20.0) if symbol == "NQ" else (MNQ, 2.0)
    return SimOrder(
        order_id, client_id, 0, account, con_id, symbol, f"{symbol}M6", multiplier, action, quantity, order_type,
        limit, stop, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def fills(events: list[object]) -> list[Fill]:
    return [event for event in events if isinstance(event, Fill)]


def statuses(events: list[object]) -> list[tuple[int, str]]:
    return [(e.order.order_id, e.order.status) for e in events if isinstance(e, OrderUpdate)]


def rejection(events: list[object]) -> OrderRejected:
    found = [event for event in events if isinstance(event, OrderRejected)]
    assert len(found) == 1, events
    return found[0]


@pytest.fixture
def broker() -> SimBroker:
    return SimBroker(["DU111", "DU222"])


# ---------------------------------------------------------------------- matching
def test_market_orders_fill_at_the_ask_when_buying_and_the_bid_when_selling(broker: SimBroker) -> None:
    bought = fills(broker.place_order(order(1, "BUY", 2), NOW, quote(25_000.0)))
    sold = fills(broker.place_order(order(2, "SELL", 1), NOW, quote(25_010.0)))
    assert [(f.execution.side, f.execution.shares, f.execution.price) for f in bought + sold] == [
        ("BOT", 2.0, 25_000.0), ("SLD", 1.0, 25_009.75)
    ]  # fmt: skip
    assert bought[0].order.status == "Filled" and bought[0].order.avg_fill_price == 25_000.0


def test_market_order_without_a_quote_waits_for_the_first_tick(broker: SimBroker) -> None:
    assert statuses(broker.place_order(order(1, "BUY", 1), NOW, None)) == [(1, "Submitted")]
    events = broker.on_tick(NQ, MarketTick(NOW, 25_000.0, 3, 24_999.75, 25_000.25, 5, 5), NOW)
    assert [f.execution.price for f in fills(events)] == [25_000.25]


def test_resting_limit_fills_at_its_price_only_when_the_trade_reaches_it(broker: SimBroker) -> None:
    assert fills(broker.place_order(order(1, "BUY", 1, "LMT", 24_990.0), NOW, quote(25_000.0))) == []
    assert fills(broker.on_tick(NQ, quote(24_990.25), NOW)) == []
    events = broker.on_tick(NQ, quote(24_989.0), NOW)
    assert [(f.execution.price, f.order.status) for f in fills(events)] == [(24_990.0, "Filled")]


def test_marketable_limit_fills_at_once_at_the_better_quote(broker: SimBroker) -> None:
    events = broker.place_order(order(1, "SELL", 1, "LMT", 24_990.0), NOW, quote(25_000.0))
    assert [f.execution.price for f in fills(events)] == [24_999.75]


def test_stop_triggers_on_a_touching_trade_and_fills_at_that_trade(broker: SimBroker) -> None:
    broker.place_order(order(1, "SELL", 1, "STP", stop=24_980.0), NOW, quote(25_000.0))
    assert fills(broker.on_tick(NQ, quote(24_980.25), NOW)) == []
    assert [f.execution.price for f in fills(broker.on_tick(NQ, quote(24_979.5), NOW))] == [24_979.5]


def test_stop_limit_becomes_a_limit_when_the_trigger_trade_is_beyond_it(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, "STP LMT", limit=25_021.0, stop=25_020.0), NOW, quote(25_000.0))
    assert fills(broker.on_tick(NQ, quote(25_023.0), NOW)) == []  # triggered, but above the limit
    assert fills(broker.on_tick(NQ, quote(25_022.0), NOW)) == []
    assert [f.execution.price for f in fills(broker.on_tick(NQ, quote(25_020.5), NOW))] == [25_021.0]


def test_replacing_a_working_order_modifies_its_price(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, "LMT", 24_900.0), NOW, quote(25_000.0))
    events = broker.place_order(order(1, "BUY", 1, "LMT", 24_995.0), NOW, None)
    assert [e.order.limit_price for e in events if isinstance(e, OrderUpdate)] == [24_995.0]
    assert [f.execution.price for f in fills(broker.on_tick(NQ, quote(24_995.0), NOW))] == [24_995.0]
    assert rejection(broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0), NOW, None)).code == 104


# ---------------------------------------------------------------------- brackets and OCA
def _bracket(broker: SimBroker, entry: float = 25_000.0) -> list[object]:
    first = broker.place_order(order(1, "BUY", 1, "LMT", entry, transmit=False), NOW, quote(25_010.0))
    second = broker.place_order(order(2, "SELL", 1, "LMT", entry + 40, parent_id=1, transmit=False), NOW, None)
    assert first == [] and second == []  # held: IB does not see untransmitted orders
    assert broker.open_orders() == []
    return broker.place_order(order(3, "SELL", 1, "STP", stop=entry - 20, parent_id=1), NOW, None)


def test_bracket_children_are_held_until_transmitted_and_wait_for_the_parent_fill(broker: SimBroker) -> None:
    released = _bracket(broker)
    assert statuses(released) == [(1, "Submitted"), (2, "PreSubmitted"), (3, "PreSubmitted")]
    assert fills(broker.on_tick(NQ, quote(25_045.0), NOW)) == []  # the take-profit child is not active yet
    events = broker.on_tick(NQ, quote(25_000.0), NOW)
    assert [f.order.order_id for f in fills(events)] == [1]
    assert statuses(events)[-2:] == [(2, "Submitted"), (3, "Submitted")]
    exit_events = broker.on_tick(NQ, quote(25_040.0), NOW + timedelta(minutes=5))
    assert [(f.order.order_id, f.execution.price) for f in fills(exit_events)] == [(2, 25_040.0)]
    assert (3, "Cancelled") in statuses(exit_events)
    assert broker.positions("DU111") == [("DU111", NQ, 0.0, 0.0)]
    assert broker.open_orders() == []


def test_partially_filled_parent_keeps_its_children_waiting(broker: SimBroker) -> None:
    broker.partial_fill_next(1)
    broker.place_order(order(1, "BUY", 2, "LMT", 25_000.0, transmit=False), NOW, quote(25_010.0))
    broker.place_order(order(2, "SELL", 2, "STP", stop=24_950.0, parent_id=1), NOW, None)
    events = broker.on_tick(NQ, quote(25_000.0), NOW)
    assert [(f.execution.shares, f.order.status) for f in fills(events)] == [(1.0, "Submitted")]
    assert [o.status for o in broker.open_orders() if o.order_id == 2] == ["PreSubmitted"]
    events = broker.on_tick(NQ, quote(25_000.0), NOW)
    assert [(f.execution.shares, f.order.status) for f in fills(events)] == [(1.0, "Filled")]
    assert (2, "Submitted") in statuses(events)


def test_partial_fill_holding_the_rest_never_fills_it_until_cancelled(broker: SimBroker) -> None:
    broker.partial_fill_next(1, hold_rest=True)
    broker.place_order(order(1, "BUY", 3, "MKT"), NOW, quote(25_010.0))
    assert [(o.filled, o.status) for o in broker.open_orders() if o.order_id == 1] == [(1.0, "Submitted")]
    events = broker.on_tick(NQ, quote(25_000.0), NOW + timedelta(seconds=30))
    assert fills(events) == []
    events = broker.cancel_order(1, 1, NOW + timedelta(minutes=1))
    assert (1, "Cancelled") in statuses(events)
    assert [position[2] for position in broker.positions("DU111")] == [1.0]


def test_withheld_fills_leave_orders_working_until_liquidity_is_back(broker: SimBroker) -> None:
    broker.withhold_fills(True)
    broker.place_order(order(1, "BUY", 1, "MKT"), NOW, quote(25_010.0))
    assert fills(broker.on_tick(NQ, quote(25_000.0), NOW + timedelta(seconds=30))) == []
    assert [(o.filled, o.status) for o in broker.open_orders()] == [(0.0, "Submitted")]
    broker.withhold_fills(False)
    assert [f.execution.shares for f in fills(broker.on_tick(NQ, quote(25_001.0), NOW + timedelta(minutes=1)))] == [1.0]


def test_cancelling_a_bracket_parent_cancels_its_children(broker: SimBroker) -> None:
    _bracket(broker)
    events = broker.cancel_order(1, 1, NOW)
    assert [(e.order_id, e.code) for e in events if isinstance(e, OrderRejected)] == [(1, 202), (2, 202), (3, 202)]
    assert statuses(events) == [(1, "Cancelled"), (2, "Cancelled"), (3, "Cancelled")]


def test_oca_fill_cancels_the_other_members(broker: SimBroker) -> None:
    broker.place_order(order(1, "SELL", 1, "LMT", 25_050.0, oca_group="exit", oca_type=1, tif="GTC"), NOW, quote(25_000.0))
    broker.place_order(order(2, "SELL", 1, "STP", stop=24_950.0, oca_group="exit", oca_type=1), NOW, None)
    broker.place_order(order(3, "SELL", 1, "LMT", 25_100.0, oca_group="other", oca_type=1), NOW, None)
    events = broker.on_tick(NQ, quote(24_949.0), NOW)
    assert [f.order.order_id for f in fills(events)] == [2]
    assert (1, "Cancelled") in statuses(events)
    assert [o.order_id for o in broker.open_orders()] == [3]


def _exit_bracket(broker: SimBroker, oca_type: int, quantity: int = 3) -> None:
    """A filled BUY parent of `quantity` whose target and stop also share an explicit OCA group (slob's brackets)."""
    broker.place_order(order(1, "BUY", quantity, "MKT", transmit=False), NOW, quote(25_000.0))
    broker.place_order(order(2, "SELL", quantity, "LMT", 25_040.0, parent_id=1, oca_group="exit", oca_type=oca_type,
                             tif="GTC", transmit=False), NOW, None)
    broker.place_order(order(3, "SELL", quantity, "STP", stop=24_960.0, parent_id=1, oca_group="exit",
                             oca_type=oca_type, tif="GTC"), NOW, quote(25_000.0))
    assert [position[2] for position in broker.positions("DU111")] == [float(quantity)]


def _updates_of(events: list[object], order_id: int) -> list[tuple[float, str]]:
    return [(e.order.quantity, e.order.status) for e in events if isinstance(e, OrderUpdate) and e.order.order_id == order_id]


def test_partial_fill_in_a_reduce_type_bracket_group_reduces_the_sibling_once(broker: SimBroker) -> None:
    _exit_bracket(broker, oca_type=2)
    broker.partial_fill_next(1)
    events = broker.on_tick(NQ, quote(25_040.0), NOW + timedelta(minutes=1))
    assert [(f.order.order_id, f.execution.shares) for f in fills(events)] == [(2, 1.0)]
    assert _updates_of(events, 3) == [(2.0, "Submitted")], "one reduction by the one lot filled, not two"
    [stop] = [o for o in broker.open_orders() if o.order_id == 3]
    assert stop.remaining == 2.0 and [position[2] for position in broker.positions("DU111")] == [2.0]
    events = broker.on_tick(NQ, quote(25_041.0), NOW + timedelta(minutes=2))
    assert [(f.order.order_id, f.execution.shares) for f in fills(events)] == [(2, 2.0)]
    assert _updates_of(events, 3) == [(0.0, "Cancelled")]
    assert broker.open_orders() == [] and [position[2] for position in broker.positions("DU111")] == [0.0]


def test_stop_closes_the_rest_after_a_partial_target_fill_in_a_reduce_type_group(broker: SimBroker) -> None:
    _exit_bracket(broker, oca_type=2, quantity=2)
    broker.partial_fill_next(1, hold_rest=True)
    broker.on_tick(NQ, quote(25_040.0), NOW + timedelta(minutes=1))
    events = broker.on_tick(NQ, quote(24_950.0), NOW + timedelta(minutes=2))
    assert [(f.order.order_id, f.execution.shares) for f in fills(events)] == [(3, 1.0)]
    assert _updates_of(events, 2) == [(1.0, "Cancelled")], "the target's unfilled rest reduced away"
    assert broker.open_orders() == [] and [position[2] for position in broker.positions("DU111")] == [0.0]


def test_partial_fill_in_a_cancel_type_group_cancels_the_stop(broker: SimBroker) -> None:
    # IB's ocaType 1: any fill, even of part of one order, cancels the others. slob's exits use type 2 for this.
    _exit_bracket(broker, oca_type=1, quantity=2)
    broker.partial_fill_next(1, hold_rest=True)
    events = broker.on_tick(NQ, quote(25_040.0), NOW + timedelta(minutes=1))
    assert _updates_of(events, 3) == [(2.0, "Cancelled")]
    assert [position[2] for position in broker.positions("DU111")] == [1.0]


# ---------------------------------------------------------------------- partial fills and expiry
def test_partial_fill_fault_fills_part_and_leaves_the_rest_working(broker: SimBroker) -> None:
    broker.partial_fill_next(1)
    events = broker.place_order(order(1, "BUY", 3), NOW, quote(25_000.0))
    assert [(f.execution.shares, f.order.filled, f.order.remaining, f.order.status) for f in fills(events)] == [
        (1.0, 1.0, 2.0, "Submitted")
    ]
    later = fills(broker.on_tick(NQ, quote(25_001.0), NOW))
    assert [(f.execution.shares, f.execution.cum_qty, f.order.status) for f in later] == [(2.0, 3.0, "Filled")]
    assert later[0].order.avg_fill_price == pytest.approx((25_000.0 + 2 * 25_001.0) / 3)


def test_day_orders_expire_at_the_new_york_close_and_gtc_orders_stay(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0), NOW, quote(25_000.0))
    broker.place_order(order(2, "BUY", 1, "LMT", 24_000.0, tif="GTC"), NOW, None)
    just_before = datetime(2026, 3, 10, 15, 59, 59, tzinfo=NEW_YORK)
    assert statuses(broker.on_tick(NQ, quote(25_000.0, just_before), just_before)) == []
    after_close = datetime(2026, 3, 10, 16, 0, 1, tzinfo=NEW_YORK)
    events = broker.on_tick(NQ, quote(23_999.0, after_close), after_close)
    assert statuses(events)[0] == (1, "Cancelled")
    assert [f.order.order_id for f in fills(events)] == [2]


def test_day_order_placed_in_the_evening_lives_until_the_next_close(broker: SimBroker) -> None:
    evening = datetime(2026, 3, 10, 18, 30, tzinfo=NEW_YORK)
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0), evening, quote(25_000.0))
    next_morning = datetime(2026, 3, 11, 9, 30, tzinfo=NEW_YORK)
    assert broker.on_tick(NQ, quote(25_000.0, next_morning), next_morning)[:1] == []
    next_close = datetime(2026, 3, 11, 16, 0, tzinfo=NEW_YORK)
    assert statuses(broker.on_tick(NQ, quote(25_000.0, next_close), next_close)) == [(1, "Cancelled")]


# ---------------------------------------------------------------------- rejections and cancels
@pytest.mark.parametrize(
    ("bad", "code", "text"),
    [
        (order(1, "BUY", 1, "LMT", 25_000.1), 110, "minimum price variation"),
        (order(1, "BUY", 1, "STP", stop=25_000.3), 110, "minimum price variation"),
        (order(1, "BUY", 0), 321, "quantity"),
        (order(1, "BUY", -2), 321, "quantity"),
        (order(1, "SELL", 1, "STP", stop=24_000.0, parent_id=99), 321, "parent order 99 is unknown"),
        (order(1, "BUY", 1, account="DU999"), 321, "unknown account"),
        (order(1, "BUY", 1, account="U1234567"), 321, "live accounts are refused by this simulated gateway"),
        (order(1, "BUY", 1, "LMT"), 321, "needs its price"),
    ],
)
def test_orders_breaking_a_rule_are_rejected_with_ibs_code(broker: SimBroker, bad: SimOrder, code: int, text: str) -> None:
    found = rejection(broker.place_order(bad, NOW, quote(25_000.0)))
    assert (found.order_id, found.code) == (1, code) and text in found.message
    assert broker.open_orders() == [] and broker.executions() == []


def test_live_account_is_accepted_when_allowed() -> None:
    broker = SimBroker(["U1234567"], allow_live_accounts=True)
    events = broker.place_order(order(1, "BUY", 1, account="U1234567"), NOW, quote(25_000.0))
    assert len(fills(events)) == 1


def test_reject_next_order_refuses_exactly_one_order(broker: SimBroker) -> None:
    broker.reject_next_order("margin check failed")
    found = rejection(broker.place_order(order(1, "BUY", 1), NOW, quote(25_000.0)))
    assert found.code == 201 and "margin check failed" in found.message
    assert len(fills(broker.place_order(order(2, "BUY", 1), NOW, quote(25_000.0)))) == 1


def test_cancel_reports_unknown_and_finished_orders(broker: SimBroker) -> None:
    assert rejection(broker.cancel_order(1, 77, NOW)).code == 10147
    broker.place_order(order(1, "BUY", 1), NOW, quote(25_000.0))
    found = rejection(broker.cancel_order(1, 1, NOW))
    assert found.code == 10148 and "Filled" in found.message
    broker.place_order(order(2, "BUY", 1, "LMT", 24_000.0), NOW, None)
    events = broker.cancel_order(1, 2, NOW)
    assert rejection(events).code == 202 and statuses(events) == [(2, "Cancelled")]
    assert [o.order_id for o in broker.completed_orders()] == [1, 2]


def test_global_cancel_cancels_every_clients_working_orders(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0), NOW, quote(25_000.0))
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0, client_id=2), NOW, None)
    _ = broker.place_order(order(5, "BUY", 1, "LMT", 24_500.0, transmit=False), NOW, None)
    events = broker.global_cancel(NOW)
    assert sorted((e.order.client_id, e.order.order_id) for e in events if isinstance(e, OrderUpdate)) == [
        (1, 1), (1, 5), (2, 1)
    ]  # fmt: skip
    assert broker.open_orders() == []


def test_perm_ids_are_unique_and_non_zero(broker: SimBroker) -> None:
    for order_id in range(1, 6):
        broker.place_order(order(order_id, "BUY", 1, "LMT", 24_000.0), NOW, quote(25_000.0))
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0, client_id=2), NOW, None)
    perm_ids = [o.perm_id for o in broker.open_orders()]
    assert len(perm_ids) == 6 and len(set(perm_ids)) == 6 and 0 not in perm_ids


# ---------------------------------------------------------------------- money
def test_commissions_realized_pnl_and_account_values_follow_the_fills(broker: SimBroker) -> None:
    opened = broker.place_order(order(1, "BUY", 2), NOW, quote(25_000.0))
    first = fills(opened)[0].execution
    assert (first.commission, first.realized_pnl) == (4.50, None)
    # IB's avgCost of a future is price x multiplier with the opening commission folded in.
    assert [e for e in opened if isinstance(e, PositionUpdate)] == [PositionUpdate("DU111", NQ, 2.0, 500_002.25)]
    broker.mark(NQ, 25_005.0)
    values = broker.account_values("DU111")
    # Unrealized is market value - avgCost (the opening commission counted); net liquidation adds
    # only the price move to the cash, which has already paid that commission.
    assert values["UnrealizedPnL"] == "195.50"
    assert values["TotalCashValue"] == "99995.50"
    assert values["NetLiquidation"] == "100195.50"
    assert values["InitMarginReq"] == "66000.00" and values["MaintMarginReq"] == "60000.00"
    assert values["AvailableFunds"] == "34195.50"
    assert values["GrossPositionValue"] == "1000200.00"
    closed = broker.place_order(order(2, "SELL", 1), NOW, MarketTick(NOW, 25_010.0, 1, 25_010.0, 25_010.25, 1, 1))
    execution = fills(closed)[0].execution
    # 10 points x $20, less this contract's opening and closing commission (2.25 each).
    assert (execution.commission, execution.realized_pnl) == (2.25, 195.50)
    account = next(e for e in closed if isinstance(e, AccountUpdate)).values
    assert account["RealizedPnL"] == "195.50"
    assert account["TotalCashValue"] == f"{100_000 - 4.50 - 2.25 + 200:.2f}"
    assert broker.positions("DU111") == [("DU111", NQ, 1.0, 500_002.25)]
    assert broker.account_values("DU222")["NetLiquidation"] == "100000.00"


def test_short_round_trip_and_a_flip_book_pnl_and_the_new_average(broker: SimBroker) -> None:
    broker.place_order(order(1, "SELL", 1, symbol="MNQ"), NOW, MarketTick(NOW, 25_000.0, 1, 25_000.0, 25_000.25, 1, 1))
    flip = broker.place_order(order(2, "BUY", 3, symbol="MNQ"), NOW, quote(24_990.0))
    execution = fills(flip)[0].execution
    assert execution.commission == pytest.approx(1.86)
    # 10 points x $2 on the covered contract, less 0.62 opening and 0.62 closing commission.
    assert execution.realized_pnl == pytest.approx(18.76)
    assert broker.positions("DU111") == [("DU111", MNQ, 2.0, pytest.approx(24_990.0 * 2 + 0.62))]


def test_executions_can_be_filtered(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1), NOW, quote(25_000.0))
    broker.place_order(order(1, "SELL", 1, client_id=2, symbol="MNQ", account="DU222"), NOW + timedelta(hours=1), quote(25_000.0))
    assert [e.client_id for e in broker.executions(client_id=2)] == [2]
    assert [e.side for e in broker.executions(side="BUY")] == ["BOT"]
    assert [e.symbol for e in broker.executions(symbol="MNQ")] == ["MNQ"]
    assert [e.account for e in broker.executions(account="DU111")] == ["DU111"]
    assert [e.client_id for e in broker.executions(since=NOW + timedelta(minutes=30))] == [2]
    assert len({e.exec_id for e in broker.executions()}) == 2


# ---------------------------------------------------------------------- properties
_ORDER_SPECS = st.tuples(
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 4),
    st.sampled_from(["MKT", "LMT", "STP", "STP LMT"]),
    st.integers(-20, 20),
    st.sampled_from(["", "A", "B"]),
)
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("order"), _ORDER_SPECS),
        st.tuples(st.just("tick"), st.integers(-40, 40)),
        st.tuples(st.just("cancel"), st.integers(1, 30)),
        st.tuples(st.just("partial"), st.integers(1, 3)),
        st.tuples(st.just("bracket"), st.tuples(st.sampled_from(["BUY", "SELL"]), st.integers(1, 3), st.integers(-8, 8))),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_STEPS)
def test_position_is_the_signed_sum_of_executions_and_oca_groups_fill_once(steps: list[tuple[str, object]]) -> None:
    broker = SimBroker(["DU111"])
    now, price, next_id = NOW, 25_000.0, 1
    brackets: dict[int, tuple[int, int]] = {}
    for kind, value in steps:
        now += timedelta(seconds=1)
        if kind == "order":
            action, quantity, order_type, offset, group = value  # type: ignore[misc]
            level = price + offset * 0.25
            limit = level if order_type in ("LMT", "STP LMT") else None
            stop = level if order_type in ("STP", "STP LMT") else None
            new = order(next_id, action, quantity, order_type, limit, stop, oca_group=group, oca_type=1 if group else 0)
            broker.place_order(new, now, quote(price, now))
            next_id += 1
        elif kind == "tick":
            price += value * 0.25  # type: ignore[operator]
            broker.on_tick(NQ, quote(price, now), now)
        elif kind == "bracket":
            action, quantity, offset = value  # type: ignore[misc]
            entry = price + offset * 0.25
            exit_side, sign = ("SELL", 1) if action == "BUY" else ("BUY", -1)
            broker.place_order(order(next_id, action, quantity, "LMT", entry, transmit=False), now, quote(price, now))
            broker.place_order(order(next_id + 1, exit_side, quantity, "LMT", entry + sign * 2.0, parent_id=next_id,
                                     transmit=False), now, None)  # fmt: skip
            broker.place_order(order(next_id + 2, exit_side, quantity, "STP", stop=entry - sign * 2.0,
                                     parent_id=next_id), now, None)  # fmt: skip
            brackets[next_id] = (next_id + 1, next_id + 2)
            next_id += 3
        elif kind == "cancel":
            broker.cancel_order(1, value, now)  # type: ignore[arg-type]
        else:
            broker.partial_fill_next(value)  # type: ignore[arg-type]
    executions = broker.executions()
    signed = sum(e.shares if e.side == "BOT" else -e.shares for e in executions)
    position = sum(p[2] for p in broker.positions())
    assert position == pytest.approx(signed)
    orders = {o.order_id: o for o in broker.completed_orders() + broker.open_orders()}
    filled_by_order: dict[int, float] = defaultdict(float)
    for execution in executions:
        filled_by_order[execution.order_id] += execution.shares
    for order_id, filled in filled_by_order.items():
        assert orders[order_id].filled == pytest.approx(filled) and filled <= orders[order_id].quantity
    filled_members: dict[str, set[int]] = defaultdict(set)
    for execution in executions:
        group = orders[execution.order_id].oca_group
        if group and not orders[execution.order_id].oca_auto:  # a bracket's own group reduces (checked below)
            filled_members[group].add(execution.order_id)
    assert all(len(members) == 1 for members in filled_members.values())
    for parent_id, children in brackets.items():
        parent_fills = [index for index, e in enumerate(executions) if e.order_id == parent_id]
        child_fills = [index for index, e in enumerate(executions) if e.order_id in children]
        assert sum(executions[index].shares for index in child_fills) <= orders[parent_id].quantity
        if child_fills:  # children work only after the parent is completely filled
            assert orders[parent_id].status == "Filled" and max(parent_fills) < min(child_fills)


def test_order_joining_an_already_filled_oca_group_is_rejected(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, oca_group="once", oca_type=1), NOW, quote(25_000.0))
    found = rejection(broker.place_order(order(2, "BUY", 1, oca_group="once", oca_type=1), NOW, quote(25_000.0)))
    assert found.code == 201 and "already been filled" in found.message


def test_active_con_ids_cover_working_orders_and_open_positions(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, symbol="MNQ"), NOW, quote(25_000.0))
    broker.place_order(order(2, "BUY", 1, "LMT", 24_000.0), NOW, None)
    assert broker.active_con_ids() == {NQ, MNQ}
    broker.cancel_order(1, 2, NOW)
    assert broker.active_con_ids() == {MNQ}


def test_expire_cancels_day_orders_without_a_tick(broker: SimBroker) -> None:
    broker.place_order(order(1, "BUY", 1, "LMT", 24_000.0), NOW, quote(25_000.0))
    assert broker.expire(NOW + timedelta(hours=1)) == []
    assert statuses(broker.expire(datetime(2026, 3, 10, 16, 0, tzinfo=NEW_YORK))) == [(1, "Cancelled")]
