"""Pure pipeline on planted days: tracker -> risk manager -> bracket, with the spec's exact numbers."""

from __future__ import annotations

from datetime import date

from slob_cli.core.models import Direction
from slob_cli.core.orders import BracketIntent, build_bracket
from slob_cli.core.risk import (
    Approved,
    RiskConfig,
    RiskManager,
    RiskState,
    Skipped,
    SkipReason,
    TradeRequest,
    record_close,
)
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import SetupTracker, StrategyConfig
from slob_cli.core.strategy.states import SetupState
from slob_cli.sim.scenarios import build_scenario

JAN6 = date(2026, 1, 6)


def completed_setups(scenario: str) -> list[TradeRequest]:
    tracker = SetupTracker("NQ", StrategyConfig(), TradingCalendar())
    for candle in build_scenario(scenario, JAN6):
        tracker.on_candle(candle)
    return [TradeRequest.from_setup(view) for view in tracker.candidates() if view.state is SetupState.SETUP_COMPLETE]


def bracket_for(decision: Approved) -> BracketIntent:
    return build_bracket(decision.setup_id, decision.direction, decision.symbol, decision.contracts,
                         decision.entry_estimate, decision.stop, decision.target)


def test_planted_short_day_gives_one_nq_bracket_at_the_spec_prices() -> None:
    (request,) = completed_setups("short_setup")
    decision, state = RiskManager().take(request, RiskState.initial(50_000.0), kill_switch_active=False)
    assert isinstance(decision, Approved)
    assert (decision.contracts, decision.risk_dollars, decision.budget) == (1, 420.0, 500.0)
    entry, stop, target = bracket_for(decision).orders
    assert [(o.order_ref, o.action, o.order_type, o.quantity) for o in (entry, stop, target)] == [
        ("slob:NQ-20260106-S1:entry", "SELL", "MKT", 1),
        ("slob:NQ-20260106-S1:stop", "BUY", "STP", 1),
        ("slob:NQ-20260106-S1:target", "BUY", "LMT", 1),
    ]
    assert (stop.stop_price, target.limit_price) == (25_593.0, 25_501.0)
    assert (state.trades_today, state.open_positions, state.trading_date) == (1, 1, JAN6)


def test_planted_long_day_gives_the_mirrored_bracket() -> None:
    (request,) = completed_setups("long_setup")
    decision = RiskManager().evaluate(request, RiskState.initial(50_000.0), kill_switch_active=False)
    assert isinstance(decision, Approved) and decision.direction is Direction.LONG
    entry, stop, target = bracket_for(decision).orders
    assert (entry.action, stop.action, stop.stop_price, target.limit_price) == ("BUY", "SELL", 25_407.0, 25_499.0)


def test_day_with_two_setups_trades_both_only_after_the_first_closes() -> None:
    config = RiskConfig()
    manager = RiskManager(config)
    first, second = completed_setups("both_setups")
    decision, state = manager.take(first, RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved)
    blocked = manager.evaluate(second, state, False)
    assert isinstance(blocked, Skipped) and blocked.reason is SkipReason.POSITION_OPEN
    state = record_close(state, (25_572.0 - 25_501.0) * 20.0, config)  # target reached: +71 pt
    decision, state = manager.take(second, state, False)
    assert isinstance(decision, Approved) and decision.setup_id == "NQ-20260106-L1"
    assert (state.trades_today, state.equity) == (2, 51_420.0)
    one_a_day = RiskManager(RiskConfig(max_trades_per_day=1))
    _, state = one_a_day.take(first, RiskState.initial(50_000.0), False)
    skipped = one_a_day.evaluate(second, record_close(state, 1_420.0, config), False)
    assert isinstance(skipped, Skipped) and skipped.reason is SkipReason.MAX_TRADES_PER_DAY
