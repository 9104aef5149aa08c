"""Named backtest runs and their trades in the store (tables backtest_runs, backtest_trades)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.db import to_us
from slob_cli.adapters.store.instants import instant_us
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS

if TYPE_CHECKING:
    from slob_cli.adapters.store.db import Store
    from slob_cli.core.backtest import BacktestTrade
    from slob_cli.core.backtest_stats import BacktestStats

_TRADE_COLUMNS = ("setup_id", "symbol", "direction", "trading_date", "contracts", "decision_time", "entry_estimate",
                  "stop", "target", "entry_time", "entry_price", "exit_time", "exit_price", "exit_reason", "points",
                  "commission", "pnl", "r_multiple")
_TRADE_INSTANTS = frozenset(ISO_TEXT_INSTANTS["backtest_trades"])


class BacktestRepository:
    """Save, list and read named backtest runs; saving a name again replaces that run."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, name: str, symbol: str, start: date, end: date, candles: int, stats: BacktestStats,
             trades: Sequence[BacktestTrade], settings: dict[str, Any], now: datetime) -> int:
        """Store one run and its trades in one transaction; return its id."""
        figures = stats.to_dict()
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM backtest_runs WHERE name=?", (name,))
            cursor = conn.execute(
                "INSERT INTO backtest_runs(name, created_at, symbol, from_date, to_date, candles, trades, net_pnl,"
                " win_rate, profit_factor, expectancy_r, max_drawdown, max_drawdown_pct, settings, stats)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (name, to_us(now), symbol, start.isoformat(), end.isoformat(), candles, stats.trades, stats.net_pnl,
                 stats.win_rate, stats.profit_factor, stats.expectancy_r, stats.max_drawdown,
                 stats.max_drawdown_pct, json.dumps(settings, sort_keys=True, default=str),
                 json.dumps(figures, sort_keys=True, default=str)))
            run_id = int(cursor.lastrowid or 0)
            rows = []
            for trade in trades:
                row = trade.to_dict()
                rows.append((run_id, *(instant_us(row[column]) if column in _TRADE_INSTANTS else row[column]
                                       for column in _TRADE_COLUMNS)))
            conn.executemany(
                f"INSERT INTO backtest_trades(run_id, {', '.join(_TRADE_COLUMNS)})"
                f" VALUES ({', '.join('?' * (len(_TRADE_COLUMNS) + 1))})", rows)
        return run_id

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """Return the newest runs (without their trades), newest first."""
        return [_decoded(row) for row in self.store.query(
            f"SELECT {self.store._columns('backtest_runs')} FROM backtest_runs ORDER BY id DESC LIMIT ?", [limit])]

    def run(self, name: str) -> dict[str, Any] | None:
        """Return one run by name with its trades in time order, or None."""
        found = list(self.store.query(f"SELECT {self.store._columns('backtest_runs')} FROM backtest_runs WHERE name=?",
                                      [name]))
        if not found:
            return None
        run = _decoded(found[0])
        run["trades"] = list(self.store.query(
            f"SELECT {self.store._columns('backtest_trades')} FROM backtest_trades WHERE run_id=?"
            " ORDER BY backtest_trades.entry_time", [run["id"]]))
        return run


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    for key in ("settings", "stats"):
        data[key] = json.loads(data[key]) if data.get(key) else {}
    return data
