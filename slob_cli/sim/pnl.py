"""reqPnL / reqPnLSingle: daily, unrealized and realized P&L per account and per contract, pushed on change.

IB's daily P&L counts from the start of the trading day; here a trading day starts at 17:00 Chicago
(the Globex reopen). Realized P&L is the ledger's own figure of the day (each position's closed trades
of that trading day, net of commissions), the same number updatePortfolio and the account value
RealizedPnL carry, so the three cannot disagree. Only unrealized P&L needs a baseline: at the first
update of a new day the gateway takes each line's unrealized P&L of its last update before the turn
(else its current one), and daily = realized of the day + unrealized now - that baseline. On the
broker's first day the baseline is zero (it started that day).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

from slob_cli.sim.ledger import Ledger, trading_day
from slob_cli.sim.protocol import Field
from slob_cli.sim.session import ClientSession, PnlSubscription

Key = tuple[str, int | None]  # (account, conId), conId None for the whole account
__all__ = ["PnlBook", "pnl_message", "trading_day"]


def pnl_message(line: PnlSubscription, values: tuple[float, ...]) -> list[Field]:
    """Return pnl(94) `reqId, daily, unrealized, realized` or pnlSingle(95) `reqId, pos, daily, unr, real, value`."""
    return [94 if line.con_id is None else 95, line.request_id, *values]


class PnlBook:
    """Compute P&L lines from the broker's ledger against the trading day's baseline."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._day: date | None = None
        self._baseline: dict[Key, float] = {}  # unrealized P&L at the day's start
        self._latest: dict[Key, float] = {}  # unrealized P&L last sent

    def _current(self, ledger: Ledger, key: Key, day: date) -> tuple[float, float, float, float]:
        """Return (position, realized of trading day `day`, unrealized, value) of an account or one of its contracts."""
        account, con_id = key
        positions = [p for p in ledger.positions(account) if con_id is None or p.con_id == con_id]
        unrealized = sum(p.unrealized for p in positions)
        realized = ledger.realized_on(account, day, con_id)  # the figure updatePortfolio and RealizedPnL carry
        if con_id is None:
            return 0.0, realized, unrealized, 0.0
        quantity = sum(p.quantity for p in positions)
        value = sum(p.quantity * (p.mark if p.mark is not None else p.average_price) * p.multiplier
                    for p in positions)  # fmt: skip
        return quantity, realized, unrealized, value

    def _roll(self, ledger: Ledger, keys: Iterable[Key]) -> date:
        day = trading_day(self._now())
        if day == self._day:
            return day
        first, self._day = self._day is None, day
        previous, self._baseline = self._latest, {}
        if first:
            return day  # the broker started during this day: its open positions' P&L counts as today's
        known: set[Key] = {(account, None) for account in ledger.realized}
        known |= {(p.account, p.con_id) for p in ledger.positions()}
        for key in known | set(keys):
            if key in previous:  # the last numbers of the day before: the market may have moved since
                self._baseline[key] = previous[key]
            else:
                self._baseline[key] = self._current(ledger, key, day)[2]
        return day

    def values(self, ledger: Ledger, line: PnlSubscription, day: date) -> tuple[float, ...]:
        """Return the numbers a pnl / pnlSingle message carries for one line on trading day `day`."""
        key = (line.account, line.con_id)
        position, realized, unrealized, value = self._current(ledger, key, day)
        self._latest[key] = unrealized
        daily = realized + unrealized - self._baseline.setdefault(key, 0.0)
        numbers = (round(daily, 2), round(unrealized, 2), round(realized, 2))
        if line.con_id is None:
            return numbers
        return (position, *numbers, round(value, 2))

    def publish(self, ledger: Ledger, sessions: Iterable[ClientSession], new: PnlSubscription | None = None) -> None:
        """Send every P&L line whose numbers changed; a new line (just requested) is sent as it is."""
        lines = [(session, line) for session in sessions if session.started for line in session.pnl.values()
                 if new is None or line is new]
        if not lines:
            return
        day = self._roll(ledger, {(line.account, line.con_id) for _, line in lines})
        for session, line in lines:
            values = self.values(ledger, line, day)
            if line is new or values != line.last:
                line.last = values
                session.send(pnl_message(line, values))
