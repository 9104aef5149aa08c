"""updatePortfolio carries the contract's realized P&L of the trading day, as IB's Account Window does.

The account value RealizedPnL and reqPnL's realized P&L are the same day's, read from the same place
(tests/sim/test_one_realized.py checks all of them together).

IB counts a round trip's commissions in realized P&L (the opening one folded into avgCost, the
closing one deducted), resets the Account Window's realized P&L once a day, and sends it with each
portfolio update, also the one that reports the position flat. Checked with the real ib_async client.
"""

from __future__ import annotations

from datetime import date

import pytest
from ib_async import Fill, MarketOrder, PortfolioItem

from slob_cli.sim.gateway import SimGateway
from slob_cli.sim.ledger import Ledger
from tests.sim.helpers import BUSY_START, connect, run, wait_for
from tests.sim.test_orders import _future

# Two round trips, then a position left open: long 2 closed, short 1 closed, long 1 open.
STEPS = (("BUY", 2), ("SELL", 2), ("SELL", 1), ("BUY", 1), ("BUY", 1))


def _net(opening: Fill, closing: Fill) -> float:
    """Return a closed trade's P&L as IB computes it: the price move times size and multiplier, less both commissions."""
    side = 1.0 if opening.execution.side == "BOT" else -1.0
    move = (closing.execution.price - opening.execution.price) * side * closing.execution.shares * 20.0
    return move - opening.commissionReport.commission - closing.commissionReport.commission


def test_portfolio_realized_pnl_is_the_closed_trades_net_of_commissions() -> None:
    async def body() -> tuple[list[Fill], list[PortfolioItem], list[PortfolioItem], str]:
        async with SimGateway(start=BUSY_START, speed="max", seed=8) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            flat: list[PortfolioItem] = []
            ib.updatePortfolioEvent += lambda item: flat.append(item) if item.position == 0 else None
            fills: list[Fill] = []
            for action, quantity in STEPS:
                trade = ib.placeOrder(contract, MarketOrder(action, quantity))
                await wait_for(lambda t=trade: t.orderStatus.status == "Filled" and bool(t.fills)
                               and all(f.commissionReport.execId for f in t.fills))
                fills += trade.fills
            await wait_for(lambda: [item.position for item in ib.portfolio()] == [1.0])
            portfolio = ib.portfolio()
            [realized] = [v.value for v in ib.accountValues() if v.tag == "RealizedPnL" and v.currency == "USD"]
            ib.disconnect()
            return fills, flat, portfolio, realized

    fills, flat, portfolio, account_realized = run(body())
    first, second = _net(fills[0], fills[1]), _net(fills[2], fills[3])
    assert first != 0.0 and second != 0.0
    # Each closing fill's commission report says the same as the portfolio update that reports it flat.
    assert [round(item.realizedPNL, 2) for item in flat] == [round(first, 2), round(first + second, 2)]
    assert [fills[1].commissionReport.realizedPNL, fills[3].commissionReport.realizedPNL] == [
        pytest.approx(first, abs=0.01), pytest.approx(second, abs=0.01)]
    [item] = portfolio
    assert item.realizedPNL == pytest.approx(first + second, abs=0.01), item  # not 0.0: the day's closed trades
    assert float(account_realized) == pytest.approx(first + second, abs=0.01)  # the account's, the same number


def test_a_contracts_realized_pnl_starts_again_with_the_trading_day() -> None:
    ledger = Ledger(["DU1"], 100_000.0)
    monday, tuesday = date(2026, 3, 9), date(2026, 3, 10)
    ledger.apply_fill("DU1", 1001, "NQ", 20.0, 1, 21000.0, 2.0, day=monday)
    position, _ = ledger.apply_fill("DU1", 1001, "NQ", 20.0, -1, 21010.0, 2.0, day=monday)
    assert position.realized_on(monday) == 196.0 and position.realized_on(tuesday) == 0.0
    ledger.apply_fill("DU1", 1001, "NQ", 20.0, -1, 21010.0, 2.0, day=tuesday)
    ledger.apply_fill("DU1", 1001, "NQ", 20.0, 1, 21000.0, 2.0, day=tuesday)
    assert position.realized_on(tuesday) == 196.0 and position.realized == 392.0
    assert ledger.values("DU1", tuesday)["RealizedPnL"] == 196.0 and ledger.values("DU1")["RealizedPnL"] == 392.0
    assert ledger.values("DU1", date(2026, 3, 11))["RealizedPnL"] == 0.0  # a new day: nothing realized yet
