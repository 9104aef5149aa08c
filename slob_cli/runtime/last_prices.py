"""The newest trade price of each symbol the engine knows, for reconciliation's 'is the stop already through?'."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.instants import from_us


def newest_prices(feed: Any, store: Store, symbols: Iterable[str],
                  same_as: Mapping[str, str] | None = None) -> dict[str, float]:
    """Return each symbol's newest known trade price: the feed's last trade, or the close of the newest
    stored candle when that minute ended later (none of the symbols when neither is known).

    At a start (and after an outage) reconciliation runs once the warm-up has stored history up to the
    current minute but often before the feed's first trade: the candle is then the newer price.
    `same_as` names symbols priced as a watched one (the traded MNQ as the watched NQ).
    """
    prices: dict[str, float] = {}
    for symbol in symbols:
        traded, price = feed.latest(symbol), feed.last_price.get(symbol)
        rows = store.newest_bar_rows(symbol, 1)
        if rows and (price is None or traded is None or from_us(rows[0][0]) + timedelta(minutes=1) > traded):
            price = rows[0][4]
        if price is not None:
            prices[symbol] = float(price)
    for alias, symbol in (same_as or {}).items():
        if alias not in prices and symbol in prices:
            prices[alias] = prices[symbol]
    return prices
