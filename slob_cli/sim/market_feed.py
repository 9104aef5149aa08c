"""Turn market ticks into reqMktData, tick-by-tick and keepUpToDate messages for one client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from slob_cli.core.models import Candle
from slob_cli.sim import encoders
from slob_cli.sim.encoders import ASK, BID, CLOSE, DELAYED, HIGH, LAST, LAST_TIMESTAMP, LOW, OPEN, VOLUME, Message
from slob_cli.sim.history import format_bar_date, typical_price
from slob_cli.sim.protocol import encode_fields, format_value, frame
from slob_cli.sim.session import BarSubscription, ClientSession, QuoteSubscription, TickByTickSubscription

if TYPE_CHECKING:
    from slob_cli.sim.market import MarketTick


def _tick_type(base: int, delayed: bool) -> int:
    return DELAYED[base] if delayed else base


def quote_snapshot(subscription: QuoteSubscription, tick: MarketTick | None,
                   session: Sequence[Candle], previous_close: float | None) -> list[Message]:
    """Return the messages that show a new reqMktData line the quote and the session so far."""
    if tick is None:
        return []
    request_id, delayed = subscription.request_id, subscription.delayed
    subscription.bid = (tick.bid, tick.bid_size)
    subscription.ask = (tick.ask, tick.ask_size)
    messages = [
        encoders.tick_price(request_id, _tick_type(BID, delayed), tick.bid, tick.bid_size, 1),
        encoders.tick_price(request_id, _tick_type(ASK, delayed), tick.ask, tick.ask_size, 1),
        encoders.tick_price(request_id, _tick_type(LAST, delayed), tick.price, tick.size),
        encoders.tick_string(request_id, _tick_type(LAST_TIMESTAMP, delayed), str(int(tick.ts.timestamp()))),
    ]
    traded = [candle for candle in session if candle.tick_count > 0]
    if traded:
        subscription.high = max(candle.high for candle in traded)
        subscription.low = min(candle.low for candle in traded)
        subscription.volume = sum(candle.volume for candle in traded)
        messages += [encoders.tick_price(request_id, _tick_type(OPEN, delayed), traded[0].open, 0),
                     encoders.tick_price(request_id, _tick_type(HIGH, delayed), subscription.high, 0),
                     encoders.tick_price(request_id, _tick_type(LOW, delayed), subscription.low, 0),
                     encoders.tick_size(request_id, _tick_type(VOLUME, delayed), subscription.volume)]
    else:
        subscription.high = subscription.low = tick.price
    if previous_close is not None:
        messages.append(encoders.tick_price(request_id, _tick_type(CLOSE, delayed), previous_close, 0))
    return messages


def quote_messages(subscription: QuoteSubscription, tick: MarketTick) -> list[Message]:
    """Return the reqMktData messages one trade produces: changed bid/ask, last, size, time, volume."""
    request_id, delayed = subscription.request_id, subscription.delayed
    messages: list[Message] = []
    bid = (tick.bid, tick.bid_size)
    if bid != subscription.bid:
        subscription.bid = bid
        messages.append(encoders.tick_price(request_id, _tick_type(BID, delayed), tick.bid, tick.bid_size, 1))
    ask = (tick.ask, tick.ask_size)
    if ask != subscription.ask:
        subscription.ask = ask
        messages.append(encoders.tick_price(request_id, _tick_type(ASK, delayed), tick.ask, tick.ask_size, 1))
    messages.append(encoders.tick_price(request_id, _tick_type(LAST, delayed), tick.price, tick.size))
    messages.append(encoders.tick_string(request_id, _tick_type(LAST_TIMESTAMP, delayed),
                                         str(int(tick.ts.timestamp()))))
    subscription.volume += tick.size
    messages.append(encoders.tick_size(request_id, _tick_type(VOLUME, delayed), subscription.volume))
    if subscription.high is None or tick.price > subscription.high:
        subscription.high = tick.price
        messages.append(encoders.tick_price(request_id, _tick_type(HIGH, delayed), tick.price, 0))
    if subscription.low is None or tick.price < subscription.low:
        subscription.low = tick.price
        messages.append(encoders.tick_price(request_id, _tick_type(LOW, delayed), tick.price, 0))
    return messages


def tick_by_tick_bytes(subscription: TickByTickSubscription, tick: MarketTick) -> bytes:
    """Return the framed tickByTick message(s) one tick produces for a subscription (may be empty)."""
    epoch = int(tick.ts.timestamp())
    kind = subscription.tick_type
    if kind in ("AllLast", "Last"):
        payload = (f"99\0{subscription.request_id}\0{2 if kind == 'AllLast' else 1}\0{epoch}\0"
                   f"{format_value(tick.price)}\0{format_value(tick.size)}\0" "0\0CME\0\0").encode()
        return frame(payload)
    if kind == "BidAsk":
        quote = (tick.bid, tick.ask, float(tick.bid_size), float(tick.ask_size))
        if quote == subscription.last_quote:
            return b""
        subscription.last_quote = quote
        return encode_fields(encoders.tick_by_tick_bid_ask(subscription.request_id, epoch, *quote))
    mid = (tick.bid + tick.ask) / 2
    if mid == subscription.last_mid:
        return b""
    subscription.last_mid = mid
    return encode_fields(encoders.tick_by_tick_mid_point(subscription.request_id, epoch, mid))


def bar_update(subscription: BarSubscription, ticks: Sequence[MarketTick]) -> list[Message]:
    """Fold ticks into the live bar and return historicalDataUpdate messages (one per bar touched)."""
    messages: list[Message] = []
    bar = subscription.bar
    touched = False
    for tick in ticks:
        epoch = tick.ts.timestamp()
        start = int(epoch // subscription.bar_seconds * subscription.bar_seconds)
        if bar is None or start > bar[0]:
            if bar is not None and touched:
                messages.append(_update_message(subscription, bar))
            bar = [start, tick.price, tick.price, tick.price, tick.price, 0.0, 0]
        bar[2] = max(bar[2], tick.price)
        bar[3] = min(bar[3], tick.price)
        bar[4] = tick.price
        bar[5] += tick.size
        bar[6] += 1
        touched = True
    subscription.bar = bar
    if bar is not None and touched:
        messages.append(_update_message(subscription, bar))
    return messages


def _update_message(subscription: BarSubscription, bar: list[float]) -> Message:
    start, open_, high, low, close, volume, count = bar
    wap = typical_price(high, low, close)
    date = format_bar_date(int(start), subscription.format_date, daily=subscription.bar_seconds >= 86400)
    return encoders.historical_data_update(subscription.request_id,
                                           (date, open_, high, low, close, volume, wap, int(count)))


def deliver(session: ClientSession, ticks: Sequence[MarketTick], delayed_ticks: Sequence[MarketTick] = ()) -> None:
    """Write every message a batch produces for one client in one socket write (delayed lines get older ticks)."""
    if session.closed or session.silent:
        return
    chunks: list[bytes] = []
    live_quotes = [quote for quote in session.quotes.values() if not quote.delayed]
    delayed_quotes = [quote for quote in session.quotes.values() if quote.delayed]
    for tick in ticks:
        for quote in live_quotes:
            chunks.extend(encode_fields(message) for message in quote_messages(quote, tick))
        for line in session.tick_by_tick.values():
            chunks.append(tick_by_tick_bytes(line, tick))
    for tick in delayed_ticks if delayed_quotes else ():
        for quote in delayed_quotes:
            chunks.extend(encode_fields(message) for message in quote_messages(quote, tick))
    if ticks:
        for bars in session.bars.values():
            chunks.extend(encode_fields(message) for message in bar_update(bars, ticks))
    if chunks:
        session.writer.write(b"".join(chunks))
