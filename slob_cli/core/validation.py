"""The paper-validation verdict: pure rules over plain data gathered from one run.

Each rule gives one Criterion (error or warning). A report passes when no error criterion failed;
`strict` also fails it on any failed warning (delayed data, dropped ticks, gaps, outages).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from slob_cli.core.broker_view import TERMINAL, OrderStatus
from slob_cli.core.orders import OrderRole
from slob_cli.core.pnl import lost, money_sum, money_text, won
from slob_cli.core.unrealized import largest_difference
from slob_cli.core.words import counted


class Severity(str, Enum):
    """How much a failed criterion counts."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Criterion:
    """One checked rule and its outcome."""

    name: str
    passed: bool
    detail: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class Outage:
    """A time the gateway connection was down; `end` None means it never came back."""

    start: datetime
    end: datetime | None

    def seconds(self, run_end: datetime) -> float:
        """Return the outage length, counting an open outage up to the end of the run."""
        return ((self.end or run_end) - self.start).total_seconds()


@dataclass(frozen=True)
class Gap:
    """Minutes missing from the candle stream of a symbol."""

    symbol: str
    start: datetime
    minutes: int


@dataclass(frozen=True)
class OrderInfo:
    """An order of the run; `placed` counts how often it was sent to the broker."""

    order_ref: str
    setup_id: str | None
    role: str  # entry | stop | target
    status: str
    quantity: float = 0.0
    filled: float = 0.0
    placed: int = 1


@dataclass(frozen=True)
class FillInfo:
    """One execution."""

    order_ref: str | None
    quantity: float
    price: float


@dataclass(frozen=True)
class TradeInfo:
    """A position opened by a setup's entry."""

    setup_id: str
    direction: str  # LONG | SHORT
    quantity: float
    entry_estimate: float | None
    entry_price: float | None
    exit_price: float | None
    pnl_points: float | None
    pnl_money: float | None
    commission: float | None
    open: bool


@dataclass(frozen=True)
class ValidationInput:
    """Everything a verdict needs, as plain data."""

    target_seconds: float
    actual_seconds: float
    crashed: bool
    run_end: datetime
    outages: Sequence[Outage] = ()
    reconnects: int = 0
    restores: int = 0  # IB's 1101/1102 ending a 1100 (an outage without a reconnect)
    safe_mode_entries: int = 0
    candles_received: int = 0
    candles_generated: int = 0
    candles_persisted: int = 0
    gaps: Sequence[Gap] = ()
    dropped_ticks: int = 0
    late_ticks: int = 0
    delayed_data: bool = False
    simulated_data: bool = False  # the simulated gateway's market: real-time, but not the exchange's
    sim_clock: bool = False  # the run's times are a simulated gateway's clock: its spans are virtual seconds
    live_events: Sequence[Any] | None = None
    offline_events: Sequence[Any] | None = None
    events_not_the_runs: str | None = None  # why the stored events are not what the run logged (then not judged)
    orders: Sequence[OrderInfo] = ()
    fills: Sequence[FillInfo] = ()
    trades: Sequence[TradeInfo] = ()
    setups_by_state: dict[str, int] = field(default_factory=dict)
    monitor_only: bool = False
    crash_detail: str = ""
    unrealized_pairs: Sequence[tuple[float, float]] = ()  # (ours, the broker's) unrealized P&L per heartbeat


@dataclass(frozen=True)
class Thresholds:
    """Limits the rules use; the defaults suit a 24 h paper run."""

    duration_tolerance_seconds: float = 60.0
    max_outage_seconds: float = 900.0
    unrealized_tolerance_usd: float = 25.0  # ours vs the broker's (a tick apart, commissions, timing)


@dataclass(frozen=True)
class Report:
    """The verdict: criteria in a fixed order and the run's figures."""

    criteria: tuple[Criterion, ...]
    figures: dict[str, Any]

    def failures(self, strict: bool = False) -> list[Criterion]:
        """Return the failed criteria that count (errors; warnings too when strict)."""
        return [c for c in self.criteria if not c.passed and (strict or c.severity is Severity.ERROR)]

    def passed(self, strict: bool = False) -> bool:
        """Return True when no counted criterion failed."""
        return not self.failures(strict)

    def verdict(self, strict: bool = False) -> str:
        """Return `PASSED` or `FAILED: <names>`."""
        failed = self.failures(strict)
        return "PASSED" if not failed else "FAILED: " + ", ".join(c.name for c in failed)


ENTRY, STOP, TARGET = OrderRole.ENTRY.value, OrderRole.STOP.value, OrderRole.TARGET.value
# Our own terminal statuses plus IB's names for the same ends; an unsent intent protects nothing either.
DONE_STATUSES = frozenset({status.value.lower() for status in TERMINAL} | {"apicancelled", "rejected"})
_NOT_PROTECTING = DONE_STATUSES | {OrderStatus.INTENT.value.lower()}


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def _on_clock(data: ValidationInput) -> str:
    """Return how a span of this run names its clock: a simulated run's spans are virtual time."""
    return " on the simulated clock" if data.sim_clock else ""


def check_uptime(data: ValidationInput, limits: Thresholds) -> list[Criterion]:
    """No crash, and the run lasted its duration."""
    crash = Criterion("no crash", not data.crashed,
                      data.crash_detail or ("the run ended cleanly" if not data.crashed else "the run crashed"))
    reached = data.actual_seconds + limits.duration_tolerance_seconds >= data.target_seconds
    duration = Criterion("duration reached", reached,
                         f"ran {_hours(data.actual_seconds)} of {_hours(data.target_seconds)}{_on_clock(data)}")
    return [crash, duration]


def check_connection(data: ValidationInput, limits: Thresholds) -> list[Criterion]:
    """Outages end, none is longer than the limit; any outage or safe-mode entry is a warning."""
    longest = max((o.seconds(data.run_end) for o in data.outages), default=0.0)
    unrecovered = [o for o in data.outages if o.end is None]
    restored = f"{data.restores} restored by IB (1101/1102), " if data.restores else ""
    summary = (f"{len(data.outages)} disconnects, longest outage {longest:.0f}s{_on_clock(data)}, "
               f"{data.reconnects} reconnects, "
               f"{restored}{data.safe_mode_entries} safe-mode entries")
    recovered = Criterion(
        "connection recovered", not unrecovered and longest <= limits.max_outage_seconds,
        summary if not unrecovered else f"still disconnected at the end; {summary}",
    )
    stable = Criterion("connection stable", not data.outages and not data.safe_mode_entries, summary,
                       Severity.WARNING)
    return [recovered, stable]


def check_candles(data: ValidationInput) -> list[Criterion]:
    """Candles arrived, every generated candle was persisted, gaps and drops listed."""
    received = Criterion("candles received", data.candles_received > 0, f"{data.candles_received} candles received")
    persisted = Criterion(
        "candles persisted", data.candles_persisted == data.candles_generated,
        f"{data.candles_persisted} persisted of {data.candles_generated} generated",
    )
    gap_text = "; ".join(f"{g.symbol} {g.start.isoformat()} ({g.minutes} min)" for g in data.gaps[:10])
    gaps = Criterion("no gaps", not data.gaps, f"{len(data.gaps)} gaps" + (f": {gap_text}" if gap_text else ""),
                     Severity.WARNING)
    drops = Criterion("no dropped ticks", data.dropped_ticks == 0, f"{data.dropped_ticks} ticks dropped",
                      Severity.WARNING)
    without = sum(o.seconds(data.run_end) for o in data.outages)
    kind = "simulated real-time data" if data.simulated_data else "live data"
    if data.delayed_data:
        flow = "delayed data was used"
    elif without > 0:
        flow = f"{kind} while connected; none for {without:.0f}s{_on_clock(data)} of outages"
    else:
        flow = f"{kind} throughout"
    delayed = Criterion("live market data", not data.delayed_data, flow, Severity.WARNING)
    late = Criterion("no late ticks", data.late_ticks == 0,
                     f"{data.late_ticks} ticks arrived for a minute already closed (counted, not applied)",
                     Severity.WARNING)
    return [received, persisted, gaps, drops, late, delayed]


def check_look_ahead(data: ValidationInput) -> Criterion:
    """The offline replay of the persisted candles gives exactly the live events."""
    if data.live_events is None or data.offline_events is None:
        return Criterion("no look-ahead", False, "offline replay not available; not checked", Severity.WARNING)
    if data.events_not_the_runs:
        return Criterion("no look-ahead", False, f"not checked: {data.events_not_the_runs}", Severity.WARNING)
    live, offline = list(data.live_events), list(data.offline_events)
    if live == offline:
        return Criterion("no look-ahead", True, f"{len(live)} live events equal the offline replay")
    first = next((i for i, (a, b) in enumerate(zip(live, offline, strict=False)) if a != b), min(len(live), len(offline)))
    return Criterion(
        "no look-ahead", False,
        f"live ({len(live)} events) and offline replay ({len(offline)}) differ from event {first + 1}",
    )


def check_orders(data: ValidationInput) -> list[Criterion]:
    """No duplicate orders; every entry had a stop and a target; no open position without a stop."""
    refs_placed: Counter[str] = Counter()
    for order in data.orders:
        refs_placed[order.order_ref] += max(order.placed, 1)
    entries_per_setup = Counter(o.setup_id for o in data.orders if o.role == ENTRY and o.setup_id)
    twice = sorted(ref for ref, count in refs_placed.items() if count > 1)
    double_entries = sorted(str(setup) for setup, count in entries_per_setup.items() if count > 1)
    problems = [f"orderRef {ref} placed twice" for ref in twice]
    problems += [f"setup {setup} has {entries_per_setup[setup]} entries" for setup in double_entries]
    duplicates = Criterion("no duplicate orders", not problems,
                           "; ".join(problems) or f"{len(refs_placed)} distinct orders")

    roles: dict[str, set[str]] = {}
    for order in data.orders:
        if order.setup_id:
            roles.setdefault(order.setup_id, set()).add(order.role)
    entry_setups = sorted(entries_per_setup)
    naked = [s for s in entry_setups if not {STOP, TARGET} <= roles.get(s, set())]
    bracketed = Criterion(
        "entries bracketed", not naked,
        (f"without stop or target: {', '.join(naked)}" if naked
         else f"{len(entry_setups)} entries, each with a stop and a target"),
    )

    working_stops = {o.setup_id for o in data.orders if o.role == STOP and o.status.lower() not in _NOT_PROTECTING}
    open_trades = [t for t in data.trades if t.open]
    unprotected = sorted(t.setup_id for t in open_trades if t.setup_id not in working_stops)
    protected = Criterion(
        "positions protected", not unprotected,
        (f"open without a working stop: {', '.join(unprotected)}" if unprotected
         else f"{len(open_trades)} open positions, each with a working stop"),
    )
    return [duplicates, bracketed, protected]


def check_broker_unrealized(data: ValidationInput, limits: Thresholds) -> Criterion:
    """Our unrealized P&L stays within the tolerance of the broker's (reqPnLSingle) at every heartbeat."""
    difference = largest_difference(data.unrealized_pairs)
    if not difference.samples:
        return Criterion("unrealized P&L matches the broker", True, "no heartbeat with both figures",
                         Severity.WARNING)
    detail = (f"largest difference {money_text(difference.worst, signed=False)} over {counted(difference.samples, 'heartbeat')} "
              f"(ours {money_text(difference.ours)}, broker {money_text(difference.broker)}; tolerance "
              f"{money_text(limits.unrealized_tolerance_usd, signed=False)})")
    return Criterion("unrealized P&L matches the broker", difference.within(limits.unrealized_tolerance_usd),
                     detail, Severity.WARNING)


def _slippage(trade: TradeInfo) -> float | None:
    if trade.entry_price is None or trade.entry_estimate is None:
        return None
    # Positive slippage is a worse price than estimated: higher for LONG, lower for SHORT.
    sign = 1.0 if trade.direction.upper() == "LONG" else -1.0
    return round(sign * (trade.entry_price - trade.entry_estimate), 4)


def figures_of(data: ValidationInput, limits: Thresholds) -> dict[str, Any]:
    """Return the run's figures: duration, connection, candles, setups, orders, fills, P&L, slippage."""
    closed = [t for t in data.trades if not t.open]
    slippages = [s for s in (_slippage(t) for t in data.trades) if s is not None]
    by_role = Counter(o.role for o in data.orders)
    by_status = Counter(o.status for o in data.orders)
    return {
        "duration_hours": round(data.actual_seconds / 3600, 3),
        "target_hours": round(data.target_seconds / 3600, 3),
        "disconnects": len(data.outages),
        "longest_outage_seconds": round(max((o.seconds(data.run_end) for o in data.outages), default=0.0), 1),
        "clock": "sim" if data.sim_clock else "wall",  # whose seconds and hours these are
        "reconnects": data.reconnects,
        "restores": data.restores,
        "safe_mode_entries": data.safe_mode_entries,
        "candles": {"received": data.candles_received, "generated": data.candles_generated,
                    "persisted": data.candles_persisted},
        "gaps": len(data.gaps),
        "dropped_ticks": data.dropped_ticks,
        "late_ticks": data.late_ticks,
        "delayed_data": data.delayed_data,
        "monitor_only": data.monitor_only,
        "setups_by_state": dict(sorted(data.setups_by_state.items())),
        "orders": {"total": len(data.orders), "by_role": dict(sorted(by_role.items())),
                   "by_status": dict(sorted(by_status.items()))},
        "fills": {"count": len(data.fills), "quantity": sum(f.quantity for f in data.fills)},
        "trades": {"total": len(data.trades), "open": len(data.trades) - len(closed), "closed": len(closed),
                   "wins": sum(1 for t in closed if won(t.pnl_money)),
                   "losses": sum(1 for t in closed if lost(t.pnl_money))},
        "pnl": {"points": round(sum(t.pnl_points or 0.0 for t in closed), 2),
                "money": money_sum(t.pnl_money for t in closed),
                "commission": money_sum(t.commission for t in closed)},
        "entry_slippage_points": {
            "count": len(slippages),
            "mean": round(sum(slippages) / len(slippages), 4) if slippages else None,
            "worst": max(slippages) if slippages else None,
        },
        "max_outage_seconds_allowed": limits.max_outage_seconds,
    }


def evaluate(data: ValidationInput, limits: Thresholds | None = None) -> Report:
    """Apply every rule to one run's data and return the report."""
    limits = limits or Thresholds()
    criteria = [
        *check_uptime(data, limits),
        *check_connection(data, limits),
        *check_candles(data),
        check_look_ahead(data),
        *check_orders(data),
        check_broker_unrealized(data, limits),
    ]
    return Report(tuple(criteria), figures_of(data, limits))
