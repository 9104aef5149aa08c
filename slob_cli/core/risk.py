"""Position sizing and risk limits (STRATEGY.md §6): a pure decision per completed setup.

Nothing here reads a clock, a file or the network: the runtime passes the kill-switch flag, the
equity and the trading date in, persists `RiskState.to_dict()` in the store's `state` table, and
turns every `Skipped` into a SETUP_SKIPPED event carrying its reason code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import Enum
from typing import Any

from slob_cli.core.models import INSTRUMENTS, Direction
from slob_cli.core.pnl import money_sum, money_text, price_text
from slob_cli.errors import ConfigError

ZERO_SIZE_POLICIES = ("skip", "mnq")
# Float noise guard: 500 / (25 x 20) must give 1 contract, not 0.999999 -> 0.
_SIZE_EPSILON = 1e-9


class SkipReason(str, Enum):
    """Stable reason codes of a refusal; they appear in SETUP_SKIPPED events."""

    KILL_SWITCH = "KILL_SWITCH"
    DRAWDOWN_STOP = "DRAWDOWN_STOP"
    DAILY_LOSS_LIMIT = "DAILY_LOSS_LIMIT"
    MAX_TRADES_PER_DAY = "MAX_TRADES_PER_DAY"
    POSITION_OPEN = "POSITION_OPEN"
    DUPLICATE_SETUP = "DUPLICATE_SETUP"
    STALE_SETUP = "STALE_SETUP"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    INVALID_EQUITY = "INVALID_EQUITY"
    INVALID_RISK = "INVALID_RISK"
    SIZE_ZERO = "SIZE_ZERO"


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Every risk number of STRATEGY.md §6 with its default; percentages are in percent except risk_pct."""

    risk_pct: float = 0.01
    max_contracts: int = 1
    max_open_positions: int = 1
    max_trades_per_day: int = 2
    daily_loss_limit_pct: float = 2.0
    drawdown_half_pct: float = 15.0
    drawdown_stop_pct: float = 25.0
    drawdown_risk_factor: float = 0.5
    zero_size_policy: str = "skip"
    trade_symbol: str | None = None

    def __post_init__(self) -> None:
        problems = [
            ("risk_pct", 0 < self.risk_pct <= 0.1, "must be in (0, 0.1]"),
            ("max_contracts", self.max_contracts >= 1, "must be >= 1"),
            ("max_open_positions", self.max_open_positions >= 1, "must be >= 1"),
            ("max_trades_per_day", self.max_trades_per_day >= 0, "must be >= 0"),
            ("daily_loss_limit_pct", 0 < self.daily_loss_limit_pct <= 100, "must be in (0, 100]"),
            ("drawdown_half_pct", 0 < self.drawdown_half_pct <= 100, "must be in (0, 100]"),
            ("drawdown_stop_pct", self.drawdown_half_pct <= self.drawdown_stop_pct <= 100,
             "must be between drawdown_half_pct and 100"),
            ("drawdown_risk_factor", 0 < self.drawdown_risk_factor <= 1, "must be in (0, 1]"),
            ("zero_size_policy", self.zero_size_policy in ZERO_SIZE_POLICIES,
             f"must be one of {', '.join(ZERO_SIZE_POLICIES)}"),
            ("trade_symbol", self.trade_symbol is None or self.trade_symbol in INSTRUMENTS,
             f"must be one of {', '.join(INSTRUMENTS)}"),
        ]
        for name, ok, message in problems:
            if not ok:
                raise ConfigError(f"risk setting {name} = {getattr(self, name)!r}: {message}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RiskConfig:
        """Build a config from a mapping (a TOML/JSON `[risk]` table); unknown keys are errors."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"unknown risk setting {key!r} (known: {', '.join(known)})")
            default = known[key].default
            if isinstance(default, bool) or isinstance(value, bool):
                raise ConfigError(f"risk setting {key} = {value!r}: must be a number")
            if isinstance(default, int) and not isinstance(value, int):
                raise ConfigError(f"risk setting {key} = {value!r}: must be a whole number")
            if isinstance(default, float) and not isinstance(value, (int, float)):
                raise ConfigError(f"risk setting {key} = {value!r}: must be a number")
            if isinstance(default, float):
                value = float(value)
            values[key] = value
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """The part of a completed setup the risk manager needs."""

    setup_id: str
    symbol: str
    direction: Direction
    trading_date: date
    entry_estimate: float
    stop: float
    target: float

    @classmethod
    def from_setup(cls, setup: Any) -> TradeRequest:
        """Build a request from any object with the tracker's CandidateView attributes."""
        return cls(setup.id, setup.symbol, Direction(setup.direction), setup.trading_date,
                   setup.entry_estimate, setup.stop, setup.target)


@dataclass(frozen=True, slots=True)
class RiskState:
    """Everything the limits depend on; persisted across runs as a JSON object."""

    equity: float
    peak_equity: float
    start_of_day_equity: float
    trading_date: date | None = None
    trades_today: int = 0
    open_positions: int = 0
    realized_pnl_today: float = 0.0
    daily_limit_hit: bool = False
    halted: bool = False
    setups_today: tuple[str, ...] = field(default=())

    @classmethod
    def initial(cls, equity: float, trading_date: date | None = None) -> RiskState:
        """Return the state of a fresh account with this equity."""
        return cls(equity=equity, peak_equity=equity, start_of_day_equity=equity, trading_date=trading_date)

    @property
    def drawdown_pct(self) -> float:
        """Return the drawdown from the peak equity in percent (0 at or above the peak)."""
        if self.peak_equity <= 0:
            return 0.0
        return max(0.0, (self.peak_equity - self.equity) / self.peak_equity * 100.0)

    @property
    def day_loss(self) -> float:
        """Return today's loss in money (positive means lost), by realized P&L or equity change."""
        return max(-self.realized_pnl_today, self.start_of_day_equity - self.equity, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict for the store's `state` table."""
        return {
            "equity": self.equity,
            "peak_equity": self.peak_equity,
            "start_of_day_equity": self.start_of_day_equity,
            "trading_date": self.trading_date.isoformat() if self.trading_date else None,
            "trades_today": self.trades_today,
            "open_positions": self.open_positions,
            "realized_pnl_today": self.realized_pnl_today,
            "daily_limit_hit": self.daily_limit_hit,
            "halted": self.halted,
            "setups_today": list(self.setups_today),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskState:
        """Rebuild a state from to_dict() output; raise ConfigError naming a malformed field."""
        try:
            day = data.get("trading_date")
            state = cls(
                equity=float(data["equity"]),
                peak_equity=float(data["peak_equity"]),
                start_of_day_equity=float(data["start_of_day_equity"]),
                trading_date=date.fromisoformat(day) if day else None,
                trades_today=int(data.get("trades_today", 0)),
                open_positions=int(data.get("open_positions", 0)),
                realized_pnl_today=float(data.get("realized_pnl_today", 0.0)),
                daily_limit_hit=bool(data.get("daily_limit_hit", False)),
                halted=bool(data.get("halted", False)),
                setups_today=tuple(str(s) for s in data.get("setups_today", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"stored risk state is malformed: {exc}") from None
        if not all(math.isfinite(v) for v in (state.equity, state.peak_equity, state.start_of_day_equity)):
            raise ConfigError("stored risk state is malformed: equity is not a finite number")
        return state


@dataclass(frozen=True, slots=True)
class Approved:
    """A setup the risk manager lets through, with its size."""

    setup_id: str
    symbol: str
    direction: Direction
    contracts: int
    entry_estimate: float
    stop: float
    target: float
    risk_points: float
    multiplier: float
    risk_dollars: float
    budget: float
    risk_factor: float

    def to_event_data(self) -> dict[str, Any]:
        """Return a JSON-able summary for the event that records the approval."""
        return {"symbol": self.symbol, "direction": self.direction.value, "contracts": self.contracts,
                "risk_points": self.risk_points, "risk_dollars": self.risk_dollars, "budget": self.budget,
                "risk_factor": self.risk_factor}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A setup the risk manager refused; `reason` is a stable code, `detail` a one-line sentence."""

    setup_id: str
    reason: SkipReason
    detail: str

    def to_event_data(self) -> dict[str, Any]:
        """Return the JSON-able payload of the SETUP_SKIPPED event."""
        return {"reason": self.reason.value, "detail": self.detail}


Decision = Approved | Skipped


def size_contracts(budget: float, risk_points: float, multiplier: float) -> int:
    """Return floor(budget / (risk_points x multiplier)); 0 when a contract costs more than the budget."""
    per_contract = risk_points * multiplier
    if not (budget > 0 and per_contract > 0 and math.isfinite(budget) and math.isfinite(per_contract)):
        return 0
    return max(0, math.floor(budget / per_contract + _SIZE_EPSILON))


def roll_day(state: RiskState, trading_date: date) -> RiskState:
    """Start a new trading day: reset the daily counters; the drawdown halt and open positions stay."""
    if state.trading_date == trading_date:
        return state
    return replace(
        state,
        trading_date=trading_date,
        start_of_day_equity=state.equity,
        trades_today=0,
        realized_pnl_today=0.0,
        daily_limit_hit=False,
        setups_today=(),
    )


def _with_equity(state: RiskState, equity: float, config: RiskConfig) -> RiskState:
    peak = max(state.peak_equity, equity)
    updated = replace(state, equity=equity, peak_equity=peak)
    halted = state.halted or updated.drawdown_pct >= config.drawdown_stop_pct
    limit = state.start_of_day_equity * config.daily_loss_limit_pct / 100.0
    daily_hit = state.daily_limit_hit or updated.day_loss >= limit > 0
    return replace(updated, halted=halted, daily_limit_hit=daily_hit)


def update_equity(state: RiskState, equity: float, config: RiskConfig) -> RiskState:
    """Take a fresh equity figure (e.g. the broker's net liquidation); latch the limits it crosses."""
    return _with_equity(state, float(equity), config)


def record_entry(state: RiskState, setup_id: str) -> RiskState:
    """Count an approved setup: one more trade today and one more open position."""
    return replace(
        state,
        trades_today=state.trades_today + 1,
        open_positions=state.open_positions + 1,
        setups_today=(*state.setups_today, setup_id),
    )


def record_entry_cancelled(state: RiskState) -> RiskState:
    """Free the position slot of an entry that never filled; it still counts as today's trade."""
    return replace(state, open_positions=max(0, state.open_positions - 1))


def record_close(state: RiskState, pnl: float, config: RiskConfig) -> RiskState:
    """Apply a closed trade's P&L (money, after commission): equity, peak, daily and drawdown limits."""
    closed = replace(
        state,
        open_positions=max(0, state.open_positions - 1),
        realized_pnl_today=money_sum((state.realized_pnl_today, pnl)),
    )
    return _with_equity(closed, money_sum((state.equity, pnl)), config)


def rebuild_open_positions(state: RiskState, holding: int) -> RiskState:
    """Set open_positions to what reconciliation found at the broker, whatever the counter had drifted to."""
    return replace(state, open_positions=max(0, holding))


def reset_halt(state: RiskState) -> RiskState:
    """Clear the drawdown halt and restart the peak from today's equity (an operator's decision)."""
    return replace(state, halted=False, peak_equity=state.equity)


class RiskManager:
    """Decide whether and how large to trade a completed setup."""

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config or RiskConfig()

    def risk_factor(self, state: RiskState) -> float:
        """Return 1.0, or the reduced factor once the drawdown reaches drawdown_half_pct."""
        if state.drawdown_pct >= self.config.drawdown_half_pct:
            return self.config.drawdown_risk_factor
        return 1.0

    def evaluate(self, setup: TradeRequest, state: RiskState, kill_switch_active: bool) -> Decision:
        """Return Approved with a size, or Skipped with the first reason that refuses the setup."""
        config = self.config
        if state.trading_date is not None and setup.trading_date < state.trading_date:
            return _skip(setup, SkipReason.STALE_SETUP, f"setup is for {setup.trading_date}, today is {state.trading_date}")
        state = roll_day(state, setup.trading_date)
        if kill_switch_active:
            return _skip(setup, SkipReason.KILL_SWITCH, "the kill switch is active")
        if state.halted or state.drawdown_pct >= config.drawdown_stop_pct:
            return _skip(setup, SkipReason.DRAWDOWN_STOP,
                         f"drawdown {state.drawdown_pct:.1f} % reached the {config.drawdown_stop_pct:g} % stop")
        limit = state.start_of_day_equity * config.daily_loss_limit_pct / 100.0
        if state.daily_limit_hit or state.day_loss >= limit > 0:
            return _skip(setup, SkipReason.DAILY_LOSS_LIMIT,
                         f"today's loss {money_text(state.day_loss, signed=False)} reached the limit "
                         f"{money_text(limit, signed=False)}")
        if setup.setup_id in state.setups_today:
            return _skip(setup, SkipReason.DUPLICATE_SETUP, "this setup was already approved")
        if state.trades_today >= config.max_trades_per_day:
            return _skip(setup, SkipReason.MAX_TRADES_PER_DAY,
                         f"{state.trades_today} trades today, the limit is {config.max_trades_per_day}")
        if state.open_positions >= config.max_open_positions:
            return _skip(setup, SkipReason.POSITION_OPEN,
                         f"{state.open_positions} position(s) open, the limit is {config.max_open_positions}")
        return self._size(setup, state)

    def take(self, setup: TradeRequest, state: RiskState, kill_switch_active: bool) -> tuple[Decision, RiskState]:
        """Evaluate the setup and return the decision with the state after counting an approval."""
        decision = self.evaluate(setup, state, kill_switch_active)
        if setup.trading_date >= (state.trading_date or setup.trading_date):
            state = roll_day(state, setup.trading_date)
        if isinstance(decision, Approved):
            state = record_entry(state, setup.setup_id)
        return decision, state

    def _size(self, setup: TradeRequest, state: RiskState) -> Decision:
        config = self.config
        symbol = config.trade_symbol or setup.symbol
        if symbol not in INSTRUMENTS:
            return _skip(setup, SkipReason.UNKNOWN_SYMBOL, f"no instrument {symbol!r}")
        if not (math.isfinite(state.equity) and state.equity > 0):
            return _skip(setup, SkipReason.INVALID_EQUITY, f"equity {state.equity!r} is not positive")
        problem = _risk_problem(setup)
        if problem:
            return _skip(setup, SkipReason.INVALID_RISK, problem)
        factor = self.risk_factor(state)
        budget = state.equity * config.risk_pct * factor
        risk_points = abs(setup.entry_estimate - setup.stop)
        multiplier = INSTRUMENTS[symbol].multiplier
        contracts = min(size_contracts(budget, risk_points, multiplier), config.max_contracts)
        if contracts == 0 and config.zero_size_policy == "mnq" and symbol != "MNQ":
            # Same dollar exposure cap, expressed in micro contracts.
            micro_cap = math.floor(config.max_contracts * multiplier / INSTRUMENTS["MNQ"].multiplier)
            symbol, multiplier = "MNQ", INSTRUMENTS["MNQ"].multiplier
            contracts = min(size_contracts(budget, risk_points, multiplier), micro_cap)
        if contracts == 0:
            return _skip(setup, SkipReason.SIZE_ZERO,
                         f"one {symbol} contract risks {money_text(risk_points * multiplier, signed=False)}, "
                         f"the budget is {money_text(budget, signed=False)}")
        return Approved(
            setup_id=setup.setup_id, symbol=symbol, direction=setup.direction, contracts=contracts,
            entry_estimate=setup.entry_estimate, stop=setup.stop, target=setup.target,
            risk_points=risk_points, multiplier=multiplier, risk_dollars=contracts * risk_points * multiplier,
            budget=budget, risk_factor=factor,
        )


def _risk_problem(setup: TradeRequest) -> str | None:
    prices = (setup.entry_estimate, setup.stop, setup.target)
    if not all(isinstance(p, (int, float)) and math.isfinite(p) and p > 0 for p in prices):
        return f"entry {setup.entry_estimate!r}, stop {setup.stop!r} or target {setup.target!r} is not a positive price"
    short = setup.direction is Direction.SHORT
    if (setup.stop <= setup.entry_estimate) if short else (setup.stop >= setup.entry_estimate):
        side = "above" if short else "below"
        return f"stop {price_text(setup.stop)} is not {side} the entry {price_text(setup.entry_estimate)}"
    if (setup.target >= setup.entry_estimate) if short else (setup.target <= setup.entry_estimate):
        side = "below" if short else "above"
        return f"target {price_text(setup.target)} is not {side} the entry {price_text(setup.entry_estimate)}"
    return None


def _skip(setup: TradeRequest, reason: SkipReason, detail: str) -> Skipped:
    return Skipped(setup.setup_id, reason, detail)
