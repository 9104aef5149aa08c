"""The candles table's rows both ways: a Candle to its row (and its INSERT), the SELECT (and reader) of stored ones.

Below both `db` (the Store) and the modules it is built from or that build on it (`scans`,
`setups`, `backfill`), so each spells a candle row the one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slob_cli.adapters.store.instants import from_us, to_us
from slob_cli.core.models import Candle

# The candle columns `row_candle` reads, in its order (the export writes them in this order too).
CANDLE_COLUMNS = "symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks"
CANDLE_ROWS = f"SELECT {CANDLE_COLUMNS} FROM candles"
# The insert of `candle_row`'s rows; each writer adds its ON CONFLICT rule.
CANDLE_INSERT = f"INSERT INTO candles({CANDLE_COLUMNS}, source, local_symbol) VALUES (?,?,?,?,?,?,?,?,?,?,?)"


def candle_row(candle: Candle, source: str = "live", local_symbol: str | None = None) -> tuple[Any, ...]:
    """Return the candles-table row for a Candle."""
    return (
        candle.symbol,
        to_us(candle.ts),
        candle.open,
        candle.high,
        candle.low,
        candle.close,
        candle.volume,
        candle.tick_count,
        candle.dropped_ticks,
        source,
        local_symbol,
    )


def row_candle(row: Sequence[Any]) -> Candle:
    """Return a Candle from (symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks)."""
    return Candle(row[0], from_us(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8])
