"""A store of generated M1 candles over a span of weekdays, for tests that track many days."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.sim.scenarios import SCENARIOS, build_scenario


def seed_weekdays(path: Path, first: date, last: date) -> Path:
    """Store a scenario's candles (the scenario and seed picked by the date) for each weekday of [first, last]."""
    candles = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            candles += build_scenario(SCENARIOS[day.toordinal() % len(SCENARIOS)], day, seed=day.day)
        day += timedelta(days=1)
    with Store.open(path) as store:
        store.upsert_candles(candles)
    return path
