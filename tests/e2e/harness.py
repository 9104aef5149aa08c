"""The engine harness: a simulated gateway serving a planted day, a store beside it, sessions run against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from slob_cli.adapters.calendar import load_calendar
from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.adapters.store import Store
from slob_cli.core.risk import RiskConfig
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.engine import EngineOptions
from slob_cli.runtime.events import Event, EventType
from slob_cli.runtime.executor import ExecutorOptions
from slob_cli.runtime.session import SessionResult, SimOptions, run_session, start_sim
from tests.sqlfile import as_shown

UTC = timezone.utc
DAY = date(2026, 1, 6)
OPEN_MINUS_5 = datetime(2026, 1, 6, 14, 25, tzinfo=UTC)
SPEED = "max"  # lockstep: every run is the same at any speed, so the tests never wait on pacing
# Reconnect at once and keep retrying quickly: fault tests must not wait for the production backoff.
FAST_BACKOFF = BackoffPolicy(base=0.05, factor=1.5, cap=0.2, jitter=0.0, breaker_after=1000)


def at(hour: int, minute: int) -> datetime:
    """Return an instant of the planted day (UTC)."""
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=UTC)


@dataclass
class Harness:
    """A running simulated gateway serving one planted day, and a store beside it."""

    gateway: Any
    store: Store
    calendar: Any
    sim: SimOptions
    events: list[Event] = field(default_factory=list)

    def gateway_config(self, client_id: int = 1) -> GatewayConfig:
        """Return the config an engine uses to reach this gateway."""
        return GatewayConfig(host=self.gateway.host, port=self.gateway.port, client_id=client_id,
                             heartbeat_interval=3600)

    def session(self, until: datetime, *, risk: RiskConfig | None = None, policy: BackoffPolicy | None = None,
                on: dict[EventType, Callable[[Event], None]] | None = None, patience: float = 30.0,
                stale_after: float | None = None, silence_after: float | None = None,
                heartbeat_interval: float | None = None, **executor: Any) -> SessionResult:
        """Run one engine session until `until` (virtual time); `on` handlers see the bus as it runs."""
        options = EngineOptions(until=until, grace_seconds=self.sim.grace_seconds, clock_speed=self.sim.clock_speed,
                                executor=ExecutorOptions(**executor), lockstep=self.sim.lockstep,
                                lockstep_patience=patience)
        if policy is not None:
            options.policy = policy
        if stale_after is not None:  # real seconds of silence before the watchdog resubscribes
            options.stale_after = stale_after
        if silence_after is not None:  # virtual seconds of silence before the engine holds the bars
            options.silence_after = silence_after
        if heartbeat_interval is not None:  # real seconds between health rows (not of a lockstep run)
            options.heartbeat_interval = heartbeat_interval
        bus = EventBus()
        bus.subscribe(None, self.events.append)
        for kind, handler in (on or {}).items():
            bus.subscribe(kind, handler)
        return run_session(self.store, self.gateway_config(), options, strategy=StrategyConfig(),
                           risk=risk or RiskConfig(), calendar=self.calendar, clock=self.gateway.clock, bus=bus)

    def orders(self) -> list[dict[str, Any]]:
        """Return the stored orders in insertion order."""
        return as_shown("orders", self.store.db.query("SELECT * FROM orders ORDER BY rowid"))

    def trades(self) -> list[dict[str, Any]]:
        """Return the stored trades."""
        return as_shown("trades", self.store.db.query("SELECT * FROM trades ORDER BY entry_time"))

    def logged(self, kind: str) -> list[dict[str, Any]]:
        """Return the payloads of the stored events of one type, oldest first."""
        return [json.loads(row["payload"]) for row in
                self.store.db.query("SELECT payload FROM events WHERE type=? ORDER BY rowid", [kind])]

    def completed_setups(self) -> list[dict[str, Any]]:
        """Return the setups that reached SETUP_COMPLETE, in time order."""
        return as_shown("setups", self.store.db.query(
            "SELECT * FROM setups WHERE state='SETUP_COMPLETE' ORDER BY trigger_time"))

    def broker_orders(self) -> list[Any]:
        """Return every order the gateway ever accepted (open and completed)."""
        return list(self.gateway.broker.open_orders()) + list(self.gateway.broker.completed_orders())

    def net_position(self) -> float:
        """Return the account's net position at the gateway."""
        return sum(p[2] for p in self.gateway.broker.positions())

    def bus_events(self, kind: EventType) -> list[Any]:
        """Return the payloads the bus carried for one event type."""
        return [event.payload for event in self.events if event.type is kind]


def start_harness(stack: ExitStack, tmp_path: Path, scenario: str, *, speed: float | str = SPEED,
                  start: datetime = OPEN_MINUS_5, lockstep: bool = True) -> Harness:
    """Start the embedded gateway on a planted day and open a store in tmp_path.

    lockstep=False runs the clock on its own; under lockstep a test moves the market while slob is down
    with `gateway.advance_market(until)`.
    """
    calendar = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
    sim = SimOptions(scenario=scenario, trading_date=DAY, speed=speed, start=start, lockstep=lockstep)
    gateway, _, _ = start_sim(stack, sim, calendar)
    store = stack.enter_context(Store.open(tmp_path / "engine.db"))
    return Harness(gateway, store, calendar, sim)


def start_planted(stack: ExitStack, tmp_path: Path, candles: list[Any], *, speed: float | str = SPEED,
                  start: datetime = OPEN_MINUS_5, lockstep: bool = True) -> Harness:
    """Start the embedded gateway serving exactly these M1 candles (no trade in any other minute), and a store."""
    from slob_cli.sim.gateway import SimGatewayThread
    from slob_cli.sim.scripted import ScriptedMarket

    calendar = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
    sim = SimOptions(scenario=None, trading_date=DAY, speed=speed, start=start, lockstep=lockstep)
    gateway = stack.enter_context(SimGatewayThread(seed=sim.seed, start=start, speed=speed,
                                                   market=ScriptedMarket(candles, seed=sim.seed), lockstep=lockstep))
    store = stack.enter_context(Store.open(tmp_path / "engine.db"))
    return Harness(gateway, store, calendar, sim)


def as_outside_client(h: Harness, action: str, client_id: int = 9) -> None:
    """Act at the gateway as another API client would (an operator in TWS): `flatten`, `buy` or `global_cancel`.

    `flatten` closes the account's NQ position with a market order that carries no orderRef of ours;
    `buy` opens one NQ contract that way (a position no setup of slob's explains).
    """
    import asyncio

    from ib_async import IB, ContFuture, Future, MarketOrder

    async def body() -> None:
        ib = IB()
        await ib.connectAsync(h.gateway.host, h.gateway.port, clientId=client_id, timeout=10)
        try:
            if action == "global_cancel":
                ib.reqGlobalCancel()
                await asyncio.sleep(0)  # hand the request to the socket before disconnecting
                return
            [cont] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
            [future] = await ib.qualifyContractsAsync(Future(conId=cont.conId, exchange="CME"))
            position = -1 if action == "buy" else sum(p.position for p in ib.positions() if p.contract.symbol == "NQ")
            trade = ib.placeOrder(future, MarketOrder("BUY" if position < 0 else "SELL", abs(position)))
            for _ in range(2000):
                if trade.isDone():
                    break
                await asyncio.sleep(0.005)
        finally:
            ib.disconnect()

    asyncio.run(body())


@contextmanager
def slob_process(*arguments: str) -> Iterator[subprocess.Popen[str]]:
    """Run `python -m slob_cli ARGUMENTS` (stdout and stderr piped); kill it if the test leaves it running."""
    process = subprocess.Popen([sys.executable, "-m", "slob_cli", *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
