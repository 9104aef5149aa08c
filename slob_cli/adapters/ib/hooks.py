"""The one place slob reaches inside ib_async: the exchange time of tick-by-tick trades.

Why a hook at all: ib_async 2.1.0 builds `TickByTickAllLast(tickType, time, ...)` with
`self.lastTime`, the moment the TCP read arrived, and drops the epoch seconds IB sends with each
trade. A candle must be built from exchange time (the simulated gateway's virtual clock, a
backlog after a reconnect and a slow event loop all make arrival time wrong), so the feed needs
those seconds. Everything else comes from ib_async's public objects and events.

How: the wrapper method is chained, never replaced: ib_async's own handler runs first (its
Ticker, `tickByTicks` and events stay as they are), then the callback gets the wire's values.
`HOOKED` names the signature the chain relies on; `hook_problems()` reports a difference, and
tests/adapters/ib/test_hooks.py fails when an ib_async release changes it.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
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


def on_tick_by_tick_trade(ib: IB, callback: TradeCallback) -> None:
    """Call callback(reqId, epoch, price, size) for every tick-by-tick Last/AllLast trade, after ib_async's handler."""
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
