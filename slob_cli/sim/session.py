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
SEND_BUFFER = 64 * 1024  # the kernel's send buffer per client, fixed (no autotuning to megabytes): see __post_init__


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

    def __post_init__(self) -> None:
        """Fix the socket's send buffer, so a client that stops reading holds the market within ~200 KB."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError:
                log.debug("could not set SO_SNDBUF on %s", self.peer)

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

    def backlogged(self, *, fully: bool = False) -> bool:
        """Return True when data waits in the transport's buffer (above the high-water mark unless fully)."""
        transport = self.writer.transport
        if self.closed or transport.is_closing():
            return False
        return transport.get_write_buffer_size() > (0 if fully else transport.get_write_buffer_limits()[1])

    async def drained(self, patience: float, *, fully: bool = False) -> bool:
        """Wait until the socket has taken the queued data; return False when it took none for `patience` s.

        Without `fully` this waits only above asyncio's high-water mark (what drain() does); with
        it, until nothing is left in the transport's buffer (before a DAY expiry).
        """
        transport = self.writer.transport
        if not self.backlogged(fully=fully):
            return True
        limits = transport.get_write_buffer_limits()
        if fully:
            transport.set_write_buffer_limits(high=0, low=0)  # drain() then waits for an empty buffer
        try:
            while True:
                before = transport.get_write_buffer_size()
                try:
                    async with asyncio.timeout(patience):
                        await self.writer.drain()
                    return True
                except TimeoutError:
                    if transport.get_write_buffer_size() >= before:  # it read nothing in all that time
                        return False
        except ConnectionError:
            return False
        finally:
            if fully and not transport.is_closing():
                transport.set_write_buffer_limits(high=limits[1], low=limits[0])

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
