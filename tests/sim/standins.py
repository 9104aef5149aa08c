"""Minimal private stand-ins for simmarket's clock, market and broker until their code is on main.

Installed by tests/sim/conftest.py only when `slob_cli.sim.clock` / `market` / `broker` cannot be imported.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import types
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from slob_cli.core.models import Candle, floor_minute

UTC = timezone.utc


class VirtualClock:
    """Just enough of simmarket's VirtualClock: wall/scaled/max speed, pause, advance_to."""

    def __init__(self, start: datetime | None = None, speed: float | None = 1.0) -> None:
        self._speed = speed
        self._paused = False
        self._anchor_real = time.time()
        self._anchor = start or datetime.fromtimestamp(self._anchor_real, UTC)

    @property
    def is_max_speed(self) -> bool:
        return self._speed is None

    @property
    def paused(self) -> bool:
        return self._paused

    def now(self) -> datetime:
        if self._paused or self._speed is None:
            return self._anchor
        return self._anchor + timedelta(seconds=(time.time() - self._anchor_real) * self._speed)

    def advance_to(self, when: datetime) -> None:
        if when > self.now():
            self._anchor, self._anchor_real = when, time.time()

    def jump(self, to: datetime) -> None:
        self._anchor, self._anchor_real = to, time.time()

    def pause(self) -> None:
        self._anchor, self._anchor_real, self._paused = self.now(), time.time(), True

    def resume(self) -> None:
        self._paused, self._anchor_real = False, time.time()

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class MarketTick:
    ts: datetime
    price: float
    size: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int


class GeneratedMarket:
    """A seeded random walk: one trade every 250 ms, deterministic per (seed, time)."""

    STEP_US = 250_000

    def __init__(self, seed: int, base_price: float = 25_000.0) -> None:
        self.seed = seed
        self.base = base_price
        self.shift: list[tuple[datetime, float]] = []

    def _tick(self, index: int) -> MarketTick:
        rng = random.Random(self.seed * 1_000_003 + index)
        ts = datetime.fromtimestamp(index * self.STEP_US / 1e6, UTC)
        price = self.base + 0.25 * ((index * 7 + self.seed) % 41 - 20) + 0.25 * rng.randint(-2, 2)
        price += sum(points for when, points in self.shift if ts >= when)
        return MarketTick(ts, price, rng.randint(1, 5), price - 0.25, price + 0.25, rng.randint(1, 20),
                          rng.randint(1, 20))

    def ticks_between(self, start: datetime, end: datetime) -> list[MarketTick]:
        first = -(-int(start.timestamp() * 1e6) // self.STEP_US)
        last = -(-int(end.timestamp() * 1e6) // self.STEP_US)
        return [self._tick(index) for index in range(first, last)]

    def candles_between(self, start: datetime, end: datetime) -> list[Candle]:
        groups: dict[datetime, list[MarketTick]] = {}
        for tick in self.ticks_between(start, end):
            groups.setdefault(floor_minute(tick.ts), []).append(tick)
        return [Candle("NQ", minute, ticks[0].price, max(t.price for t in ticks), min(t.price for t in ticks),
                       ticks[-1].price, float(sum(t.size for t in ticks)), len(ticks))
                for minute, ticks in groups.items()]

    def last_tick_before(self, ts: datetime) -> MarketTick | None:
        index = -(-int(ts.timestamp() * 1e6) // self.STEP_US) - 1
        return self._tick(index)

    def shift_prices(self, points: float, from_ts: datetime) -> None:
        self.shift.append((from_ts, points))


def build_market(*, seed: int = 0, scenario: str | None = None, replay: object = None,
                 trading_date: object = None) -> GeneratedMarket:
    return GeneratedMarket(seed)


class SimBroker:
    """No orders: enough for the market-data slice."""

    def __init__(self, accounts: list[str], starting_cash: float = 100_000.0,
                 commission_per_contract: dict[str, float] | None = None, allow_live_accounts: bool = False) -> None:
        self.accounts = accounts

    def open_orders(self, client_id: int | None = None) -> list[object]:
        return []

    def completed_orders(self) -> list[object]:
        return []

    def executions(self, **filters: object) -> list[object]:
        return []

    def positions(self, account: str | None = None) -> list[tuple[str, int, float, float]]:
        return []

    def account_values(self, account: str) -> dict[str, str]:
        return {"NetLiquidation": "100000", "AvailableFunds": "100000", "TotalCashValue": "100000"}

    def next_perm_id(self) -> int:
        return 1


class _Event:
    def __init__(self, *args: object) -> None:
        self.args = args


def install() -> None:
    """Register the stand-ins under simmarket's module names, for whichever of them is missing."""
    import importlib

    modules = {
        "slob_cli.sim.clock": {"VirtualClock": VirtualClock},
        "slob_cli.sim.market": {"MarketTick": MarketTick, "GeneratedMarket": GeneratedMarket,
                                "build_market": build_market},
        "slob_cli.sim.broker": {"SimBroker": SimBroker, **{name: type(name, (_Event,), {}) for name in (
            "OrderUpdate", "Fill", "PositionUpdate", "AccountUpdate", "OrderRejected", "SimOrder")}},
    }
    for name, attributes in modules.items():
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            sys.modules[name] = module
