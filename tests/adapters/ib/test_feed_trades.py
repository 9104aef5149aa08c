"""The feed's tick-by-tick path, driven through ib_async's own wrapper: plain values or Ticks, bad trades counted."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from ib_async import Ticker
from ib_async.objects import TickAttribLast

from slob_cli.adapters.ib.connection import GatewayConfig, IBConnection
from slob_cli.adapters.ib.market_data import MarketDataFeed
from slob_cli.core.models import Tick

EPOCH = 1_773_153_300  # 2026-03-10 14:35:00 UTC
REQUEST = 5


def _feed(**sinks: Any) -> MarketDataFeed:
    connection = IBConnection(GatewayConfig(port=1, client_id=1), lambda kind, payload: None)
    feed = MarketDataFeed(connection, ["NQ"], sinks.pop("on_tick", lambda tick, local: None), **sinks)
    connection.ib.wrapper.reqId2Ticker[REQUEST] = Ticker()  # ib_async's own handler runs first, as on the wire
    feed._tbt_requests[REQUEST] = "NQ"
    feed.local_symbols["NQ"] = "NQH6"
    return feed


def _trade(feed: MarketDataFeed, epoch: float, price: float, size: float) -> None:
    feed.ib.wrapper.tickByTickAllLast(REQUEST, 1, epoch, price, size, TickAttribLast(), "CME", "")


def test_a_storing_consumer_gets_plain_values_with_exchange_microseconds_and_bad_trades_are_counted() -> None:
    trades: list[tuple[Any, ...]] = []
    feed = _feed(on_trade=lambda *values: trades.append(values))
    _trade(feed, EPOCH, 20_000.25, 2.0)
    _trade(feed, EPOCH, 20_000.5, 1.0)  # same second: the same datetime is reused
    _trade(feed, EPOCH, math.nan, 1.0)
    _trade(feed, EPOCH + 1, 20_001.0, 0.0)
    _trade(feed, EPOCH - 5, 19_999.0, 1.0)  # out of order
    _trade(feed, EPOCH + 2, 20_001.25, 3.0)
    assert trades == [("NQ", EPOCH * 1_000_000, 20_000.25, 2.0, "NQH6"), ("NQ", EPOCH * 1_000_000, 20_000.5, 1.0, "NQH6"),
                      ("NQ", (EPOCH + 2) * 1_000_000, 20_001.25, 3.0, "NQH6")]
    assert feed.ticks == 3 and feed.guard.total == 3 and feed.last_price["NQ"] == 20_001.25


def test_the_engine_gets_ticks_stamped_with_exchange_time() -> None:
    ticks: list[tuple[Tick, str]] = []
    feed = _feed(on_tick=lambda tick, local: ticks.append((tick, local)))
    _trade(feed, EPOCH, 20_000.25, 2.0)
    _trade(feed, EPOCH + 1, 20_000.5, 1.0)
    start = datetime.fromtimestamp(EPOCH, timezone.utc)
    assert [tick for tick, _ in ticks] == [Tick("NQ", start, 20_000.25, 2.0),
                                           Tick("NQ", start.replace(second=1), 20_000.5, 1.0)]
    assert {local for _, local in ticks} == {"NQH6"}


def test_a_gap_marked_inside_a_second_makes_that_seconds_next_trades_replays() -> None:
    trades: list[tuple[Any, ...]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    feed = _feed(on_trade=lambda *values: trades.append(values), emit=lambda kind, payload: events.append((kind, payload)))
    _trade(feed, EPOCH, 20_000.25, 2.0)
    _trade(feed, EPOCH, 20_000.5, 1.0)
    feed.mark_gap("NQ", "reconnect")
    _trade(feed, EPOCH, 20_000.75, 1.0)  # the second the gap began in: a replay cannot be told from a new trade
    _trade(feed, EPOCH, 20_001.0, 1.0)
    _trade(feed, EPOCH + 1, 20_001.25, 1.0)
    _trade(feed, EPOCH + 1, 20_001.5, 1.0)
    assert [values[2] for values in trades] == [20_000.25, 20_000.5, 20_001.25, 20_001.5]
    assert feed.duplicates == 2 and feed.ticks == 4
    assert [kind for kind, _ in events] == ["FEED_RESUMED"]


def test_a_last_price_tick_later_in_the_second_puts_that_seconds_trades_out_of_order() -> None:
    trades: list[tuple[Any, ...]] = []
    feed = _feed(on_trade=lambda *values: trades.append(values))
    _trade(feed, EPOCH, 20_000.25, 2.0)
    half_past = datetime.fromtimestamp(EPOCH + 0.5, timezone.utc)
    feed._accept(Tick("NQ", half_past, 20_000.5, 1.0))  # the last-price fallback, stamped on arrival
    _trade(feed, EPOCH, 20_000.75, 1.0)
    _trade(feed, EPOCH + 1, 20_001.0, 1.0)
    assert [values[1:3] for values in trades] == [(EPOCH * 1_000_000, 20_000.25), ((EPOCH + 0.5) * 1_000_000, 20_000.5),
                                                  ((EPOCH + 1) * 1_000_000, 20_001.0)]
    assert feed.guard.counts == {"trade: out of order": 1} and feed.ticks == 3


def test_each_later_second_moves_the_high_water_the_gap_floor_and_the_times_on() -> None:
    trades: list[tuple[Any, ...]] = []
    events: list[tuple[str, dict[str, Any]]] = []
    feed = _feed(on_trade=lambda *values: trades.append(values), emit=lambda kind, payload: events.append((kind, payload)))
    for epoch in (EPOCH, EPOCH + 1, EPOCH + 1, EPOCH + 3):
        _trade(feed, epoch, 20_000.25, 1.0)
    assert feed.latest("NQ") == datetime.fromtimestamp(EPOCH + 3, timezone.utc)
    feed.mark_gap("NQ", "stale")
    _trade(feed, EPOCH + 3, 20_000.5, 1.0)  # the floor is the last second passed on
    _trade(feed, EPOCH + 2, 20_000.5, 1.0)
    _trade(feed, EPOCH + 4, 20_000.75, 1.0)
    assert [values[1] // 1_000_000 - EPOCH for values in trades] == [0, 1, 1, 3, 4]
    assert feed.duplicates == 2 and feed.ticks == 5
    [(kind, gap)] = events
    assert kind == "FEED_RESUMED" and gap["last_before"] == datetime.fromtimestamp(EPOCH + 3, timezone.utc).isoformat()
    assert gap["seconds"] == 1.0


def test_the_feeds_own_trades_come_straight_off_the_wire_message() -> None:
    trades: list[tuple[Any, ...]] = []
    feed = _feed(on_trade=lambda *values: trades.append(values))
    ticker = feed.ib.wrapper.reqId2Ticker[REQUEST]
    feed.ib.client.decoder.interpret(["99", str(REQUEST), "2", str(EPOCH), "20000.25", "3", "0", "CME", ""])
    assert trades == [("NQ", EPOCH * 1_000_000, 20_000.25, 3.0, "NQH6")]
    assert ticker.tickByTicks == [] and feed.ticks == 1  # ib_async's Ticker was skipped: the fast path took it
