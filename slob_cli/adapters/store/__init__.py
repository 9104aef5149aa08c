"""The one SQLite store for ticks, candles, setups, orders, fills and runs."""

from slob_cli.adapters.store.db import Store, from_iso, from_us, to_iso, to_us

__all__ = ["Store", "from_iso", "from_us", "to_iso", "to_us"]
