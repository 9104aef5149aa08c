"""One trading session in one process: the engine against a gateway, optionally the embedded sim.

`slob trade`, `slob run` and `slob paper` all come here; only the wiring differs (which gateway,
which clock, which steps).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.adapters.store import Store, to_iso
from slob_cli.aio import on_signals
from slob_cli.core.pnl import TradeStatus, money_sum
from slob_cli.core.risk import RiskConfig, RiskManager
from slob_cli.core.sessions import session_for
from slob_cli.errors import UsageError
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.clock import Clock, on_clock_footing
from slob_cli.runtime.engine import Engine, EngineOptions, EngineStats

UTC = timezone.utc
log = logging.getLogger(__name__)
STEPS = ("record", "aggregate", "track", "trade")


def parse_steps(text: str) -> tuple[str, ...]:
    """Parse `--steps record,aggregate,track,trade`; the pipeline needs aggregate for track and trade."""
    steps = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = [step for step in steps if step not in STEPS]
    if unknown or not steps:
        raise UsageError(f"--steps {text!r}: each step must be one of {', '.join(STEPS)}")
    if "trade" in steps and "track" not in steps:
        raise UsageError("--steps: trade needs track (orders come from tracked setups)")
    if "track" in steps and "aggregate" not in steps:
        raise UsageError("--steps: track needs aggregate (the tracker reads 1-minute candles)")
    return steps


def grace_for_speed(speed: float) -> float:
    """Return the candle-close grace on a clock running `speed` x real time (a few real ms of transport)."""
    return max(2.0, 0.1 * speed)


@dataclass
class SimOptions:
    """The embedded simulated gateway of `--sim`."""

    seed: int = 7
    scenario: str | None = "both_setups"
    trading_date: date | None = None
    speed: float | str = 1000.0
    server_version: int = 178
    start: datetime | None = None  # None: just before the reference window opens
    stop: datetime | None = None  # None: a few minutes after the session ends
    around_the_clock: bool = False  # generated trades outside the scripted day (paper runs of hours)
    stop_at_duration: bool = False  # --duration decides the end, not the scripted day
    lockstep: bool = True  # the sim's clock advances only when the engine asks (identical runs at any speed)
    days: int = 1  # planted trading days in a row (scenario seeds seed, seed+1, ...), generated market between
    generated_ticks_per_day: int | None = None  # density of the generated market around the planted days

    @property
    def clock_speed(self) -> float:
        """Return virtual seconds per real second (max counts as 1000)."""
        return 1000.0 if self.speed == "max" else float(self.speed)

    @property
    def grace_seconds(self) -> float:
        """Return the candle-close grace on the virtual clock (lockstep: 2 s at any speed, nothing is in transit)."""
        return 2.0 if self.lockstep else grace_for_speed(self.clock_speed)


@dataclass
class SessionResult:
    """What one session did, for the summary table and the runs row."""

    stats: EngineStats
    run_id: int | None
    started: datetime
    ended: datetime
    setups_by_state: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    fills: int = 0
    trades: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    ticks_stored: int = 0

    @property
    def pnl(self) -> float:
        """Return the closed trades' P&L in USD (after commission)."""
        return money_sum(t["pnl_money"] for t in self.trades if t["status"] == TradeStatus.CLOSED)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary."""
        return {"stats": self.stats.as_dict(), "run_id": self.run_id, "started": to_iso(self.started),
                "ended": to_iso(self.ended), "setups_by_state": self.setups_by_state, "orders": self.orders,
                "fills": self.fills, "trades": self.trades, "skipped": self.skipped, "pnl": self.pnl,
                "ticks_stored": self.ticks_stored}


def summarize(store: Store, stats: EngineStats, run_id: int | None, started: datetime, ended: datetime,
              since: datetime) -> SessionResult:
    """Collect the session's figures from the store."""
    since_iso = to_iso(since)
    states = Counter(store.setup_states_updated_since(since_iso))
    orders = store.order_count_since(since_iso)
    fills = store.fill_count_since(since_iso)
    trades = store.trades_entered_since(since_iso)
    skipped = [dict(type="SETUP_SKIPPED", **json.loads(payload))
               for payload in store.event_payloads_since("SETUP_SKIPPED", since_iso)]
    ticks = store.run_tick_count(run_id) if run_id else 0
    return SessionResult(stats, run_id, started, ended, dict(states), orders, fills, trades, skipped, ticks)


async def run_engine(engine: Engine) -> EngineStats:
    """Run an engine with SIGINT/SIGTERM wired to its stop event."""
    def stop_on(signum: signal.Signals) -> None:
        engine.stats.stopped_by = signum.name
        engine.stop()

    with on_signals((signal.SIGINT, signal.SIGTERM), stop_on):
        async with engine.bus:
            return await engine.run()


def run_session(store: Store, gateway: GatewayConfig, options: EngineOptions, *, strategy: Any,
                risk: RiskConfig, calendar: Any, clock: Clock, run_id: int | None = None,
                bus: EventBus | None = None, notifier: Any = None) -> SessionResult:
    """Run the engine to completion in this thread and summarise what it did."""
    started, shifted = clock.now(), getattr(clock, "shifted", timedelta(0))
    engine = Engine(store, gateway, strategy, RiskManager(risk), calendar, options, clock=clock, bus=bus,
                    run_id=run_id)
    if notifier is not None:
        from slob_cli.runtime.alerting import subscribe_alerts

        subscribe_alerts(engine.bus, notifier)
    stats = asyncio.run(run_engine(engine))
    started = on_clock_footing(clock, started, shifted)  # a followed clock moved onto the gateway's time
    return summarize(store, stats, run_id, started, clock.now(), started)


# The creator's worked example (STRATEGY.md §7) happened on this day; the planted scenarios default to it.
DEFAULT_SIM_DAY = date(2026, 1, 6)
SIM_FIRST_DAY, SIM_LAST_DAY = date(2000, 1, 3), date(2099, 12, 31)  # sim/contracts.py lists expiries 2000..2100


def sim_day(calendar: Any, trading_date: date | None) -> date:
    """Return the trading date the sim plays: the one asked for (a NYSE session), else DEFAULT_SIM_DAY."""
    if trading_date is None:
        return DEFAULT_SIM_DAY
    if not SIM_FIRST_DAY <= trading_date <= SIM_LAST_DAY:  # it lists no NQ futures outside: no data, exit 0
        raise UsageError(f"--date {trading_date.isoformat()} is outside the days the simulated gateway serves "
                         f"({SIM_FIRST_DAY.isoformat()}..{SIM_LAST_DAY.isoformat()})")
    if not calendar.covers(trading_date):  # every weekday would pass for a session, holidays too
        raise UsageError(f"--date {trading_date.isoformat()} is outside the NYSE calendar loaded")
    if session_for(trading_date, calendar) is None:
        raise UsageError(f"--date {trading_date.isoformat()} is not a NYSE trading day")
    return trading_date


def start_sim(stack: ExitStack, sim: SimOptions, calendar: Any) -> tuple[Any, datetime, datetime]:
    """Start the embedded gateway on a free port; return it with the day's start and end instants."""
    from slob_cli.sim.gateway import SimGatewayThread
    from slob_cli.sim.market import GeneratedMarket, ScriptedMarket
    from slob_cli.sim.scenarios import build_scenario
    from slob_cli.sim.scripted import stitch_fallback

    day = sim_day(calendar, sim.trading_date)
    sessions = [session_for(day, calendar)]
    while len(sessions) < sim.days:
        day += timedelta(days=1)
        if session_for(day, calendar) is not None:
            sessions.append(session_for(day, calendar))
    candles = []
    for number, session in enumerate(sessions):
        assert session is not None
        try:
            candles += build_scenario(sim.scenario or "quiet", session.trading_date, seed=sim.seed + number,
                                      calendar=calendar)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    fallback = None
    if sim.around_the_clock or sim.days > 1:  # generated trading continues the planted days' path
        generated = GeneratedMarket(sim.seed, base_price=candles[0].open,
                                    **({"ticks_per_day": sim.generated_ticks_per_day}
                                       if sim.generated_ticks_per_day else {}))
        fallback = stitch_fallback(candles, generated)
    market = ScriptedMarket(candles, seed=sim.seed, fallback=fallback)
    first, last = sessions[0], sessions[-1]
    assert first is not None and last is not None
    # Half an hour early: the engine connects and subscribes before the reference window opens.
    start = sim.start or first.reference_start - timedelta(minutes=30)
    gateway = stack.enter_context(SimGatewayThread(seed=sim.seed, start=start, speed=sim.speed, market=market,
                                                   server_version=sim.server_version, lockstep=sim.lockstep))
    return gateway, start, sim.stop or last.session_end + timedelta(minutes=3)
