"""Risk manager: sizing with the $20 multiplier, caps, daily limits, drawdown, kill switch, persistence."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slob_cli.core.models import Direction
from slob_cli.core.risk import (
    Approved,
    RiskConfig,
    RiskManager,
    RiskState,
    Skipped,
    SkipReason,
    TradeRequest,
    record_close,
    record_entry_cancelled,
    reset_halt,
    roll_day,
    size_contracts,
    update_equity,
)
from slob_cli.errors import ConfigError

JAN6 = date(2026, 1, 6)


def jan6_short(setup_id: str = "NQ-20260106-S1", day: date = JAN6, symbol: str = "NQ") -> TradeRequest:
    """Return the spec's worked example: entry 25 572, stop 25 593 (21 pt), target 25 501."""
    return TradeRequest(setup_id, symbol, Direction.SHORT, day, 25_572.0, 25_593.0, 25_501.0)


def test_jan6_example_sizes_one_nq_risking_420_of_500() -> None:
    decision = RiskManager().evaluate(jan6_short(), RiskState.initial(50_000.0), kill_switch_active=False)
    assert isinstance(decision, Approved)
    assert decision.budget == pytest.approx(500.0)
    assert decision.risk_points == 21.0
    assert (decision.symbol, decision.contracts, decision.risk_dollars) == ("NQ", 1, 420.0)


def test_jan6_example_in_mnq_sizes_eleven_contracts_when_cap_allows() -> None:
    manager = RiskManager(RiskConfig(max_contracts=20))
    decision = manager.evaluate(jan6_short(symbol="MNQ"), RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved)
    assert (decision.symbol, decision.contracts, decision.risk_dollars) == ("MNQ", 11, 462.0)


def test_trade_symbol_setting_sizes_nq_setup_in_mnq() -> None:
    manager = RiskManager(RiskConfig(max_contracts=20, trade_symbol="MNQ"))
    decision = manager.evaluate(jan6_short(), RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved) and (decision.symbol, decision.contracts) == ("MNQ", 11)


def test_seed_oversizing_without_multiplier_is_impossible_even_with_a_high_cap() -> None:
    # The seed computed 500 / 21 = 23 contracts (no $20 per point): 20x the real risk.
    decision = RiskManager(RiskConfig(max_contracts=100)).evaluate(jan6_short(), RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved)
    assert decision.contracts == 1
    assert decision.risk_dollars <= decision.budget


def test_default_cap_limits_to_one_nq_on_a_large_account() -> None:
    decision = RiskManager().evaluate(jan6_short(), RiskState.initial(1_000_000.0), False)
    assert isinstance(decision, Approved) and decision.contracts == 1


def test_budget_below_one_contract_skips_with_size_zero_instead_of_forcing_one() -> None:
    decision = RiskManager().evaluate(jan6_short(), RiskState.initial(30_000.0), False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.SIZE_ZERO
    assert "420.00" in decision.detail and "300.00" in decision.detail


def test_zero_size_policy_mnq_falls_back_to_micro_contracts() -> None:
    decision = RiskManager(RiskConfig(zero_size_policy="mnq")).evaluate(jan6_short(), RiskState.initial(30_000.0), False)
    assert isinstance(decision, Approved)
    assert (decision.symbol, decision.contracts, decision.risk_dollars) == ("MNQ", 7, 294.0)


def test_zero_size_policy_mnq_still_skips_when_one_micro_is_too_much() -> None:
    decision = RiskManager(RiskConfig(zero_size_policy="mnq")).evaluate(jan6_short(), RiskState.initial(3_000.0), False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.SIZE_ZERO


def test_exact_budget_gives_one_contract_despite_float_division() -> None:
    assert size_contracts(500.0, 25.0, 20.0) == 1
    assert size_contracts(0.3 * 1000, 0.1 * 30, 100.0) == 1


@pytest.mark.parametrize(
    ("entry", "stop", "target", "direction", "fragment"),
    [
        (25_572.0, 25_560.0, 25_501.0, Direction.SHORT, "stop 25,560.00 is not above the entry 25,572.00"),
        (25_572.0, 25_572.0, 25_501.0, Direction.SHORT, "stop 25,572.00 is not above"),
        (25_572.0, 25_593.0, 25_600.0, Direction.SHORT, "target 25,600.00 is not below"),
        (25_572.0, 25_593.0, 25_600.0, Direction.LONG, "stop 25,593.00 is not below"),
        (25_572.0, 25_550.0, 25_560.0, Direction.LONG, "target 25,560.00 is not above"),
        (math.nan, 25_550.0, 25_600.0, Direction.LONG, "is not a positive price"),
    ],
)
def test_stop_or_target_on_wrong_side_is_invalid_risk(entry, stop, target, direction, fragment) -> None:
    request = TradeRequest("NQ-20260106-X1", "NQ", direction, JAN6, entry, stop, target)
    decision = RiskManager().evaluate(request, RiskState.initial(50_000.0), False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.INVALID_RISK
    assert fragment in decision.detail


def test_long_setup_mirrors_short_sizing() -> None:
    request = TradeRequest("NQ-20260106-L1", "NQ", Direction.LONG, JAN6, 25_500.0, 25_479.0, 25_571.0)
    decision = RiskManager().evaluate(request, RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved) and decision.contracts == 1 and decision.risk_dollars == 420.0


def test_kill_switch_blocks_new_entries_before_anything_else() -> None:
    state = RiskState.initial(50_000.0)
    decision = RiskManager().evaluate(jan6_short(), state, kill_switch_active=True)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.KILL_SWITCH


def test_third_setup_of_the_day_is_skipped_and_next_day_is_allowed_again() -> None:
    manager = RiskManager(RiskConfig(max_open_positions=5))
    state = RiskState.initial(50_000.0)
    reasons = []
    for n in range(1, 4):
        decision, state = manager.take(jan6_short(f"NQ-20260106-S{n}"), state, False)
        reasons.append(decision.reason if isinstance(decision, Skipped) else "OK")
    assert reasons == ["OK", "OK", SkipReason.MAX_TRADES_PER_DAY]
    decision, state = manager.take(jan6_short("NQ-20260107-S1", day=JAN6 + timedelta(days=1)), state, False)
    assert isinstance(decision, Approved)
    assert state.trades_today == 1 and state.trading_date == JAN6 + timedelta(days=1)


def test_open_position_blocks_a_second_entry_until_it_closes() -> None:
    manager, config = RiskManager(), RiskConfig()
    decision, state = manager.take(jan6_short("NQ-20260106-S1"), RiskState.initial(50_000.0), False)
    assert isinstance(decision, Approved)
    second = manager.evaluate(jan6_short("NQ-20260106-S2"), state, False)
    assert isinstance(second, Skipped) and second.reason is SkipReason.POSITION_OPEN
    state = record_close(state, 1_400.0, config)
    assert isinstance(manager.evaluate(jan6_short("NQ-20260106-S2"), state, False), Approved)


def test_cancelled_entry_frees_the_position_but_still_counts_as_a_trade() -> None:
    manager = RiskManager()
    _, state = manager.take(jan6_short("NQ-20260106-S1"), RiskState.initial(50_000.0), False)
    state = record_entry_cancelled(state)
    assert (state.open_positions, state.trades_today) == (0, 1)


def test_same_setup_is_never_approved_twice() -> None:
    manager = RiskManager(RiskConfig(max_open_positions=3))
    _, state = manager.take(jan6_short(), RiskState.initial(50_000.0), False)
    decision = manager.evaluate(jan6_short(), state, False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.DUPLICATE_SETUP


def test_setup_of_an_earlier_day_is_stale() -> None:
    state = roll_day(RiskState.initial(50_000.0), JAN6 + timedelta(days=1))
    decision, after = RiskManager().take(jan6_short(), state, False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.STALE_SETUP
    assert after == state


def test_daily_loss_of_two_percent_stops_entries_until_the_next_day() -> None:
    manager, config = RiskManager(RiskConfig(max_trades_per_day=5)), RiskConfig(max_trades_per_day=5)
    _, state = manager.take(jan6_short("NQ-20260106-S1"), RiskState.initial(50_000.0), False)
    state = record_close(state, -999.0, config)
    assert isinstance(manager.evaluate(jan6_short("NQ-20260106-S2"), state, False), Approved)
    _, state = manager.take(jan6_short("NQ-20260106-S2"), state, False)
    state = record_close(state, -1.0, config)  # total -1 000 = 2 % of 50 000
    assert state.daily_limit_hit
    decision = manager.evaluate(jan6_short("NQ-20260106-S3"), state, False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.DAILY_LOSS_LIMIT
    state = update_equity(state, 60_000.0, config)  # an equity recovery does not lift the latch
    assert isinstance(manager.evaluate(jan6_short("NQ-20260106-S3"), state, False), Skipped)
    next_day = jan6_short("NQ-20260107-S1", day=JAN6 + timedelta(days=1))
    assert isinstance(manager.evaluate(next_day, state, False), Approved)


def test_drawdown_of_fifteen_percent_halves_the_risk() -> None:
    state = RiskState(equity=85_000.0, peak_equity=100_000.0, start_of_day_equity=85_000.0)
    manager = RiskManager(RiskConfig(max_contracts=10))
    decision = manager.evaluate(jan6_short(), state, False)
    assert isinstance(decision, Approved)
    assert decision.risk_factor == 0.5 and decision.budget == pytest.approx(425.0) and decision.contracts == 1
    full = manager.evaluate(jan6_short(), RiskState.initial(85_000.0), False)
    assert isinstance(full, Approved) and full.budget == pytest.approx(850.0) and full.contracts == 2


def test_drawdown_of_twenty_five_percent_halts_and_survives_a_restart() -> None:
    config = RiskConfig(max_trades_per_day=50, max_open_positions=50)
    manager = RiskManager(config)
    state = RiskState.initial(100_000.0, JAN6)
    state = record_close(state, -25_000.0, config)
    assert state.halted and state.drawdown_pct == pytest.approx(25.0)
    restored = RiskState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    restored = roll_day(update_equity(restored, 90_000.0, config), JAN6 + timedelta(days=30))
    decision = manager.evaluate(jan6_short("NQ-20260205-S1", day=JAN6 + timedelta(days=30)), restored, False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.DRAWDOWN_STOP
    resumed = reset_halt(restored)
    assert isinstance(manager.evaluate(jan6_short("NQ-20260205-S1", day=JAN6 + timedelta(days=30)), resumed, False),
                      Approved)


def test_from_dict_names_the_malformed_field() -> None:
    data = RiskState.initial(50_000.0).to_dict()
    data["equity"] = "lots"
    with pytest.raises(ConfigError, match="malformed"):
        RiskState.from_dict(data)
    with pytest.raises(ConfigError, match="equity"):
        RiskState.from_dict({"peak_equity": 1.0, "start_of_day_equity": 1.0})


def test_config_from_mapping_rejects_unknown_keys_and_bad_values() -> None:
    assert RiskConfig.from_mapping({"risk_pct": 0.02, "max_contracts": 3}) == RiskConfig(risk_pct=0.02, max_contracts=3)
    with pytest.raises(ConfigError, match="unknown risk setting 'risk'"):
        RiskConfig.from_mapping({"risk": 0.02})
    with pytest.raises(ConfigError, match="max_contracts = 0: must be >= 1"):
        RiskConfig.from_mapping({"max_contracts": 0})
    with pytest.raises(ConfigError, match=r"max_contracts = 1\.5: must be a whole number"):
        RiskConfig.from_mapping({"max_contracts": 1.5})
    with pytest.raises(ConfigError, match="zero_size_policy = 'nq'"):
        RiskConfig(zero_size_policy="nq")


# ---------------------------------------------------------------- properties

equities = st.floats(min_value=1_000.0, max_value=5_000_000.0, allow_nan=False)
risk_ticks = st.integers(min_value=1, max_value=2_000)  # 0.25 .. 500 points
caps = st.integers(min_value=1, max_value=50)
risk_pcts = st.floats(min_value=0.001, max_value=0.05)


@settings(max_examples=300, deadline=None)
@given(equity=equities, ticks=risk_ticks, cap=caps, risk_pct=risk_pcts, symbol=st.sampled_from(["NQ", "MNQ"]))
def test_size_never_exceeds_budget_or_cap(equity: float, ticks: int, cap: int, risk_pct: float, symbol: str) -> None:
    entry = 25_000.0
    request = TradeRequest("NQ-20260106-S1", symbol, Direction.SHORT, JAN6, entry, entry + ticks * 0.25, entry - 50)
    decision = RiskManager(RiskConfig(risk_pct=risk_pct, max_contracts=cap)).evaluate(
        request, RiskState.initial(equity), False)
    budget = equity * risk_pct
    multiplier = 20.0 if symbol == "NQ" else 2.0
    per_contract = ticks * 0.25 * multiplier
    if isinstance(decision, Approved):
        assert 1 <= decision.contracts <= cap
        assert decision.risk_dollars <= budget * (1 + 1e-9)
        # Not undersized either: one more contract would break the budget or the cap.
        assert decision.contracts == cap or (decision.contracts + 1) * per_contract > budget * (1 - 1e-9)
    else:
        assert decision.reason is SkipReason.SIZE_ZERO
        assert per_contract > budget * (1 - 1e-9)


@settings(max_examples=200, deadline=None)
@given(low=equities, high=equities, ticks=risk_ticks)
def test_size_is_monotone_in_equity(low: float, high: float, ticks: int) -> None:
    low, high = sorted((low, high))
    manager = RiskManager(RiskConfig(max_contracts=50))

    def contracts(equity: float) -> int:
        decision = manager.evaluate(
            TradeRequest("S", "NQ", Direction.LONG, JAN6, 25_000.0, 25_000.0 - ticks * 0.25, 25_100.0),
            RiskState.initial(equity), False)
        return decision.contracts if isinstance(decision, Approved) else 0

    assert contracts(low) <= contracts(high)


step = st.one_of(
    st.tuples(st.just("setup"), st.booleans()),
    st.tuples(st.just("close"), st.floats(min_value=-3_000.0, max_value=3_000.0)),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("day"), st.none()),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=40), max_trades=st.integers(0, 4), max_open=st.integers(1, 3))
def test_limits_hold_for_any_sequence_of_events(steps, max_trades: int, max_open: int) -> None:
    config = RiskConfig(max_trades_per_day=max_trades, max_open_positions=max_open, max_contracts=3)
    manager = RiskManager(config)
    state = RiskState.initial(50_000.0, JAN6)
    day, counter, approvals_today, limit_hit_today = JAN6, 0, 0, False
    for kind, value in steps:
        if kind == "day":
            day, approvals_today, limit_hit_today = day + timedelta(days=1), 0, False
            state = roll_day(state, day)
        elif kind == "close" and state.open_positions:
            state = record_close(state, value, config)
        elif kind == "cancel" and state.open_positions:
            state = record_entry_cancelled(state)
        elif kind == "setup":
            counter += 1
            request = TradeRequest(f"NQ-{day:%Y%m%d}-S{counter}", "NQ", Direction.SHORT, day,
                                   25_000.0, 25_010.0, 24_950.0)
            open_before = state.open_positions
            decision, state = manager.take(request, state, kill_switch_active=value)
            if isinstance(decision, Approved):
                approvals_today += 1
                assert not value, "approved while the kill switch was active"
                assert not limit_hit_today, "approved after the daily loss limit"
                assert not state.halted
                assert open_before < max_open
        limit_hit_today = limit_hit_today or state.daily_limit_hit
        assert approvals_today <= max_trades
        assert state.open_positions <= max_open
        assert RiskState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@settings(max_examples=200, deadline=None)
@given(path=st.lists(st.floats(min_value=10_000.0, max_value=200_000.0), min_size=1, max_size=30))
def test_drawdown_halt_latches_at_25_percent_and_halving_starts_at_15(path: list[float]) -> None:
    config = RiskConfig(max_contracts=50, daily_loss_limit_pct=100.0)  # isolate the drawdown rules
    manager = RiskManager(config)
    state = RiskState.initial(100_000.0, JAN6)
    peak, worst = 100_000.0, 0.0
    for equity in path:
        state = RiskState.from_dict(json.loads(json.dumps(update_equity(state, equity, config).to_dict())))
        peak = max(peak, equity)
        drawdown = (peak - equity) / peak * 100
        worst = max(worst, drawdown)
        assert state.halted == (worst >= 25.0)
        assert manager.risk_factor(state) == (0.5 if drawdown >= 15.0 else 1.0)
        decision = manager.evaluate(jan6_short(), state, False)
        if state.halted:
            assert isinstance(decision, Skipped) and decision.reason is SkipReason.DRAWDOWN_STOP
        elif equity * 0.01 * manager.risk_factor(state) >= 420.0:
            assert isinstance(decision, Approved) and decision.risk_factor == manager.risk_factor(state)
        else:
            assert isinstance(decision, Skipped) and decision.reason is SkipReason.SIZE_ZERO
