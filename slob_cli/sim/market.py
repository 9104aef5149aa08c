"""Market sources for the simulated gateway, and build_market to pick one from the command line.

Sources: GeneratedMarket (seeded realistic NQ around the clock), ScriptedMarket (exact M1 candles
reproduced tick by tick), WaypointMarket (a noisy path through price waypoints) and ReplayMarket
(recorded ticks from a slob store or a CSV/Parquet file). All serve the same prices for NQ and MNQ.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from slob_cli.core.models import Candle
from slob_cli.errors import InputError
from slob_cli.sim.generator import GeneratedMarket
from slob_cli.sim.replay import ReplayError, ReplayMarket
from slob_cli.sim.scripted import ScriptedMarket, WaypointMarket
from slob_cli.sim.ticks import ArrayMarket, MarketSource, MarketTick, TickArrays, candles_from_arrays

__all__ = [
    "ArrayMarket",
    "GeneratedMarket",
    "MarketSource",
    "MarketTick",
    "ReplayError",
    "ReplayMarket",
    "ScriptedMarket",
    "TickArrays",
    "UnknownScenario",
    "WaypointMarket",
    "build_market",
    "candles_from_arrays",
    "known_scenarios",
]

_STORE_SUFFIXES = {".db", ".sqlite", ".sqlite3"}
# How far build_market looks ahead for a trading day when no date is given (weekends, holidays).
_TRADING_DAY_SEARCH = 10


class UnknownScenario(InputError, ValueError):
    """A --scenario name that no built-in day answers to, or a day it cannot be built for."""


def known_scenarios() -> list[str]:
    """Return the names of the built-in scenario days."""
    from slob_cli.sim.scenarios import SCENARIOS

    return list(SCENARIOS)


def _scenario_candles(name: str, trading_date: date | None, seed: int) -> list[Candle]:
    """Return the named day's candles; without a date, the first trading day from today (UTC) on."""
    from slob_cli.sim.scenarios import build_scenario

    names = known_scenarios()
    if name not in names:
        raise UnknownScenario(f"unknown scenario {name!r}; known scenarios: {', '.join(names)}")
    if trading_date is not None:
        try:
            return build_scenario(name, trading_date, seed)
        except ValueError as exc:
            raise UnknownScenario(f"scenario {name!r} cannot be built for {trading_date}: {exc}") from None
    day = datetime.now(timezone.utc).date()
    for _ in range(_TRADING_DAY_SEARCH):
        try:
            return build_scenario(name, day, seed)
        except ValueError:
            day += timedelta(days=1)
    raise UnknownScenario(f"scenario {name!r}: no trading day within {_TRADING_DAY_SEARCH} days of today")


def build_market(
    *,
    seed: int = 0,
    scenario: str | None = None,
    replay: Path | None = None,
    trading_date: date | None = None,
) -> MarketSource:
    """Return the market the gateway should serve: replay file, scenario day, or the generator.

    A scenario market trades only inside its scripted day (see ScriptedMarket.span): start the
    clock there.
    """
    if scenario and replay:
        raise InputError("choose either a scenario or a replay file, not both")
    if replay is not None:
        path = Path(replay)
        if path.suffix.lower() in _STORE_SUFFIXES:
            try:
                return ReplayMarket.from_store(path, "NQ")
            except ReplayError:
                return ReplayMarket.from_store(path, "MNQ")  # MNQ trades at NQ's prices
        return ReplayMarket.from_file(path, "NQ")
    if scenario:
        return ScriptedMarket(_scenario_candles(scenario, trading_date, seed), seed=seed)
    return GeneratedMarket(seed)


class ShiftedMarket:
    """Serve another market source `offset` later in time (prices and sizes unchanged).

    `ShiftedMarket.busy_at(source, now)` maps `now` onto 10:00 New York of a recent weekday, so a
    gateway that follows the wall clock trades briskly at any hour (tests, weekend rehearsals).
    """

    def __init__(self, inner: MarketSource, offset: timedelta) -> None:
        self.inner = inner
        self.offset = offset

    @classmethod
    def busy_at(cls, inner: MarketSource, now: datetime) -> ShiftedMarket:
        """Return a view of `inner` in which `now` falls at 10:00 New York on the previous weekday."""
        new_york = ZoneInfo("America/New_York")
        day = now.astimezone(new_york).date() - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        busy = datetime.combine(day, time(10, 0), new_york).astimezone(timezone.utc)
        # Whole minutes, so shifted candles keep minute labels.
        return cls(inner, timedelta(minutes=int((now - busy).total_seconds() // 60)))

    def ticks_between(self, start: datetime, end: datetime) -> list[MarketTick]:
        """Return the inner source's ticks of [start - offset, end - offset), moved by offset."""
        shift = self.offset
        return [replace(tick, ts=tick.ts + shift) for tick in self.inner.ticks_between(start - shift, end - shift)]

    def candles_between(self, start: datetime, end: datetime) -> list[Candle]:
        """Return the inner source's candles moved by offset (whole minutes keep their labels aligned)."""
        shift = self.offset
        return [replace(candle, ts=candle.ts + shift)
                for candle in self.inner.candles_between(start - shift, end - shift)]

    def last_tick_before(self, ts: datetime) -> MarketTick | None:
        """Return the last tick strictly before ts, moved by offset."""
        tick = self.inner.last_tick_before(ts - self.offset)
        return None if tick is None else replace(tick, ts=tick.ts + self.offset)

    def shift_prices(self, points: float, from_ts: datetime) -> None:
        """Jump the price by points from from_ts on."""
        self.inner.shift_prices(points, from_ts - self.offset)
