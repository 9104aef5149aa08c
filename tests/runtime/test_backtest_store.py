"""runtime/backtest reads only the reference windows and sessions from SQLite: same outcome as every candle."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from slob_cli.adapters.calendar import load_calendar
from slob_cli.adapters.store import Store
from slob_cli.core.backtest import FillModel, run_kernel
from slob_cli.core.models import Candle
from slob_cli.core.risk import RiskConfig
from slob_cli.core.strategy import StrategyConfig
from slob_cli.runtime.backtest import BacktestSettings, backtest_window, run_backtest
from slob_cli.sim.scenarios import SCENARIOS, bounded_walk, build_scenario

UTC = timezone.utc
CALENDAR = load_calendar(date(2025, 12, 1), date(2026, 2, 28))


def _fortnight() -> list[Candle]:
    """Return two weeks of scenario days with overnight bars around the clock (weekends included)."""
    rng = random.Random(5)
    by_minute: dict[datetime, Candle] = {}
    day, index = date(2026, 1, 5), 0
    while day < date(2026, 1, 19):
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        rows = bounded_walk(rng, 1440, 25500.0, 25350.0, 25650.0, 6.0)
        for minute, row in enumerate(rows):
            by_minute[midnight + timedelta(minutes=minute)] = Candle("NQ", midnight + timedelta(minutes=minute),
                                                                     *row, 20.0, 10)
        if CALENDAR.is_session(day):
            for candle in build_scenario(SCENARIOS[index % len(SCENARIOS)], day, seed=index, calendar=CALENDAR):
                by_minute[candle.ts] = candle
            index += 1
        day += timedelta(days=1)
    return [by_minute[key] for key in sorted(by_minute)]


def test_session_reads_give_the_outcome_of_every_candle(db_path: Path) -> None:
    candles = _fortnight()
    with Store.open(db_path) as store:
        store.upsert_candles(candles)
        settings = BacktestSettings(StrategyConfig(), RiskConfig(max_contracts=2), FillModel())
        now = datetime(2026, 2, 1, tzinfo=UTC)
        report = run_backtest(store, "NQ", date(2026, 1, 5), date(2026, 1, 16), settings, CALENDAR, now)
    _, until = backtest_window(date(2026, 1, 5), date(2026, 1, 16), now)
    everything = run_kernel("NQ", [c for c in candles if c.ts < until], until, settings.strategy, settings.risk,
                            CALENDAR, settings.fill)
    assert len(everything.trades) >= 4
    assert [t.to_dict() for t in report.outcome.trades] == [t.to_dict() for t in everything.trades]
    assert report.outcome.setup_states == everything.setup_states
    assert report.outcome.skipped == everything.skipped
    assert report.outcome.final_state == everything.final_state
    assert report.outcome.candles < everything.candles  # the overnight bars were never read


def test_a_sweep_reports_each_run_done_to_its_progress(tmp_path: Path) -> None:
    from slob_cli.runtime.backtest import run_sweep

    with Store.open(tmp_path / "s.db") as store:
        store.upsert_candles(build_scenario("short_setup", date(2026, 1, 6)))
    base = BacktestSettings(StrategyConfig(), RiskConfig(), FillModel())
    grid = [{"min_rr": 1.0}, {"min_rr": 2.0}, {"slippage_ticks": 0}]
    heard: list[int] = []
    rows = run_sweep(tmp_path / "s.db", "NQ", date(2026, 1, 6), date(2026, 1, 6), base, grid, CALENDAR,
                     datetime(2026, 2, 1, tzinfo=UTC), jobs=1, progress=heard.append)
    assert len(rows) == 3 and heard == [1, 1, 1]
