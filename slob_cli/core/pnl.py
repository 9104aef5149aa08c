"""One trade's result from its fills: the single source of every P&L slob shows or acts on.

Logs, alerts, the risk state and its daily loss limit, the trades table, the session summary,
`status`, `dashboard` and the paper report all read a `TradeResult`, so they agree to the cent.
Money is rounded to cents here, once; points stay exact (prices sit on the 0.25 grid).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from slob_cli.core.models import Direction


class TradeStatus(str, Enum):
    """Whether a setup's position is still open (the `trades.status` column)."""

    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class FillLine:
    """One execution of a trade: quantity, price and its commission (None until the broker reports it)."""

    quantity: float
    price: float
    commission: float | None = None


@dataclass(frozen=True, slots=True)
class TradeResult:
    """What a trade made: points per contract, gross and net money, entry and exit commission."""

    direction: Direction
    multiplier: float
    entry_quantity: float
    exit_quantity: float
    entry_price: float | None
    exit_price: float | None
    points: float | None  # per contract, positive = won (None before any exit fill)
    gross: float | None  # money before commission on the exited quantity
    entry_commission: float
    exit_commission: float
    commission_pending: bool  # some fill has no commission report yet

    @property
    def commission(self) -> float:
        """Return entry plus exit commission, in money."""
        return round(self.entry_commission + self.exit_commission, 2)

    @property
    def net(self) -> float | None:
        """Return gross money minus entry and exit commission (None before any exit fill)."""
        if self.gross is None:
            return None
        return round(self.gross - self.entry_commission - self.exit_commission, 2)

    @property
    def closed(self) -> bool:
        """Return True when the exits cover the whole entry."""
        return self.entry_quantity > 0 and self.exit_quantity >= self.entry_quantity

    @property
    def settled(self) -> bool:
        """Return True when closed and every fill's commission is known: the result is final."""
        return self.closed and not self.commission_pending


def _average(fills: list[FillLine]) -> tuple[float, float | None]:
    quantity = sum(f.quantity for f in fills)
    if quantity <= 0:
        return 0.0, None
    return quantity, sum(f.quantity * f.price for f in fills) / quantity


def trade_result(direction: Direction, multiplier: float, entry_fills: Iterable[FillLine],
                 exit_fills: Iterable[FillLine]) -> TradeResult:
    """Compute a trade's result from its entry and exit fills."""
    entries, exits = list(entry_fills), list(exit_fills)
    entry_quantity, entry_price = _average(entries)
    exit_quantity, exit_price = _average(exits)
    points = gross = None
    if entry_price is not None and exit_price is not None:
        sign = -1.0 if direction is Direction.SHORT else 1.0
        points = (exit_price - entry_price) * sign + 0.0  # a short closed at its entry: 0.0, never -0.0
        gross = round(points * multiplier * exit_quantity, 2)
    return TradeResult(
        direction=direction, multiplier=multiplier, entry_quantity=entry_quantity, exit_quantity=exit_quantity,
        entry_price=entry_price, exit_price=exit_price, points=points, gross=gross,
        entry_commission=money_sum(f.commission for f in entries), exit_commission=money_sum(f.commission for f in exits),
        commission_pending=any(f.commission is None for f in (*entries, *exits)),
    )


@dataclass(frozen=True, slots=True)
class OpenResult:
    """An open position marked at a last price: unrealized money and the distance to stop and target."""

    last_price: float
    points: float  # per contract, positive = in profit
    unrealized: float  # money on the open quantity, before exit commission, after entry commission
    to_stop: float | None  # points from the last price to the stop (positive = stop not reached)
    to_target: float | None  # points from the last price to the target (positive = target not reached)


def mark_open(direction: Direction, multiplier: float, quantity: float, entry_price: float,
              entry_commission: float, last_price: float, stop: float | None = None,
              target: float | None = None) -> OpenResult:
    """Mark an open position at the last price."""
    sign = -1.0 if direction is Direction.SHORT else 1.0
    points = (last_price - entry_price) * sign
    to_stop = None if stop is None else (last_price - stop) * sign
    to_target = None if target is None else (target - last_price) * sign
    return OpenResult(last_price, points, round(points * multiplier * quantity - entry_commission, 2), to_stop,
                      to_target)


def won(net: float | None) -> bool:
    """Return True for a trade that made money after commission: a win wherever wins are counted."""
    return (net or 0.0) > 0


def lost(net: float | None) -> bool:
    """Return True for a trade that lost money after commission (a few points up may still lose the commission)."""
    return (net or 0.0) < 0


def money_sum(amounts: Iterable[float | None]) -> float:
    """Return the total of money amounts to the cent (None counts 0).

    Every total a trader reads (the session summary, status, the web, the paper report, a backtest, the
    risk state) adds up this way, so one P&L never reads 6592.22 here and 6592.219999999999 there.
    """
    return round(sum(amount or 0.0 for amount in amounts), 2)


def money_text(value: float | None, signed: bool = True) -> str:
    """Return USD as every screen, log and report writes it: `$+1,410.50`, `$-7.25`, or `-` when unknown.

    `signed=False` is for amounts never negative by nature (commission, drawdown, equity, a limit): `$1,410.50`.
    Rounded to the cent first, so an amount that rounds to zero reads `$+0.00`, never `$-0.00`.
    """
    if value is None:
        return "-"
    cents = _hundredths(value)
    return f"${cents:+,.2f}" if signed else f"${cents:,.2f}"


def price_text(value: float | None) -> str:
    """Return a price as every screen, log, alert and report writes it: `25,571.75`, or `-` when unknown.

    Two decimals are exact for NQ and MNQ (ticks of 0.25); the thousands separator is the one the money has.
    """
    return "-" if value is None else f"{_hundredths(value):,.2f}"


def points_text(value: float | None) -> str:
    """Return points (a P&L, a distance to stop or target) as every surface writes them: `+70.75`, `-1,002.25`, `-`.

    Always signed; rounded first, so a short closed at its entry reads `+0.00`, never `-0.00`.
    """
    return "-" if value is None else f"{_hundredths(value):+,.2f}"


def _hundredths(value: float) -> float:
    """Return a value rounded to two decimals, never -0.0 (-0.004 rounds to -0.0; adding 0.0 makes it 0.0)."""
    return round(value, 2) + 0.0


# Commission per contract per side (USD), IB's tiered rate with exchange fees: what the simulated
# broker charges and what a backtest books.
COMMISSION_PER_SIDE: dict[str, float] = {"NQ": 2.25, "MNQ": 0.62}


def commission_for(symbol: str, contracts: float, rates: dict[str, float] | None = None) -> float:
    """Return the commission of trading `contracts` once (one side) at the per-contract rate of the symbol."""
    return round((rates if rates is not None else COMMISSION_PER_SIDE).get(symbol, 0.0) * contracts, 2)
