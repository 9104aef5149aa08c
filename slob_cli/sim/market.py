"""Market sources for the simulated gateway, and build_market to pick one from the command line.

Sources: GeneratedMarket (seeded realistic NQ around the clock), ScriptedMarket (exact M1 candles
reproduced tick by tick), WaypointMarket (a noisy path through price waypoints) and ReplayMarket
(recorded ticks from a slob store or a CSV/Parquet file). All serve the same prices for NQ and MNQ.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path

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
# The names the scenarios module promises; used in messages when it is not available yet.
_EXPECTED_SCENARIOS = ("quiet", "short_setup", "long_setup", "volatile_gaps")


class UnknownScenario(InputError, ValueError):
    """A --scenario name that no built-in day answers to."""


def _scenario_module() -> object | None:
    try:
        return importlib.import_module("slob_cli.sim.scenarios")
    except ModuleNotFoundError as exc:
        if exc.name != "slob_cli.sim.scenarios":
            raise
        return None


def known_scenarios() -> list[str]:
    """Return the names of the built-in scenario days."""
    module = _scenario_module()
    if module is None:
        return []
    for attribute in ("SCENARIOS", "SCENARIO_NAMES"):
        names = getattr(module, attribute, None)
        if names:
            return sorted(names)
    return list(_EXPECTED_SCENARIOS)


def _scenario_builder() -> Callable[..., list[Candle]] | None:
    module = _scenario_module()
    return None if module is None else getattr(module, "build_scenario", None)


def build_market(
    *,
    seed: int = 0,
    scenario: str | None = None,
    replay: Path | None = None,
    trading_date: date | None = None,
) -> MarketSource:
    """Return the market the gateway should serve: replay file, scenario day, or the generator."""
    if scenario and replay:
        raise InputError("choose either a scenario or a replay file, not both")
    if replay is not None:
        path = Path(replay)
        if path.suffix.lower() in _STORE_SUFFIXES:
            return ReplayMarket.from_store(path, "NQ")
        return ReplayMarket.from_file(path, "NQ")
    if scenario:
        builder = _scenario_builder()
        names = known_scenarios()
        if builder is None:
            raise UnknownScenario(
                f"scenario {scenario!r} is not available: built-in scenarios are not installed "
                f"(expected: {', '.join(_EXPECTED_SCENARIOS)})"
            )
        if names and scenario not in names:
            raise UnknownScenario(f"unknown scenario {scenario!r}; known scenarios: {', '.join(names)}")
        day = trading_date or datetime.now(timezone.utc).date()
        try:
            candles = builder(scenario, day, seed)
        except KeyError:
            raise UnknownScenario(f"unknown scenario {scenario!r}; known scenarios: {', '.join(names)}") from None
        return ScriptedMarket(candles, seed=seed)
    return GeneratedMarket(seed)
