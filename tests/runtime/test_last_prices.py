"""The prices reconciliation is given: the feed's last trade, or the newest stored candle's close when newer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle
from slob_cli.runtime.last_prices import newest_prices

UTC = timezone.utc
MINUTE = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)  # the newest stored candle: 15:40-15:41, close 25_600


class Feed:
    def __init__(self, traded: datetime | None, price: float | None) -> None:
        self.traded = traded
        self.last_price = {} if price is None else {"NQ": price}

    def latest(self, symbol: str) -> datetime | None:
        return self.traded if symbol == "NQ" else None


@pytest.mark.parametrize(("traded", "price", "expected"), [
    (None, None, 25_600.0),  # a start: the warm-up stored history, the feed has no trade yet
    (MINUTE + timedelta(seconds=30), 25_580.0, 25_600.0),  # a trade from inside the stored minute, before its close
    (MINUTE + timedelta(minutes=1, seconds=5), 25_610.0, 25_610.0),  # a trade after it: the feed is newer
], ids=["feed-silent", "candle-newer", "feed-newer"])
def test_the_newer_of_the_feeds_last_trade_and_the_newest_candle_is_given(
        store: Store, traded: datetime | None, price: float | None, expected: float) -> None:
    store.upsert_candles([Candle("NQ", MINUTE - timedelta(minutes=1), 25_500, 25_510, 25_490, 25_505, 3, 3),
                          Candle("NQ", MINUTE, 25_505, 25_602, 25_500, 25_600, 5, 5)])
    assert newest_prices(Feed(traded, price), store, ["NQ"]) == {"NQ": expected}


def test_a_symbol_without_any_price_is_left_out(store: Store) -> None:
    assert newest_prices(Feed(None, None), store, ["NQ", "MNQ"]) == {}
    assert newest_prices(Feed(MINUTE, 25_611.0), store, ["NQ"]) == {"NQ": 25_611.0}
