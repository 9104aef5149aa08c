"""Wire one trading session: which gateway (configured or the embedded sim), which clock, which steps.

`slob trade`, `slob run` and `slob paper` parse their options and call `prepare_session`; sim and
live differ only here. Heavy modules are imported inside the function so `slob --help` stays fast.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.core.clock import Clock
    from slob_cli.core.risk import RiskConfig
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig
    from slob_cli.runtime.engine import EngineOptions
    from slob_cli.runtime.session import SimOptions
    from slob_cli.settings import Settings
    from slob_cli.sim.gateway import SimGatewayThread


@dataclass
class SessionWiring:
    """Everything a session needs, wired: gateway address, clock, engine options, configs."""

    config: GatewayConfig
    clock: Clock
    options: EngineOptions
    strategy: StrategyConfig
    risk: RiskConfig
    calendar: TradingCalendar
    gateway: SimGatewayThread | None = None  # the embedded simulated gateway, with --sim
    sim_clock: bool = False  # times are a simulated gateway's (embedded, followed or stepped), not the wall clock


def prepare_session(stack: ExitStack, settings: Settings, *, monitor_only: bool, live: bool,
                    duration_seconds: float | None, steps: tuple[str, ...], sim: SimOptions | None,
                    follow_speed: float | None = None, lockstep: bool = False) -> SessionWiring:
    """Wire one session: the gateway (or the embedded sim started on `stack`), its clock, the options."""
    from slob_cli.adapters.calendar import load_calendar_isolated
    from slob_cli.adapters.ib.connection import GatewayConfig
    from slob_cli.adapters.risk_config import load_risk_config
    from slob_cli.adapters.strategy_config import load_strategy_config
    from slob_cli.errors import UsageError
    from slob_cli.runtime.clock import FollowedClock, SteppedClock, SystemClock
    from slob_cli.runtime.engine import EngineOptions
    from slob_cli.runtime.executor import ExecutorOptions
    from slob_cli.runtime.guard import check_live_allowed
    from slob_cli.runtime.session import SIM_FIRST_DAY, SIM_LAST_DAY, grace_for_speed, start_sim

    strategy = load_strategy_config(settings.strategy_config)
    risk = load_risk_config(settings.strategy_config)
    clock_now = SystemClock().now()
    first, last = clock_now.date().replace(year=clock_now.year - 1), clock_now.date().replace(year=clock_now.year + 1)
    if sim is not None and sim.trading_date is not None and SIM_FIRST_DAY <= sim.trading_date <= SIM_LAST_DAY:
        # the simulated days and the weekends and holidays after them: a far --date was every weekday a session
        first, last = min(first, sim.trading_date), max(last, sim.trading_date + timedelta(days=sim.days * 2 + 14))
    calendar = load_calendar_isolated(first, last)
    config = GatewayConfig.from_settings(settings)
    clock: Clock = SystemClock()
    until: datetime | None = None
    gateway = None
    if sim is not None:
        gateway, _, end = start_sim(stack, sim, calendar)
        config = GatewayConfig.from_settings(settings, host=gateway.host, port=gateway.port,
                                             account=None, heartbeat_interval=3600.0)
        clock = gateway.clock
        until = end
    elif lockstep:  # a `sim-gateway --lockstep` in another process: its clock moves when we ask
        if duration_seconds is not None or follow_speed is not None:
            raise UsageError("--lockstep follows the simulated gateway's clock: give no --duration or --follow-sim-clock")
        config = GatewayConfig.from_settings(settings, heartbeat_interval=3600.0)  # the steps are the heartbeat
        clock = SteppedClock()
    elif follow_speed is not None:
        if not 0 < follow_speed < math.inf or duration_seconds is not None:  # NaN and inf too
            raise UsageError("--follow-sim-clock needs a positive speed and no --duration")
        clock = FollowedClock(follow_speed)
    if not monitor_only:
        # Before any order connection: refuse a live account unless both opt-ins are given.
        check_live_allowed(config.account, live, settings.live_allowed_by_env, gateway_is_sim=sim is not None)
    if duration_seconds is not None:
        limit = clock.now() + timedelta(seconds=duration_seconds)
        until = limit if sim is None or sim.stop_at_duration or until is None else min(until, limit)
    sim_clock = sim is not None or lockstep or follow_speed is not None
    options = EngineOptions(
        symbol=settings.symbols[0], data_type=settings.market_data_type, until=until,
        grace_seconds=sim.grace_seconds if sim is not None else 2.0 if lockstep else grace_for_speed(follow_speed or 1.0),
        clock_speed=sim.clock_speed if sim is not None else follow_speed or 1.0,
        store_ticks="record" in steps, store_candles="aggregate" in steps, track="track" in steps,
        stale_after=settings.stale_after,
        lockstep=sim.lockstep if sim is not None else lockstep,
        max_clock_skew=None if sim_clock else settings.max_clock_skew,
        executor=ExecutorOptions(monitor_only=monitor_only, kill_switch_path=settings.kill_switch_path,
                                 flatten_retries=settings.flatten_retries,
                                 flatten_retry_delay=timedelta(seconds=settings.flatten_retry_delay)),
    )
    return SessionWiring(config, clock, options, strategy, risk, calendar, gateway, sim_clock)
