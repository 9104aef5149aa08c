"""One realized P&L at the simulated gateway: updatePortfolio, the account value RealizedPnL and reqPnL agree.

All three are the trading day's closed trades net of both commissions, read from one place (each
position's realized P&L of its day, kept by the ledger). reqPnL had kept its own baseline, taken from
the numbers it last sent: a round trip closed while nobody listened to reqPnL was then counted as the
next day's realized P&L, while the portfolio and the account value (rightly) said 0.
Checked with the real ib_async client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from ib_async import IB, Fill, Future, MarketOrder

from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import run, wait_for
from tests.sim.test_orders import _future

UTC = timezone.utc
ACCOUNT = "DU1234567"
LATE = datetime(2026, 3, 10, 20, 40, tzinfo=UTC)  # 15:40 Chicago, 20 minutes before the daily close
NEXT_DAY = datetime(2026, 3, 10, 22, 5, tzinfo=UTC)  # 17:05 Chicago: the Globex reopen began the next trading day


@dataclass
class Figures:
    """The realized P&L of the day as an IB-style client reads it in each place."""

    portfolio: float | None  # the contract's latest updatePortfolio realizedPNL, flat lines too (None: none came)
    account: float  # ib.accountValues() RealizedPnL (USD)
    pnl: float  # ib.reqPnL(account).realizedPnL
    pnl_single: float  # ib.reqPnLSingle(account, '', conId).realizedPnL


async def _round_trip(ib: IB, contract: Future) -> float:
    """Buy 1, sell 1; return the trade's net as IB computes it (the move x 20, less both commissions)."""
    fills: list[Fill] = []
    for action in ("BUY", "SELL"):
        trade = ib.placeOrder(contract, MarketOrder(action, 1))
        await wait_for(lambda t=trade: t.orderStatus.status == "Filled" and bool(t.fills)
                       and all(f.commissionReport.execId for f in t.fills))
        fills += trade.fills
    opening, closing = fills
    assert opening.commissionReport.commission > 0 and closing.commissionReport.commission > 0
    move = (closing.execution.price - opening.execution.price) * 20.0
    net = move - opening.commissionReport.commission - closing.commissionReport.commission
    assert closing.commissionReport.realizedPNL == pytest.approx(net, abs=0.01)
    return net


async def connect_noting_portfolio(host: str, port: int, client_id: int, portfolio: dict[int, float]) -> IB:
    """Connect an ib_async client that notes each contract's latest updatePortfolio realizedPNL (flat ones too)."""
    ib = IB()
    ib.updatePortfolioEvent += lambda item: portfolio.__setitem__(item.contract.conId, item.realizedPNL)
    await ib.connectAsync(host, port, clientId=client_id, timeout=3.0)
    return ib


async def read_figures(ib: IB, contract: Future, expected: float, portfolio: dict[int, float]) -> Figures:
    """Subscribe reqPnL and reqPnLSingle, wait for their first numbers, read all four, then cancel them."""
    account_pnl = ib.reqPnL(ACCOUNT)
    single = ib.reqPnLSingle(ACCOUNT, "", contract.conId)
    await wait_for(lambda: account_pnl.realizedPnL == account_pnl.realizedPnL  # not NaN: the first message came
                   and single.realizedPnL == single.realizedPnL)
    # updatePortfolio and the account value arrive on their own: wait until they say the day's figure.
    await wait_for(lambda: _account_realized(ib) == pytest.approx(expected, abs=0.01))
    latest = portfolio.get(contract.conId)
    figures = Figures(portfolio=None if latest is None else round(latest, 2),
                      account=round(_account_realized(ib), 2), pnl=round(account_pnl.realizedPnL, 2),
                      pnl_single=round(single.realizedPnL, 2))
    ib.cancelPnL(ACCOUNT)
    ib.cancelPnLSingle(ACCOUNT, "", contract.conId)
    return figures


def _account_realized(ib: IB) -> float:
    [value] = [v.value for v in ib.accountValues() if v.tag == "RealizedPnL" and v.currency == "USD"]
    return float(value)


def test_portfolio_account_value_and_reqpnl_say_the_same_realized_pnl_across_the_day_turn() -> None:
    async def body() -> tuple[float, float, Figures, Figures]:
        async with SimGateway(start=LATE, speed="max", seed=3, accounts=[ACCOUNT]) as gateway:
            portfolio: dict[int, float] = {}
            ib = await connect_noting_portfolio(gateway.host, gateway.port, 1, portfolio)
            contract = await _future(ib)
            first = await _round_trip(ib, contract)
            today = await read_figures(ib, contract, first, portfolio)
            # A second round trip while nobody listens to reqPnL, then the trading day turns.
            second = await _round_trip(ib, contract)
            await wait_for(lambda: _account_realized(ib) == pytest.approx(first + second, abs=0.01))
            ib.disconnect()
            await gateway.advance_market(NEXT_DAY)
            portfolio = {}
            ib = await connect_noting_portfolio(gateway.host, gateway.port, 2, portfolio)
            next_day = await read_figures(ib, contract, 0.0, portfolio)
            ib.disconnect()
            return first, second, today, next_day

    first, second, today, next_day = run(body(), timeout=60.0)
    assert first != 0.0 and second != 0.0
    # The first round trip's net, the same in the four places.
    net = round(first, 2)
    assert today == Figures(portfolio=net, account=net, pnl=net, pnl_single=net)
    # The next trading day: nothing realized yet, wherever it is read (the flat contract's portfolio line too).
    assert next_day == Figures(portfolio=0.0, account=0.0, pnl=0.0, pnl_single=0.0)
