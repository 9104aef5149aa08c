"""What a backfill has done, kept in the store so that a stopped backfill resumes where it stopped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from slob_cli.adapters.store.db import to_us
from slob_cli.adapters.store.rows import CANDLE_INSERT, candle_row

if TYPE_CHECKING:
    from slob_cli.adapters.store.db import Store
    from slob_cli.core.models import Candle

SOURCE = "backfill"


class BackfillLedger:
    """The trading days of one symbol already backfilled (state key `backfill:<symbol>`)."""

    def __init__(self, store: Store, symbol: str) -> None:
        self.store = store
        self.symbol = symbol
        self.key = f"backfill:{symbol}"

    def done(self) -> set[date]:
        """Return the trading days whose bars are all stored."""
        value = self.store.get_state(self.key) or {}
        return {date.fromisoformat(day) for day in value.get("done", [])}

    def commit_day(self, day: date, candles: Sequence[Candle], contract: str, complete: bool, now: datetime) -> int:
        """Store a day's bars (never replacing a stored minute) and, if complete, mark the day done; one transaction.

        Return how many bars were new.
        """
        rows = [candle_row(candle, SOURCE, contract) for candle in candles]
        with self.store.transaction() as conn:
            # rowcount, not total_changes: that counts the candle versions the triggers bump too (schema v7)
            inserted = conn.executemany(CANDLE_INSERT + " ON CONFLICT(symbol, ts) DO NOTHING", rows).rowcount
            if complete:
                row = conn.execute("SELECT value FROM state WHERE key=?", (self.key,)).fetchone()
                value = json.loads(row[0]) if row else {}
                days = sorted(set(value.get("done", [])) | {day.isoformat()})
                conn.execute(
                    "INSERT INTO state(key, value, updated_at) VALUES (?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
                    (self.key, json.dumps({"done": days}), to_us(now)))
        return inserted
