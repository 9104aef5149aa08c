"""One connected API client: its socket, negotiated version, client id and subscriptions."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from slob_cli.sim.contracts import FutureContract
from slob_cli.sim.protocol import Field, encode_fields

log = logging.getLogger("slob.sim")


@dataclass
class QuoteSubscription:
    """A reqMktData line: what was last sent, so only changes go out."""

    request_id: int
    contract: FutureContract
    delayed: bool
    bid: tuple[float, float] | None = None
    ask: tuple[float, float] | None = None
    volume: float = 0.0
    high: float | None = None
    low: float | None = None


@dataclass
class TickByTickSubscription:
    """A reqTickByTickData line of type Last, AllLast, BidAsk or MidPoint."""

    request_id: int
    contract: FutureContract
    tick_type: str
    last_quote: tuple[float, float, float, float] | None = None
    last_mid: float | None = None


@dataclass
class BarSubscription:
    """A keepUpToDate historical request: the bar being built from live ticks."""

    request_id: int
    contract: FutureContract
    bar_seconds: int
    format_date: int
    bar: list[float] | None = None  # [start_epoch, open, high, low, close, volume, count]


@dataclass
class PnlSubscription:
    """A reqPnL (con_id None) or reqPnLSingle line: what was last sent, so only changes go out."""

    request_id: int
    account: str
    con_id: int | None = None
    last: tuple[float, ...] | None = None


@dataclass(eq=False)
class ClientSession:
    """State of one API connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    version: int = 0
    client_id: int | None = None
    started: bool = False
    closed: bool = False
    silent: bool = False
    market_data_type: int = 1
    auto_open_orders: bool = False
    positions_subscribed: bool = False
    account_subscription: str | None = None
    account_summaries: dict[int, str] = field(default_factory=dict)  # reqId -> tags
    account_multi: dict[int, str] = field(default_factory=dict)  # reqId -> account ('' = all)
    quotes: dict[int, QuoteSubscription] = field(default_factory=dict)
    tick_by_tick: dict[int, TickByTickSubscription] = field(default_factory=dict)
    bars: dict[int, BarSubscription] = field(default_factory=dict)
    pnl: dict[int, PnlSubscription] = field(default_factory=dict)

    def send(self, fields: Iterable[Field]) -> None:
        """Queue one message for the client (dropped while silent or closed)."""
        if self.closed or self.silent:
            return
        self.writer.write(encode_fields(fields))

    def send_many(self, messages: Iterable[Iterable[Field]]) -> None:
        """Queue several messages in one write."""
        if self.closed or self.silent:
            return
        self.writer.write(b"".join(encode_fields(fields) for fields in messages))

    @property
    def streaming(self) -> bool:
        """Return True while the client holds any live market-data subscription."""
        return bool(self.quotes or self.tick_by_tick or self.bars)

    def clear_market_data(self) -> None:
        """Drop every market-data subscription (as after error 1101)."""
        self.quotes.clear()
        self.tick_by_tick.clear()
        self.bars.clear()

    def close(self, reset: bool = False) -> None:
        """Close the socket: FIN normally, RST when reset is True."""
        if self.closed:
            return
        self.closed = True
        transport = self.writer.transport
        if reset:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    log.debug("could not set SO_LINGER on %s", self.peer)
            transport.abort()
        else:
            transport.close()

    def describe(self) -> str:
        """Return 'clientId N (peer)' for log lines."""
        return f"clientId {self.client_id} ({self.peer})" if self.client_id is not None else self.peer
