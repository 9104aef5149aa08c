"""The backtest kernel: stored M1 candles through the live tracker, risk manager and bracket planning.

Each candle goes, in this order: (1) a position whose session has ended is flattened; (2) a
market entry decided on the previous bar fills at this bar's open; (3) the open position's stop
and target are checked against this bar; (4) the SAME SetupTracker the engine runs reads the
bar, and every SETUP_COMPLETE goes through the SAME RiskManager.take and build_bracket as the
executor. A decision at the close of bar t therefore reads bars <= t only; bar t+1 supplies
nothing but its open as the entry price.

Fill model (conservative, M1 bars cannot show the order of prices inside a bar):
- entry: market order at the open of the next real bar of the same session, `slippage_ticks`
  against the trader; no later bar in the session -> the entry never fills (ENTRY_NOT_FILLED);
- stop: touched when the bar trades at or through it; fills at the stop, or at the bar's open
  when the bar opens beyond it, plus `slippage_ticks` against the trader;
- target: a resting limit, filled at its price when the bar touches it;
- a bar that touches both stop and target counts as the stop (that ambiguity resolves against the trader;
  the model as a whole is no bound on live fills, see docs/commands.md `slob backtest`);
- session end: a position still open is flattened at the close of the last bar of the session,
  `slippage_ticks` against the trader; data ending mid-session closes it at the last close (END_OF_DATA);
- commission per contract per side (core/pnl.py, as the simulated broker charges).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from slob_cli.core.models import TICK_SIZE, Candle, Direction
from slob_cli.core.orders import build_bracket
from slob_cli.core.pnl import COMMISSION_PER_SIDE, FillLine, commission_for, trade_result
from slob_cli.core.risk import (
    Approved,
    RiskConfig,
    RiskManager,
    RiskState,
    TradeRequest,
    record_close,
    record_entry_cancelled,
)
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import EventType, SetupEvent
from slob_cli.core.strategy.tracker import SetupTracker
from slob_cli.errors import ConfigError

NEW_YORK = ZoneInfo("America/New_York")
# timezone.utc like the candles: comparing datetimes that share one tzinfo object skips utcoffset() calls.
_BEFORE_ANY = datetime.min.replace(tzinfo=timezone.utc)
FILL_MODEL_NOTE = (
    "M1 backtest: the order of prices inside a one-minute bar is unknown; where a bar leaves it open the "
    "trader's worse case is taken (entry at the next bar's open plus slippage, a bar touching stop and target "
    "counts as the stop, stops fill at the worse of stop and open plus slippage, flatten at the session's last "
    "close). It is no bound on live fills: a live stop fills at the trade that reached it, which can be further."
)


class ExitReason:
    """Why a backtest position closed (the live executor's roles, plus the two a replay needs)."""

    STOP = "stop"
    TARGET = "target"
    SESSION_END = "flatten"
    END_OF_DATA = "end_of_data"


@dataclass(frozen=True, slots=True)
class FillModel:
    """How the backtest turns a bracket into fills; see the module docstring."""

    slippage_ticks: int = 1
    tick_size: float = TICK_SIZE
    commission_per_side: Mapping[str, float] = field(default_factory=lambda: dict(COMMISSION_PER_SIDE))
    flatten_at_session_end: bool = True
    initial_equity: float = 100_000.0

    def __post_init__(self) -> None:
        if isinstance(self.slippage_ticks, bool) or not isinstance(self.slippage_ticks, int) or self.slippage_ticks < 0:
            raise ConfigError(f"fill setting slippage_ticks = {self.slippage_ticks!r}: must be a whole number >= 0")
        if not self.initial_equity > 0:
            raise ConfigError(f"fill setting initial_equity = {self.initial_equity!r}: must be positive")

    @property
    def slippage(self) -> float:
        """Return the slippage in points."""
        return self.slippage_ticks * self.tick_size

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able description for the stored run."""
        return {"slippage_ticks": self.slippage_ticks, "tick_size": self.tick_size,
                "commission_per_side": dict(self.commission_per_side),
                "flatten_at_session_end": self.flatten_at_session_end, "initial_equity": self.initial_equity}


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    """A setup the risk manager approved: its size and bracket prices (what live sends)."""

    setup_id: str
    symbol: str
    direction: Direction
    trading_date: date
    contracts: int
    entry_estimate: float
    stop: float
    target: float
    risk_dollars: float
    multiplier: float
    decision_time: datetime
    session_end: datetime


@dataclass(frozen=True, slots=True)
class BacktestTrade:
    """One round trip of the backtest."""

    plan: PlannedTrade
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    exit_reason: str
    points: float
    commission: float
    pnl: float
    r_multiple: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able row (times ISO 'Z')."""
        plan = self.plan
        return {
            "setup_id": plan.setup_id, "symbol": plan.symbol, "direction": plan.direction.value,
            "trading_date": plan.trading_date.isoformat(), "contracts": plan.contracts,
            "decision_time": _iso(plan.decision_time), "entry_estimate": plan.entry_estimate,
            "stop": plan.stop, "target": plan.target, "entry_time": _iso(self.entry_time),
            "entry_price": self.entry_price, "exit_time": _iso(self.exit_time), "exit_price": self.exit_price,
            "exit_reason": self.exit_reason, "points": self.points, "commission": self.commission,
            "pnl": self.pnl, "r_multiple": self.r_multiple, "risk_dollars": plan.risk_dollars,
        }


@dataclass
class _Position:
    plan: PlannedTrade
    entry_time: datetime
    entry_price: float


@dataclass
class BacktestOutcome:
    """What one pass produced: trades, the equity after each, setups by final state, skips, counts."""

    trades: list[BacktestTrade]
    plans: list[PlannedTrade]
    setup_states: dict[str, str]
    skipped: dict[str, str]
    candles: int
    initial_equity: float
    final_state: RiskState
    first_candle: datetime | None
    last_candle: datetime | None


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return ts.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def _ny_midnight_after(ts: datetime) -> datetime:
    local = ts.astimezone(NEW_YORK).date() + timedelta(days=1)
    return datetime.combine(local, time(0), NEW_YORK).astimezone(timezone.utc)


class BacktestKernel:
    """Feed candles in time order with `on_candle`, then `finish(until)`; pure and deterministic."""

    def __init__(self, symbol: str, strategy: StrategyConfig, risk: RiskConfig, calendar: TradingCalendar,
                 fill: FillModel | None = None) -> None:
        self.symbol = symbol
        self.fill = fill or FillModel()
        self.tracker = SetupTracker(symbol, strategy, calendar)
        self.risk = RiskManager(risk)
        self.state = RiskState.initial(self.fill.initial_equity)
        self.trades: list[BacktestTrade] = []
        self.plans: list[PlannedTrade] = []
        self.setup_states: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self._pending: PlannedTrade | None = None
        self._position: _Position | None = None
        self._last_real: Candle | None = None
        self._next_midnight = _BEFORE_ANY
        self._candles = 0
        self._first: datetime | None = None

    # ------------------------------------------------------------------ feeding
    def on_candle(self, candle: Candle) -> None:
        """Apply one closed M1 candle (strictly after the previous one)."""
        ts = candle.ts
        self._candles += 1
        if ts >= self._next_midnight:
            self._new_day(ts)
        if self._position is not None or self._pending is not None:
            self._trade_bar(candle)
        events = self.tracker.on_candle(candle)
        if events:
            self._on_events(events)
        if candle.tick_count != 0:
            self._last_real = candle

    def _new_day(self, ts: datetime) -> None:
        """Run the clock to the New York midnight just passed (first candle: remember where we started)."""
        if self._first is None:
            self._first = ts
        else:
            self._clock(self._next_midnight)
        self._next_midnight = _ny_midnight_after(ts)

    def _trade_bar(self, candle: Candle) -> None:
        """Flatten a position whose session ended, fill a pending entry, check the stop and target."""
        position = self._position
        if position is not None and candle.ts >= position.plan.session_end:
            self._flatten(ExitReason.SESSION_END)
        if candle.tick_count != 0:  # a synthetic bar carries no trade: nothing can fill on it
            if self._pending is not None:
                self._enter(candle)
            if self._position is not None:
                self._check_exits(candle)

    def on_time(self, now: datetime) -> None:
        """Move the clock (session end closes candidates and flattens a position still open)."""
        self._clock(now)

    def finish(self, until: datetime) -> BacktestOutcome:
        """Run the clock to `until`, close what the data cannot close, and return the outcome."""
        self._clock(until)
        if self._pending is not None:
            self._cancel_pending("no bar after the decision before the end of the data")
        if self._position is not None:
            self._flatten(ExitReason.END_OF_DATA)
        for view in self.tracker.candidates():
            self.setup_states.setdefault(view.id, view.state.value)
        return BacktestOutcome(self.trades, self.plans, self.setup_states, self.skipped, self._candles,
                               self.fill.initial_equity, self.state, self._first,
                               self._last_real.ts if self._last_real else None)

    # ------------------------------------------------------------------ internals
    def _clock(self, now: datetime) -> None:
        position = self._position
        if position is not None and now >= position.plan.session_end:
            self._flatten(ExitReason.SESSION_END)
        pending = self._pending
        if pending is not None and now >= pending.session_end:
            self._cancel_pending("the session ended before the entry could fill")
        events = self.tracker.on_time(now)
        if events:
            self._on_events(events)

    def _on_events(self, events: Iterable[SetupEvent]) -> None:
        for event in events:
            kind = event.type
            if kind is EventType.SETUP_INVALIDATED and event.candidate_id:
                self.setup_states[event.candidate_id] = f"INVALIDATED ({event.data['reason']})"
            elif kind is EventType.SETUP_COMPLETE and event.candidate_id:
                self.setup_states[event.candidate_id] = "SETUP_COMPLETE"
                self._decide(event)

    def _decide(self, event: SetupEvent) -> None:
        """Do what the executor does with SETUP_COMPLETE: risk decision, then the bracket."""
        data = event.data
        assert event.direction is not None and event.candidate_id is not None
        request = TradeRequest(event.candidate_id, event.symbol, event.direction, event.trading_date,
                               data["entry_est"], data["sl"], data["tp"])
        decision, self.state = self.risk.take(request, self.state, False)
        if not isinstance(decision, Approved):
            self.skipped[request.setup_id] = decision.reason.value
            return
        try:
            bracket = build_bracket(request.setup_id, request.direction, decision.symbol, decision.contracts,
                                    request.entry_estimate, request.stop, request.target)
        except ValueError:
            self.state = record_entry_cancelled(self.state)
            self.skipped[request.setup_id] = "INVALID_BRACKET"
            return
        session = self.tracker.current_session()
        assert session is not None
        plan = PlannedTrade(
            request.setup_id, decision.symbol, request.direction, request.trading_date, decision.contracts,
            request.entry_estimate, float(bracket.stop.stop_price or 0.0), float(bracket.target.limit_price or 0.0),
            decision.risk_dollars, decision.multiplier, event.bar_time, session.session_end)
        self.plans.append(plan)
        self._pending = plan

    def _cancel_pending(self, _why: str) -> None:
        plan = self._pending
        assert plan is not None
        self._pending = None
        self.state = record_entry_cancelled(self.state)
        self.skipped[plan.setup_id] = "ENTRY_NOT_FILLED"

    def _enter(self, candle: Candle) -> None:
        plan = self._pending
        assert plan is not None
        self._pending = None
        if candle.ts >= plan.session_end:
            self._pending = plan
            self._cancel_pending("the session ended before the entry could fill")
            return
        slip = self.fill.slippage
        price = candle.open - slip if plan.direction is Direction.SHORT else candle.open + slip
        self._position = _Position(plan, candle.ts, price)

    def _check_exits(self, candle: Candle) -> None:
        position = self._position
        assert position is not None
        plan = position.plan
        slip = self.fill.slippage
        if plan.direction is Direction.SHORT:
            if candle.high >= plan.stop:
                self._close(candle.ts, max(plan.stop, candle.open) + slip, ExitReason.STOP)
            elif candle.low <= plan.target:
                self._close(candle.ts, plan.target, ExitReason.TARGET)
        else:
            if candle.low <= plan.stop:
                self._close(candle.ts, min(plan.stop, candle.open) - slip, ExitReason.STOP)
            elif candle.high >= plan.target:
                self._close(candle.ts, plan.target, ExitReason.TARGET)

    def _flatten(self, reason: str) -> None:
        position = self._position
        assert position is not None
        last = self._last_real
        if last is None or last.ts < position.entry_time:
            price, when = position.entry_price, position.entry_time
        else:
            slip = self.fill.slippage if reason == ExitReason.SESSION_END else 0.0
            price = last.close + slip if position.plan.direction is Direction.SHORT else last.close - slip
            when = last.end
        if reason == ExitReason.SESSION_END and not self.fill.flatten_at_session_end:
            return
        self._close(when, price, reason)

    def _close(self, when: datetime, price: float, reason: str) -> None:
        position = self._position
        assert position is not None
        self._position = None
        plan = position.plan
        side = commission_for(plan.symbol, plan.contracts, dict(self.fill.commission_per_side))
        result = trade_result(plan.direction, plan.multiplier, [FillLine(plan.contracts, position.entry_price, side)],
                              [FillLine(plan.contracts, price, side)])
        net = result.net or 0.0
        r_multiple = net / plan.risk_dollars if plan.risk_dollars > 0 else 0.0
        self.trades.append(BacktestTrade(plan, position.entry_time, position.entry_price, when, price, reason,
                                         result.points or 0.0, result.commission, net, r_multiple))
        self.state = record_close(self.state, net, self.risk.config)


def run_kernel(symbol: str, candles: Iterable[Candle], until: datetime, strategy: StrategyConfig,
               risk: RiskConfig, calendar: TradingCalendar, fill: FillModel | None = None) -> BacktestOutcome:
    """Backtest candles (time order) with the clock run to `until`; return the outcome."""
    kernel = BacktestKernel(symbol, strategy, risk, calendar, fill)
    on_candle = kernel.on_candle
    for candle in candles:
        on_candle(candle)
    return kernel.finish(until)


def states_summary(outcome: BacktestOutcome) -> dict[str, int]:
    """Return how many candidates ended in each state (invalidations with their reason)."""
    return dict(Counter(outcome.setup_states.values()).most_common())

