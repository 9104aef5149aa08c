"""The broker's unrealized P&L (reqPnLSingle) beside the engine's own, against the simulated gateway."""

from __future__ import annotations

from typing import Any

from ib_async import MarketOrder

from slob_cli.adapters.ib.pnl import BrokerPnl
from slob_cli.core.models import Direction
from slob_cli.core.pnl import commission_for, mark_open
from tests.adapters.ib.test_feed_integration import run_feed
from tests.conftest import eventually_async


def test_broker_unrealized_follows_a_position_and_agrees_with_our_computation(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events) -> tuple[float | None, float, float | None, float]:
        broker = BrokerPnl(connection, lambda: feed.contracts["NQ"].future.con_id if "NQ" in feed.contracts else None)
        await eventually_async(lambda: "NQ" in feed.contracts and feed.last_price.get("NQ") is not None)
        before = broker.unrealized()
        trade = connection.ib.placeOrder(feed.contracts["NQ"].ib_contract, MarketOrder("BUY", 1))
        await eventually_async(lambda: trade.orderStatus.status == "Filled")
        entry = trade.orderStatus.avgFillPrice
        count = len(ticks)
        # A few trades later the broker has marked the position; both sides use the last trade.
        await eventually_async(lambda: len(ticks) > count + 5 and broker.unrealized() not in (None, 0.0))
        # Both count the opening commission: IB's unrealized is market value - avgCost, which holds it.
        ours = mark_open(Direction.LONG, 20.0, 1, entry, commission_for("NQ", 1), feed.last_price["NQ"]).unrealized
        return before, entry, broker.unrealized(), ours

    before, entry, broker, ours = run_feed(gateway, scenario)
    assert before in (None, 0.0) and entry > 0
    assert broker is not None and abs(broker - ours) <= 25.0  # the paper report's tolerance


def test_a_1101_restore_renews_the_line_instead_of_failing(gateway: Any) -> None:
    async def scenario(connection, feed, ticks, events) -> tuple[object, float | None]:
        broker = BrokerPnl(connection, lambda: feed.contracts["NQ"].future.con_id if "NQ" in feed.contracts else None)
        await eventually_async(lambda: "NQ" in feed.contracts)
        broker.unrealized()
        first = broker._line
        gateway.send_error(1101)
        await eventually_async(lambda: broker._line is not first)  # the hook asked for the line again
        await eventually_async(lambda: broker.unrealized() is not None)
        return first, broker.unrealized()

    first, value = run_feed(gateway, scenario)
    assert first is not None and value == 0.0  # flat: the renewed line answers
