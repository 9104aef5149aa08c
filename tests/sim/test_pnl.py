"""reqPnL numbers: realized and daily P&L start again at the 17:00 Chicago trading-day boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from slob_cli.sim.ledger import Ledger
from slob_cli.sim.pnl import PnlBook, trading_day
from slob_cli.sim.session import PnlSubscription

UTC = timezone.utc
ACCOUNT = "DU1"
NQ = 1001


@dataclass
class _Session:
    """The parts of a ClientSession the P&L book uses."""

    pnl: dict[int, PnlSubscription]
    started: bool = True
    sent: list[list[object]] = field(default_factory=list)

    def send(self, fields: list[object]) -> None:
        self.sent.append(fields)


def test_the_trading_day_turns_at_17_chicago() -> None:
    assert str(trading_day(datetime(2026, 3, 10, 21, 59, tzinfo=UTC))) == "2026-03-10"  # 16:59 CDT
    assert str(trading_day(datetime(2026, 3, 10, 22, 0, tzinfo=UTC))) == "2026-03-11"  # 17:00 CDT


def test_daily_and_realized_restart_with_the_trading_day_while_unrealized_carries_on() -> None:
    now = [datetime(2026, 3, 10, 15, 0, tzinfo=UTC)]
    book = PnlBook(lambda: now[0])
    ledger = Ledger([ACCOUNT], 100_000.0)
    session = _Session({1: PnlSubscription(1, ACCOUNT), 2: PnlSubscription(2, ACCOUNT, NQ)})
    day = trading_day(now[0])
    ledger.apply_fill(ACCOUNT, NQ, "NQ", 20.0, 2, 21000.0, 0.0, day=day)  # long 2
    ledger.apply_fill(ACCOUNT, NQ, "NQ", 20.0, -1, 21010.0, 0.0, day=day)  # sell 1: +200 realized, long 1 left
    ledger.mark(NQ, 21020.0)
    book.publish(ledger, [session])
    assert session.sent[-2:] == [[94, 1, 600.0, 400.0, 200.0], [95, 2, 1.0, 600.0, 400.0, 200.0, 420_400.0]]

    now[0] = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)  # the next trading day
    ledger.mark(NQ, 21030.0)
    book.publish(ledger, [session])
    assert session.sent[-2:] == [[94, 1, 200.0, 600.0, 0.0], [95, 2, 1.0, 200.0, 600.0, 0.0, 420_600.0]]
    sent = len(session.sent)
    book.publish(ledger, [session])
    assert len(session.sent) == sent  # nothing changed: nothing sent
