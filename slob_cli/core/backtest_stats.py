"""The figures of a backtest report, computed from its trades: pure arithmetic, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slob_cli.core.backtest import BacktestOutcome, BacktestTrade, states_summary
from slob_cli.core.pnl import lost, money_sum, won

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class BacktestStats:
    """Summary figures of one backtest; money in USD after commission, drawdown on closed-trade equity."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: float
    gross_loss: float
    profit_factor: float | None
    net_pnl: float
    commission: float
    expectancy_r: float | None
    max_drawdown: float
    max_drawdown_pct: float
    longest_losing_streak: int
    initial_equity: float
    final_equity: float
    return_pct: float
    by_month: dict[str, float]
    by_weekday: dict[str, float]
    setups_by_state: dict[str, int]
    skipped: dict[str, int]
    exits: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (None where a figure is undefined, e.g. no losing trade)."""
        return dict(self.__dict__)


def equity_curve(initial: float, trades: Sequence[BacktestTrade]) -> list[tuple[str | None, float]]:
    """Return (exit time ISO, equity after the trade) points, starting with the initial equity."""
    points: list[tuple[str | None, float]] = [(None, initial)]
    equity = initial
    for trade in trades:
        equity = money_sum((equity, trade.pnl))
        points.append((trade.to_dict()["exit_time"], equity))
    return points


def drawdown(initial: float, trades: Sequence[BacktestTrade]) -> tuple[float, float]:
    """Return the largest peak-to-trough fall of closed-trade equity, in money and in % of the peak."""
    peak = equity = initial
    worst = worst_pct = 0.0
    for trade in trades:
        equity = money_sum((equity, trade.pnl))
        peak = max(peak, equity)
        fall = money_sum((peak, -equity))
        if fall > worst:
            worst = fall
        if peak > 0 and fall / peak * 100.0 > worst_pct:
            worst_pct = fall / peak * 100.0
    return worst, worst_pct


def losing_streak(trades: Sequence[BacktestTrade]) -> int:
    """Return the longest run of consecutive trades with a net loss."""
    longest = current = 0
    for trade in trades:
        current = current + 1 if lost(trade.pnl) else 0
        longest = max(longest, current)
    return longest


def compute_stats(outcome: BacktestOutcome) -> BacktestStats:
    """Return every figure of the report for one backtest outcome."""
    trades = outcome.trades
    wins = [t for t in trades if won(t.pnl)]
    losses = [t for t in trades if lost(t.pnl)]
    gross_profit = money_sum(t.pnl for t in wins)
    gross_loss = money_sum(-t.pnl for t in losses)
    net = money_sum(t.pnl for t in trades)
    worst, worst_pct = drawdown(outcome.initial_equity, trades)
    by_month: dict[str, float] = {}
    by_weekday: dict[str, float] = {}
    exits: dict[str, int] = {}
    for trade in trades:
        day = trade.plan.trading_date
        month = f"{day.year}-{day.month:02d}"
        by_month[month] = money_sum((by_month.get(month), trade.pnl))
        weekday = WEEKDAYS[day.weekday()]
        by_weekday[weekday] = money_sum((by_weekday.get(weekday), trade.pnl))
        exits[trade.exit_reason] = exits.get(trade.exit_reason, 0) + 1
    skipped: dict[str, int] = {}
    for reason in outcome.skipped.values():
        skipped[reason] = skipped.get(reason, 0) + 1
    r_values = [t.r_multiple for t in trades]
    final_equity = money_sum((outcome.initial_equity, net))
    return BacktestStats(
        trades=len(trades), wins=len(wins), losses=len(losses),
        win_rate=len(wins) / len(trades) if trades else None,
        gross_profit=gross_profit, gross_loss=gross_loss,
        profit_factor=gross_profit / gross_loss if gross_loss > 0 else None,
        net_pnl=net, commission=money_sum(t.commission for t in trades),
        expectancy_r=sum(r_values) / len(r_values) if r_values else None,
        max_drawdown=worst, max_drawdown_pct=worst_pct, longest_losing_streak=losing_streak(trades),
        initial_equity=outcome.initial_equity, final_equity=final_equity,
        return_pct=(final_equity / outcome.initial_equity - 1.0) * 100.0,
        by_month=dict(sorted(by_month.items())),
        by_weekday={name: by_weekday[name] for name in WEEKDAYS if name in by_weekday},
        setups_by_state=states_summary(outcome), skipped=skipped, exits=exits,
    )

