"""The backtest kernel: the fill model's conservative choices, the live risk rules, no look-ahead."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from slob_cli.adapters.calendar import load_calendar
from slob_cli.core.backtest import BacktestOutcome, FillModel, run_kernel
from slob_cli.core.backtest_stats import compute_stats, drawdown, losing_streak
from slob_cli.core.models import Candle
from slob_cli.core.risk import RiskConfig
from slob_cli.core.strategy import StrategyConfig
from slob_cli.sim.scenarios import SCENARIOS, build_scenario

UTC = timezone.utc
DAY = date(2026, 1, 6)
CALENDAR = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
DECISION = datetime(2026, 1, 6, 15, 31, tzinfo=UTC)  # the planted SHORT's trigger bar
ENTRY_BAR = DECISION + timedelta(minutes=1)
STOP, TARGET = 25593.0, 25501.0


def _day(scenario: str = "short_setup", day: date = DAY, seed: int = 7) -> list[Candle]:
    return build_scenario(scenario, day, seed=seed, calendar=CALENDAR)


def _run(candles: list[Candle], risk: RiskConfig | None = None, slippage: int = 1) -> BacktestOutcome:
    until = candles[-1].end + timedelta(hours=4)
    return run_kernel("NQ", candles, until, StrategyConfig(), risk or RiskConfig(), CALENDAR,
                      FillModel(slippage_ticks=slippage))


def _after_entry(candles: list[Candle], change) -> list[Candle]:  # noqa: ANN001 - a small test helper
    return [change(candle) if candle.ts > ENTRY_BAR else candle for candle in candles]


def test_planted_short_enters_at_next_open_minus_slippage_and_exits_at_target() -> None:
    candles = _day()
    outcome = _run(candles, slippage=2)
    trade = outcome.trades[0]
    entry_bar = next(c for c in candles if c.ts == ENTRY_BAR)
    assert trade.plan.setup_id == "NQ-20260106-S1" and trade.plan.decision_time == DECISION
    assert (trade.plan.contracts, trade.plan.stop, trade.plan.target) == (1, STOP, TARGET)
    assert trade.entry_time == ENTRY_BAR and trade.entry_price == entry_bar.open - 0.5
    assert (trade.exit_reason, trade.exit_price) == ("target", TARGET)
    assert trade.commission == pytest.approx(2 * 2.25)
    assert trade.pnl == pytest.approx((trade.entry_price - TARGET) * 20 - 4.5)
    assert trade.r_multiple == pytest.approx(trade.pnl / (21 * 20))


def test_bar_touching_stop_and_target_counts_as_the_stop() -> None:
    def both(candle: Candle) -> Candle:
        if candle.ts == ENTRY_BAR + timedelta(minutes=1):
            return replace(candle, high=STOP + 1, low=TARGET - 1)
        return candle

    trade = _run(_after_entry(_day(), both), slippage=1).trades[0]
    assert trade.exit_reason == "stop"
    assert trade.exit_price == STOP + 0.25
    assert trade.pnl < 0


def test_bar_opening_beyond_the_stop_fills_at_its_open_plus_slippage() -> None:
    gap_open = STOP + 10

    def gap(candle: Candle) -> Candle:
        if candle.ts == ENTRY_BAR + timedelta(minutes=1):
            return replace(candle, open=gap_open, high=gap_open + 2, low=gap_open - 1, close=gap_open)
        return candle

    trade = _run(_after_entry(_day(), gap), slippage=1).trades[0]
    assert (trade.exit_reason, trade.exit_price) == ("stop", gap_open + 0.25)


def test_position_never_reaching_stop_or_target_is_flattened_at_the_session_close() -> None:
    def flat(candle: Candle) -> Candle:
        return replace(candle, open=25560.0, high=25561.0, low=25559.0, close=25560.0)

    candles = _after_entry(_day(), flat)
    trade = _run(candles, slippage=1).trades[0]
    session_end = datetime(2026, 1, 6, 21, 0, tzinfo=UTC)
    assert trade.exit_reason == "flatten" and trade.exit_time == session_end
    assert trade.exit_price == 25560.0 + 0.25


def test_data_ending_mid_session_closes_at_the_last_close() -> None:
    candles = [c for c in _day() if c.ts <= ENTRY_BAR + timedelta(minutes=3)]
    outcome = run_kernel("NQ", candles, candles[-1].end, StrategyConfig(), RiskConfig(), CALENDAR, FillModel())
    trade = outcome.trades[0]
    assert trade.exit_reason == "end_of_data" and trade.exit_price == candles[-1].close


def test_trigger_without_a_later_bar_is_not_filled_and_frees_the_position_slot() -> None:
    candles = [c for c in _day() if c.ts <= DECISION]
    outcome = _run(candles)
    assert outcome.trades == [] and outcome.skipped == {"NQ-20260106-S1": "ENTRY_NOT_FILLED"}
    assert outcome.final_state.open_positions == 0


def test_micro_contracts_pay_the_micro_commission() -> None:
    risk = RiskConfig(trade_symbol="MNQ", max_contracts=5)
    trade = _run(_day(), risk).trades[0]
    assert trade.plan.symbol == "MNQ" and trade.plan.contracts == 5
    assert trade.commission == pytest.approx(5 * 2 * 0.62)
    assert trade.pnl == pytest.approx(trade.points * 2 * 5 - trade.commission)


def test_risk_limits_of_the_live_manager_apply() -> None:
    both = _day("both_setups")
    assert len(_run(both).trades) == 2
    outcome = _run(both, RiskConfig(max_trades_per_day=1))
    assert len(outcome.trades) == 1
    assert outcome.skipped == {"NQ-20260106-L1": "MAX_TRADES_PER_DAY"}
    stats = compute_stats(outcome)
    assert stats.setups_by_state["SETUP_COMPLETE"] == 2 and stats.skipped == {"MAX_TRADES_PER_DAY": 1}


def test_risk_pct_sizes_like_the_live_executor() -> None:
    # 100 000 x 2 % = 2 000 budget; 21 points x 20 = 420 per contract -> 4 contracts (capped at 10).
    trade = _run(_day(), RiskConfig(risk_pct=0.02, max_contracts=10)).trades[0]
    assert trade.plan.contracts == 4 and trade.plan.risk_dollars == 4 * 420


def _week(seed: int = 3) -> list[Candle]:
    days = [DAY + timedelta(days=offset) for offset in range(10)]
    candles: list[Candle] = []
    for index, day in enumerate(d for d in days if CALENDAR.is_session(d)):
        candles += _day(SCENARIOS[(index + seed) % len(SCENARIOS)], day, seed=seed + index)
    return candles


def test_stats_figures_follow_from_the_trades() -> None:
    outcome = _run(_week(), RiskConfig(max_contracts=2))
    stats = compute_stats(outcome)
    pnls = [t.pnl for t in outcome.trades]
    assert stats.trades == len(pnls) >= 3
    assert stats.net_pnl == pytest.approx(sum(pnls))
    assert stats.final_equity == pytest.approx(100_000 + sum(pnls))
    assert sum(stats.by_month.values()) == pytest.approx(sum(pnls))
    assert sum(stats.by_weekday.values()) == pytest.approx(sum(pnls))
    assert stats.expectancy_r == pytest.approx(sum(t.r_multiple for t in outcome.trades) / len(pnls))
    assert sum(stats.setups_by_state.values()) == len(outcome.setup_states)


def test_drawdown_and_losing_streak_on_a_known_sequence() -> None:
    outcome = _run(_day())
    trade = outcome.trades[0]
    sequence = [replace(trade, pnl=value) for value in (100.0, -50.0, -30.0, 200.0, -10.0, -10.0, -10.0)]
    assert drawdown(1000.0, sequence) == pytest.approx((80.0, 80.0 / 1100.0 * 100))
    assert losing_streak(sequence) == 3


def _decided_before(outcome: BacktestOutcome, moment: datetime) -> list[dict]:
    return [t.to_dict() for t in outcome.trades if t.exit_time <= moment]


def test_changing_every_candle_after_a_decision_changes_no_earlier_trade() -> None:
    candles = _week()
    baseline = _run(candles)
    assert len(baseline.trades) >= 3
    rng = random.Random(18)
    for trade in baseline.trades:
        decision = trade.plan.decision_time
        shift = rng.uniform(-80, 80)

        def scrambled(candle: Candle, shift: float = shift) -> Candle:
            wobble = rng.uniform(0, 6)
            return replace(candle, open=candle.open + shift, high=candle.high + shift + wobble,
                           low=candle.low + shift - wobble, close=candle.close + shift)

        changed = _run([scrambled(c) if c.ts > decision else c for c in candles])
        assert _decided_before(changed, decision) == _decided_before(baseline, decision)
        plan = next(t.plan for t in changed.trades if t.plan.setup_id == trade.plan.setup_id)
        assert plan == trade.plan, "the decision bar's plan (size, stop, target) reads no later bar"
