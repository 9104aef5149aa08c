"""The one place slob reaches inside ib_async: the exchange time of tick-by-tick trades, and their fast path.

Why a hook at all: ib_async 2.1.0 builds `TickByTickAllLast(tickType, time, ...)` with
`self.lastTime`, the moment the TCP read arrived, and drops the epoch seconds IB sends with each
trade. A candle must be built from exchange time (the simulated gateway's virtual clock, a
backlog after a reconnect and a slow event loop all make arrival time wrong), so the feed needs
those seconds. Everything else comes from ib_async's public objects and events.

How: the wrapper method is chained, never replaced: ib_async's own handler runs first (its
Ticker, `tickByTicks` and events stay as they are), then the callback gets the wire's values.
`HOOKED` names the signature the chain relies on; `hook_problems()` reports a difference, and
tests/adapters/ib/test_hooks.py fails when an ib_async release changes it.

The fast path (`owned`): the trades of the requests the caller owns are taken straight off the wire
message (tickByTick `99`, TWS_PROTOCOL.md) in ib_async's decoder, before ib_async builds its
attribute, Ticker update and pending-ticker set for them, which cost more CPU per trade than all of
slob's recording (bench/record.py). Only a message in the usual form (Last/AllLast, 9 fields, a
mask of 0-3) goes that way, and the callback gets exactly what the chained handler would pass;
anything else, and every request the caller does not own, goes through ib_async and the chained
handler as before. ib_async's Ticker of an owned request is left alone (slob never reads it).
Without the decoder table the hook expects (`fast_path_problems()`), only the chained handler is
installed, with a warning.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Container
from typing import Any

from ib_async import IB
from ib_async.wrapper import Wrapper

log = logging.getLogger(__name__)

# Wrapper method -> the parameter names (after self) the chained hook passes through by position.
HOOKED: dict[str, tuple[str, ...]] = {
    "tickByTickAllLast": ("reqId", "tickType", "time", "price", "size", "tickAttribLast", "exchange",
                          "specialConditions"),
}

TradeCallback = Callable[[int, int, float, float], None]  # (reqId, epoch seconds, price, size)
TICK_BY_TICK = 99  # the wire's message id; its fields: id, reqId, tickType, time, price, size, mask, exchange, conditions
_LAST_TYPES = frozenset({"1", "2"})  # Last, AllLast
_PLAIN_MASKS = frozenset({"0", "1", "2", "3"})  # pastLimit | unreported, as ib_async reads them


def hook_problems() -> list[str]:
    """Return how the installed ib_async differs from the signatures the hooks rely on (empty: none)."""
    problems = []
    for name, expected in HOOKED.items():
        method = getattr(Wrapper, name, None)
        if method is None:
            problems.append(f"ib_async's Wrapper has no {name}")
            continue
        found = tuple(inspect.signature(method).parameters)[1:]
        if found != expected:
            problems.append(f"Wrapper.{name}{found} is not {expected}")
    return problems


def fast_path_problems(ib: IB) -> list[str]:
    """Return why the decoder of ib cannot take owned trades off the wire (empty: it can)."""
    handlers = getattr(getattr(ib.client, "decoder", None), "handlers", None)
    if not isinstance(handlers, dict):
        return ["ib_async's Decoder has no handlers table"]
    handler = handlers.get(TICK_BY_TICK)
    if getattr(handler, "owned_first", False):
        return []  # another owner's fast path: this one goes in front of it
    if (not callable(handler) or getattr(handler, "__name__", None) != "tickByTick"
            or tuple(inspect.signature(handler).parameters) != ("fields",)):
        return [f"ib_async's Decoder handles message {TICK_BY_TICK} with {handler!r}, not tickByTick(fields)"]
    return []


def on_tick_by_tick_trade(ib: IB, callback: TradeCallback, owned: Container[int] | None = None) -> None:
    """Call callback(reqId, epoch, price, size) for every tick-by-tick Last/AllLast trade, after ib_async's handler.

    The trades of the request ids in `owned` (a live view: the caller's own table) take the fast path.
    """
    for problem in hook_problems():
        log.error("ib_async changed under slob's tick-by-tick hook: %s; trade times may be wrong", problem)
    wrapper = ib.wrapper
    original = wrapper.tickByTickAllLast

    def chained(req_id: int, tick_type: int, epoch: int, price: float, size: float, attrib: Any, exchange: Any,
                conditions: Any) -> None:  # spelled out: no tuple packed per trade on the hot path
        original(req_id, tick_type, epoch, price, size, attrib, exchange, conditions)
        callback(req_id, epoch, price, size)

    # ib_async's decoder looks the method up on the wrapper at call time.
    wrapper.tickByTickAllLast = chained  # type: ignore[method-assign, assignment]
    if owned is None:
        return
    problems = fast_path_problems(ib)
    if problems:
        log.warning("tick-by-tick trades go through ib_async's objects (slower): %s", problems[0])
        return
    _take_owned_trades(ib, owned, callback)


def _take_owned_trades(ib: IB, owned: Container[int], callback: TradeCallback) -> None:
    handlers = ib.client.decoder.handlers
    decode = handlers[TICK_BY_TICK]

    def owned_first(fields: list[str]) -> None:
        # ib_async's checks (a ValueError is its decoder's "Error handling fields" log, as from its own
        # handler), then exactly the values the chained handler passes on (the wire's, as floats).
        if len(fields) == 9 and fields[2] in _LAST_TYPES and fields[6] in _PLAIN_MASKS:
            req_id = int(fields[1])
            if req_id in owned:
                callback(req_id, int(fields[3]), float(fields[4]), float(fields[5]))
                return
        decode(fields)

    owned_first.owned_first = True  # type: ignore[attr-defined]
    handlers[TICK_BY_TICK] = owned_first
