"""Trade ticks from the gateway: tick-by-tick AllLast first, reqMktData last prices as the fallback.

Last prices and the market data type come from ib_async's Ticker (its updateEvent, `ticks` and
`marketDataType`). Tick-by-tick trades keep their exchange time (epoch seconds, UTC) and true size
through the one hook in hooks.py, because ib_async stamps them with the arrival time. The
cumulative day volume (size tick 8) is never read.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from functools import partial
from time import monotonic as _monotonic
from typing import Any

from ib_async import Ticker

from slob_cli.adapters.ib.codes import Notice, NoticeKind, is_market_data_refusal, plain_message
from slob_cli.adapters.ib.connection import EventSink, IBConnection
from slob_cli.adapters.ib.contracts import ResolvedContract, resolve_front_month
from slob_cli.adapters.ib.conversions import BorderGuard, last_price_tick, trade_tick
from slob_cli.adapters.ib.hooks import on_tick_by_tick_trade
from slob_cli.adapters.ib.rolls import in_globex_hours, trading_date
from slob_cli.adapters.store.instants import to_us
from slob_cli.core.models import InvalidTick, Tick

log = logging.getLogger(__name__)

TickSink = Callable[[Tick, str], None]  # (tick, local symbol)
TradeSink = Callable[[str, int, float, float, str], None]  # (symbol, UTC epoch microseconds, price, size, local symbol)
UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INF = math.inf
LIVE, DELAYED = 1, 3
LAST_TICK_TYPES = frozenset({4, 68})  # last, delayed last
TOO_MANY_TICK_BY_TICK = 10190


class MarketDataFeed:
    """Subscribe trade ticks for some symbols and hand each valid tick to `on_tick`.

    A consumer that only stores trades passes `on_trade` instead: it gets the plain values (time in
    epoch microseconds) and no Tick is built for it (`slob record`'s hot path, bench/record.py).
    """

    def __init__(
        self,
        connection: IBConnection,
        symbols: list[str],
        on_tick: TickSink,
        *,
        data_type: str = "live",
        emit: EventSink | None = None,
        on_mode: Callable[[str], None] | None = None,
        stale_after: float = 30.0,
        trading_hours: Callable[[datetime], bool] = in_globex_hours,
        guard: BorderGuard | None = None,
        on_trade: TradeSink | None = None,
        order_symbols: Sequence[str] = (),
    ) -> None:
        self.connection = connection
        self.ib = connection.ib
        self.symbols = list(symbols)
        # Traded but not watched (risk's trade_symbol: MNQ on NQ's setups): resolved for orders, not subscribed.
        self.order_symbols = [symbol for symbol in order_symbols if symbol not in self.symbols]
        self.on_tick = on_tick
        self.on_trade = on_trade
        self.requested_type = data_type
        self.mode = "delayed" if data_type == "delayed" else "live"
        self._kind_reported = self.mode  # the data kind on_mode last heard (data_kind)
        self.source: dict[str, str] = {}
        self._emit = emit or (lambda kind, payload: None)
        self._on_mode = on_mode
        self.stale_after = stale_after
        self.trading_hours = trading_hours
        self.guard = guard or BorderGuard(log)
        self.contracts: dict[str, ResolvedContract] = {}
        self.local_symbols: dict[str, str] = {}  # symbol -> the resolved contract's local symbol
        self._epoch, self._second = 0, _EPOCH  # the last tick-by-tick second and its datetime
        self.refusals: dict[str, Notice] = {}
        self.market_data_types: dict[str, int] = {}
        self.ticks = 0
        self.duplicates = 0
        self.last_price: dict[str, float] = {}
        self.last_tick_monotonic: dict[str, float] = {}
        self._high_water: dict[str, datetime] = {}
        self._gap_floor: dict[str, datetime] = {}
        self._pending_gap: dict[str, dict[str, Any]] = {}
        self._tbt_requests: dict[int, str] = {}
        # tick-by-tick request -> (epoch second, symbol, its microseconds, local symbol, its datetime) of the
        # last trade passed on, while nothing else has changed that symbol's checks (_on_tick_by_tick)
        self._steady: dict[int, tuple[int, str, int, str, datetime]] = {}
        self._mkt_requests: dict[int, str] = {}
        self._stale_stage: dict[str, int] = {}
        self._ticker_handlers: dict[str, tuple[Ticker, Callable[[Ticker], None]]] = {}
        self._install_hooks()
        connection.add_hook(self.on_connected)
        connection.add_notice_listener(self._on_notice)

    # ------------------------------------------------------------------ ticks from ib_async
    def _install_hooks(self) -> None:
        # Tick-by-tick trades need their exchange time, which ib_async's objects do not keep: hooks.py.
        on_tick_by_tick_trade(self.ib, self._on_tick_by_tick, owned=self._tbt_requests)

    def _on_tick_by_tick(self, req_id: int, epoch: int, price: float, size: float) -> None:
        # The hot path (tens of thousands of calls a second). `_steady` holds the second of the last trade
        # this request passed on, while nothing else has changed what the gap and order checks read (it is
        # cleared then): a trade in that second or a later one passes those checks as it is, and only a
        # new second needs a new datetime. Anything else (first trade, bad values, earlier) goes the long way.
        steady = self._steady.get(req_id)
        if steady is None or not (0 < price < _INF and 0 < size < _INF):
            self._new_second(req_id, epoch, price, size)
            return
        if steady[0] != epoch:
            if not steady[0] < epoch < _INF:  # False for NaN too
                self._new_second(req_id, epoch, price, size)
                return
            steady = self._next_second(req_id, steady, epoch)
        symbol = steady[1]
        self.ticks += 1
        self.last_price[symbol] = price
        self.last_tick_monotonic[symbol] = _monotonic()
        if self.on_trade is not None:
            self.on_trade(symbol, steady[2], price, size, steady[3])
        else:
            self.on_tick(Tick(symbol, steady[4], float(price), float(size)), steady[3])

    def _next_second(self, req_id: int, steady: tuple[int, str, int, str, datetime], epoch: int,
                     ) -> tuple[int, str, int, str, datetime]:
        """Move a steady request on to a later second (what `_admit` does when no gap is pending)."""
        symbol = steady[1]
        ts = datetime.fromtimestamp(epoch, UTC)
        self._high_water[symbol] = ts
        held = self._steady[req_id] = (epoch, symbol, epoch * 1_000_000 if type(epoch) is int else to_us(ts),
                                       steady[3], ts)
        return held

    def _new_second(self, req_id: int, epoch: int, price: float, size: float) -> None:
        """Check and pass on a tick-by-tick trade the steady path did not take (first of its second, bad, ...)."""
        symbol = self._tbt_requests.get(req_id)
        if symbol is None:
            return
        if not (0 < epoch < _INF and 0 < price < _INF and 0 < size < _INF):  # False for NaN too
            try:
                trade_tick(symbol, epoch, price, size)  # raises with the reason
            except InvalidTick as exc:
                self.guard.reject("trade", str(exc))
            return
        if epoch != self._epoch:
            self._epoch, self._second = epoch, datetime.fromtimestamp(epoch, UTC)
        ts = self._second
        if not self._admit(symbol, ts, price):
            return
        local_symbol = self.local_symbols.get(symbol, "")
        micros = epoch * 1_000_000 if type(epoch) is int else to_us(ts)
        for other in [key for key, held in self._steady.items() if held[1] == symbol]:
            del self._steady[other]  # one request per symbol holds its high-water second
        self._steady[req_id] = (epoch, symbol, micros, local_symbol, ts)
        if self.on_trade is not None:
            self.on_trade(symbol, micros, price, size, local_symbol)
        else:
            self.on_tick(Tick(symbol, ts, float(price), float(size)), local_symbol)

    def _on_ticker_update(self, symbol: str, ticker: Ticker) -> None:
        """Take the last-price ticks of one reqMktData ticker (its updateEvent) and note its data type."""
        self._note_market_data_type(symbol, ticker.marketDataType)
        for data in ticker.ticks:  # ib_async's ticks of this update (it clears them at every read)
            if data.tickType not in LAST_TICK_TYPES:
                continue
            try:
                tick = last_price_tick(symbol, self.connection.clock.now(), data.price, data.size)
            except InvalidTick as exc:
                self.guard.reject("last price", str(exc))
                continue
            self._accept(tick)

    def _note_market_data_type(self, symbol: str, type_id: int) -> None:
        if self.market_data_types.get(symbol) == type_id:
            return
        self.market_data_types[symbol] = type_id
        if type_id in (3, 4):
            self._set_mode("delayed", f"IB reports delayed data for {symbol}")
        elif not any(t in (3, 4) for t in self.market_data_types.values()):
            # Type 3 means "delayed unless live is permitted": say what IB actually sends.
            self._set_mode("live", f"IB sends live data for {symbol}")

    def _accept(self, tick: Tick) -> None:
        symbol = tick.symbol
        self._steady.clear()  # the high water moves off a tick-by-tick second
        if not self._admit(symbol, tick.ts, tick.price):
            return
        if self.on_trade is not None:
            self.on_trade(symbol, to_us(tick.ts), tick.price, tick.size,
                          self.local_symbols.get(symbol, ""))
        else:
            self.on_tick(tick, self.local_symbols.get(symbol, ""))

    def _admit(self, symbol: str, ts: datetime, price: float) -> bool:
        """Return True for a trade to pass on: not a replay after a gap, not out of order; count it."""
        floor = self._gap_floor.get(symbol)
        if floor is not None:
            if ts <= floor:
                # Same second as the last tick stored before the gap: cannot tell a replay from a new trade.
                self.duplicates += 1
                return False
            del self._gap_floor[symbol]
        high = self._high_water.get(symbol)
        if high is not None and ts < high:
            self.guard.reject("trade", "out of order")
            return False
        self._high_water[symbol] = ts
        self.ticks += 1
        self.last_price[symbol] = price
        self.last_tick_monotonic[symbol] = time.monotonic()
        self._stale_stage[symbol] = 0
        gap = self._pending_gap.pop(symbol, None)
        if gap is not None:
            # Not yet a DATA_GAP: the owner decides what is lost (the recorder backfills, then reports the rest).
            gap["first_after"] = ts.isoformat()
            gap["seconds"] = round((ts - datetime.fromisoformat(gap["last_before"])).total_seconds(), 3) \
                if gap.get("last_before") else None
            self._emit("FEED_RESUMED", gap)
        return True

    def latest(self, symbol: str) -> datetime | None:
        """Return the exchange time of the last trade accepted for symbol."""
        return self._high_water.get(symbol)

    # ------------------------------------------------------------------ (re)subscription
    async def on_connected(self, reason: str) -> None:
        """Resolve contracts for today's trading date and subscribe every symbol (connection hook)."""
        day = trading_date(self.connection.gateway_now())
        if reason != "connect":
            for symbol in self._high_water:
                self.mark_gap(symbol, reason)
        self._tbt_requests.clear()
        self._steady.clear()
        self._mkt_requests.clear()
        self.ib.reqMarketDataType(DELAYED if self.mode == "delayed" else LIVE)
        self._report_kind()  # the gateway said at connect whether it is the simulated one
        for symbol in self.symbols:
            await self._resolve(symbol, day)
            self._subscribe(symbol)
            self.last_tick_monotonic.setdefault(symbol, time.monotonic())
            self.last_tick_monotonic[symbol] = max(self.last_tick_monotonic[symbol], time.monotonic())
        for symbol in self.order_symbols:
            await self._resolve(symbol, day)

    def mark_gap(self, symbol: str, reason: str) -> None:
        """Note that ticks after the last one accepted may be missing (reconnect or silence) until the next arrives."""
        high = self._high_water.get(symbol)
        if high is None:
            return
        self._steady.clear()
        self._gap_floor[symbol] = high
        self._pending_gap.setdefault(symbol, {"symbol": symbol, "reason": reason, "last_before": high.isoformat()})

    async def _resolve(self, symbol: str, day: date) -> None:
        current = self.contracts.get(symbol)
        if current is not None and current.trading_date == day:
            return  # never switch contracts inside a trading day
        resolved = await resolve_front_month(self.ib, symbol, day, self.guard)
        if current is not None and current.future.con_id != resolved.future.con_id:
            self._emit("CONTRACT_ROLLED", {"symbol": symbol, "from": current.future.local_symbol,
                                           "to": resolved.future.local_symbol})
        self.contracts[symbol] = resolved
        self.local_symbols[symbol] = resolved.future.local_symbol
        self._steady.clear()
        self._emit("CONTRACT_RESOLVED", {"symbol": symbol, "local_symbol": resolved.future.local_symbol,
                                         "expiry": resolved.future.expiry.isoformat(), "trading_date": day.isoformat()})

    def _subscribe(self, symbol: str) -> None:
        contract = self.contracts[symbol].ib_contract
        if self.mode == "live" and self.source.get(symbol) != "mktdata":
            ticker = self.ib.reqTickByTickData(contract, "AllLast")
            self._tbt_requests[self.ib.wrapper.ticker2ReqId["AllLast"][ticker]] = symbol
            self.source[symbol] = "tick-by-tick"
        else:
            self._subscribe_last_prices(symbol)

    def _subscribe_last_prices(self, symbol: str) -> None:
        contract = self.contracts[symbol].ib_contract
        ticker = self.ib.reqMktData(contract, "", False, False)
        self._mkt_requests[self.ib.wrapper.ticker2ReqId["mktData"][ticker]] = symbol
        self.source[symbol] = "mktdata"
        previous = self._ticker_handlers.pop(symbol, None)
        if previous is not None:
            previous[0].updateEvent -= previous[1]
        handler = partial(self._on_ticker_update, symbol)
        ticker.updateEvent += handler
        self._ticker_handlers[symbol] = (ticker, handler)

    def _unsubscribe(self, symbol: str) -> None:
        contract = self.contracts[symbol].ib_contract
        self._steady.clear()
        for table, kind in ((self._tbt_requests, "AllLast"), (self._mkt_requests, "mktData")):
            for req_id, owner in list(table.items()):
                if owner == symbol:
                    del table[req_id]
                    if self.connection.connected:
                        if kind == "AllLast":
                            self.ib.cancelTickByTickData(contract, kind)
                        else:
                            self.ib.cancelMktData(contract)

    def resubscribe(self, symbol: str) -> None:
        """Cancel and renew one symbol's subscription (the stale-data watchdog's first step)."""
        if symbol not in self.contracts or not self.connection.connected:
            return
        self._unsubscribe(symbol)
        self._subscribe(symbol)

    # ------------------------------------------------------------------ refusals and modes
    def _on_notice(self, notice: Notice) -> None:
        symbol = self._tbt_requests.get(notice.request_id) or self._mkt_requests.get(notice.request_id)
        if symbol is None:
            return
        on_tick_by_tick = notice.request_id in self._tbt_requests
        if notice.code == TOO_MANY_TICK_BY_TICK and on_tick_by_tick:
            log.warning("IB allows no more tick-by-tick streams; using last-price ticks for %s", symbol)
            del self._tbt_requests[notice.request_id]
            self._steady.clear()
            self._subscribe_last_prices(symbol)
            return
        if not is_market_data_refusal(notice.kind):
            return
        message = plain_message(notice.kind, notice.code, notice.text, symbol=symbol)
        if notice.kind is NoticeKind.DELAYED_INSTEAD:
            log.error(message)
            self._set_mode("delayed", message)
            return
        if on_tick_by_tick:
            # Live refused: fall back to delayed last prices, loudly.
            log.error("%s; falling back to delayed data", message)
            del self._tbt_requests[notice.request_id]
            self._steady.clear()
            self.refusals[symbol] = notice
            self._set_mode("delayed", message)
            self.ib.reqMarketDataType(DELAYED)
            self._subscribe_last_prices(symbol)
            return
        log.error(message)
        self.refusals[symbol] = notice
        self._emit("MARKET_DATA_REFUSED", {"symbol": symbol, "code": notice.code, "message": message})

    def _set_mode(self, mode: str, reason: str) -> None:
        if self.mode == mode:
            return
        self.mode = mode
        log.warning("MARKET DATA IS %s: %s", mode.upper(), reason)
        self._emit("MARKET_DATA_DELAYED" if mode == "delayed" else "MARKET_DATA_LIVE", {"reason": reason})
        self._report_kind()

    @property
    def data_kind(self) -> str:
        """Return what a trader is told of the data: delayed, sim (live from a simulated gateway) or live.

        Delayed comes first: it is the warning a trader must act on, simulated or not.
        """
        return "sim" if self.mode == "live" and self.connection.simulated else self.mode

    def _report_kind(self) -> None:
        kind = self.data_kind
        if kind != self._kind_reported:
            self._kind_reported = kind
            if self._on_mode is not None:
                self._on_mode(kind)

    # ------------------------------------------------------------------ stale-data watchdog
    async def watch(self, stop: asyncio.Event, interval: float | None = None) -> None:
        """Until stop: a symbol silent for stale_after inside trading hours is resubscribed, then reconnected."""
        interval = interval if interval is not None else max(0.05, min(5.0, self.stale_after / 4))
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except (asyncio.TimeoutError, TimeoutError):
                pass
            if stop.is_set() or not self.connection.connected:
                continue
            if not self.trading_hours(self.connection.gateway_now()):
                continue
            self.check_stale(time.monotonic())

    def check_stale(self, now_monotonic: float) -> None:
        """Act on every symbol that has been silent for longer than stale_after."""
        for symbol in self.symbols:
            last = self.last_tick_monotonic.get(symbol)
            if last is None or now_monotonic - last < self.stale_after:
                continue
            stage = self._stale_stage.get(symbol, 0)
            silent = round(now_monotonic - last, 1)
            self.last_tick_monotonic[symbol] = now_monotonic
            if stage == 0:
                log.warning("no %s tick for %.0fs; resubscribing", symbol, silent)
                self._emit("DATA_STALE", {"symbol": symbol, "silent_seconds": silent, "action": "resubscribe"})
                self._stale_stage[symbol] = 1
                self.mark_gap(symbol, "stale")  # the market may have traded while the feed was silent
                self.resubscribe(symbol)
            else:
                log.error("still no %s tick after resubscribing; reconnecting", symbol)
                self._emit("DATA_STALE", {"symbol": symbol, "silent_seconds": silent, "action": "reconnect"})
                self._stale_stage[symbol] = 0
                self.connection.request_reconnect(f"no {symbol} ticks for {silent:.0f}s")
