"""Order intents: the bracket of one setup, protective re-issues and flattening (STRATEGY.md §6).

An intent is what we mean to send, written to the store before anything reaches the broker; the
IB adapter turns it into an ib_async Order. Every orderRef is `slob:<setup-id>:<role>` with an
optional `.<n>` for the n-th re-issue, so the broker's own records tell which setup an order
belongs to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from slob_cli.core.models import TICK_SIZE, Direction, round_to_tick
from slob_cli.core.pnl import price_text

REF_PREFIX = "slob"
# IB's ocaType 2, "reduce with block": a fill (whole or partial) of one exit shrinks the others by the
# filled quantity, and IB blocks the group against overfill while it does. Type 1 ("cancel with block")
# would cancel the stop on a target's *partial* fill and leave the rest of the position naked.
OCA_TYPE_REDUCE_WITH_BLOCK = 2
ENTRY_TYPES = ("MKT", "LMT")


class OrderRole(str, Enum):
    """What an order does for its setup."""

    ENTRY = "entry"
    STOP = "stop"
    TARGET = "target"
    FLATTEN = "flatten"


EXIT_ROLES = frozenset({OrderRole.STOP, OrderRole.TARGET, OrderRole.FLATTEN})


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One order we mean to send; prices are on the tick grid, quantity in whole contracts."""

    order_ref: str
    setup_id: str
    role: OrderRole
    symbol: str
    action: str
    order_type: str
    quantity: int
    limit_price: float | None = None
    stop_price: float | None = None
    tif: str = "DAY"
    oca_group: str | None = None
    oca_type: int | None = None
    parent_ref: str | None = None
    transmit: bool = True


@dataclass(frozen=True, slots=True)
class BracketIntent:
    """Entry, stop and target of one setup, in the order they must be sent."""

    setup_id: str
    direction: Direction
    symbol: str
    contracts: int
    entry: OrderIntent
    stop: OrderIntent
    target: OrderIntent

    @property
    def orders(self) -> tuple[OrderIntent, OrderIntent, OrderIntent]:
        """Return the three intents in sending order (the last one transmits the group)."""
        return (self.entry, self.stop, self.target)


@dataclass(frozen=True, slots=True)
class ParsedRef:
    """The parts of one of our orderRefs."""

    setup_id: str
    role: OrderRole
    attempt: int


def order_ref(setup_id: str, role: OrderRole, attempt: int = 1) -> str:
    """Return the orderRef of a setup's order; attempt > 1 marks a re-issue."""
    _check_setup_id(setup_id)
    suffix = "" if attempt == 1 else f".{attempt}"
    return f"{REF_PREFIX}:{setup_id}:{role.value}{suffix}"


def oca_group(setup_id: str, attempt: int = 1) -> str:
    """Return the OCA group name shared by a setup's exit orders."""
    suffix = "" if attempt == 1 else f".{attempt}"
    return f"{REF_PREFIX}:{setup_id}:oca{suffix}"


def parse_order_ref(ref: str | None) -> ParsedRef | None:
    """Return the parts of one of our orderRefs, or None for anything else (a foreign order)."""
    if not ref:
        return None
    parts = ref.split(":")
    if len(parts) != 3 or parts[0] != REF_PREFIX or not parts[1]:
        return None
    role_text, _, attempt_text = parts[2].partition(".")
    try:
        role = OrderRole(role_text)
        attempt = int(attempt_text) if attempt_text else 1
    except ValueError:
        return None
    if attempt < 1:
        return None
    return ParsedRef(parts[1], role, attempt)


def exit_action(direction: Direction) -> str:
    """Return the action that closes a position of this direction."""
    return "BUY" if direction is Direction.SHORT else "SELL"


def entry_action(direction: Direction) -> str:
    """Return the action that opens a position of this direction."""
    return "SELL" if direction is Direction.SHORT else "BUY"


def stop_price_on_grid(direction: Direction, stop: float, tick: float = TICK_SIZE) -> float:
    """Round a stop away from the entry: up for a SHORT, down for a LONG."""
    return round_to_tick(stop, tick, "up" if direction is Direction.SHORT else "down")


def target_price_on_grid(direction: Direction, target: float, tick: float = TICK_SIZE) -> float:
    """Round a target toward the entry: up for a SHORT, down for a LONG."""
    return round_to_tick(target, tick, "up" if direction is Direction.SHORT else "down")


def build_bracket(
    setup_id: str,
    direction: Direction,
    symbol: str,
    contracts: int,
    entry_estimate: float,
    stop: float,
    target: float,
    entry_type: str = "MKT",
    tick: float = TICK_SIZE,
    limit_offset_ticks: int = 0,
) -> BracketIntent:
    """Return the bracket of one setup; raise ValueError naming a price or size that cannot work.

    The entry is a DAY market order (or a limit `limit_offset_ticks` through the estimate); the stop
    and target are GTC children in one reduce-type OCA group: a fill of one shrinks the other by the
    quantity filled (a full fill cancels it), so the open quantity stays covered. The parent and the
    stop carry transmit=False and the target True, so TWS releases the three together.
    """
    direction = Direction(direction)
    if isinstance(contracts, bool) or not isinstance(contracts, int) or contracts <= 0:
        raise ValueError(f"contracts must be a positive whole number, got {contracts!r}")
    if entry_type not in ENTRY_TYPES:
        raise ValueError(f"entry type must be MKT or LMT, got {entry_type!r}")
    for name, price in (("entry", entry_estimate), ("stop", stop), ("target", target)):
        if not (isinstance(price, (int, float)) and math.isfinite(price) and price > 0):
            raise ValueError(f"{name} price must be a positive number, got {price!r}")
    short = direction is Direction.SHORT
    stop_px = stop_price_on_grid(direction, stop, tick)
    target_px = target_price_on_grid(direction, target, tick)
    above, below = ("above", "below") if short else ("below", "above")
    if (stop_px <= entry_estimate) if short else (stop_px >= entry_estimate):
        raise ValueError(f"{direction.value} stop {price_text(stop)} must be {above} the entry {price_text(entry_estimate)}")
    if (target_px >= entry_estimate) if short else (target_px <= entry_estimate):
        raise ValueError(
            f"{direction.value} target {price_text(target)} (on grid {price_text(target_px)}) must be {below} the entry "
            f"{price_text(entry_estimate)}")
    limit_px = None
    if entry_type == "LMT":
        # Through the estimate: a SELL limit lower, a BUY limit higher, rounded to the marketable side.
        offset = limit_offset_ticks * tick
        limit_px = round_to_tick(entry_estimate - offset if short else entry_estimate + offset, tick,
                                 "down" if short else "up")
    entry_ref = order_ref(setup_id, OrderRole.ENTRY)
    group = oca_group(setup_id)
    entry = OrderIntent(entry_ref, setup_id, OrderRole.ENTRY, symbol, entry_action(direction), entry_type,
                        contracts, limit_price=limit_px, tif="DAY", transmit=False)
    stop_order, target_order = exit_pair(setup_id, direction, symbol, contracts, stop_px, target_px,
                                         parent_ref=entry_ref, oca=group)
    assert target_order is not None  # a bracket always has its target
    return BracketIntent(setup_id, direction, symbol, contracts, entry, stop_order, target_order)


def exit_pair(
    setup_id: str,
    direction: Direction,
    symbol: str,
    quantity: int,
    stop: float,
    target: float | None,
    parent_ref: str | None = None,
    oca: str | None = None,
    attempt: int = 1,
) -> tuple[OrderIntent, OrderIntent | None]:
    """Return the stop (and target, if any) closing `quantity` contracts, sharing one reduce-type OCA group.

    Without a parent (a re-issue protecting an open position) each transmits at once, so the stop is
    live even if the target is refused; with a parent the stop holds and the target releases the group.
    """
    if quantity <= 0:
        raise ValueError(f"exit quantity must be positive, got {quantity!r}")
    group = oca or oca_group(setup_id, attempt)
    action = exit_action(direction)
    stop_order = OrderIntent(
        order_ref(setup_id, OrderRole.STOP, attempt), setup_id, OrderRole.STOP, symbol, action, "STP", quantity,
        stop_price=stop_price_on_grid(direction, stop), tif="GTC", oca_group=group,
        oca_type=OCA_TYPE_REDUCE_WITH_BLOCK, parent_ref=parent_ref,
        transmit=parent_ref is None)
    if target is None:
        return stop_order, None
    target_order = OrderIntent(
        order_ref(setup_id, OrderRole.TARGET, attempt), setup_id, OrderRole.TARGET, symbol, action, "LMT", quantity,
        limit_price=target_price_on_grid(direction, target), tif="GTC", oca_group=group,
        oca_type=OCA_TYPE_REDUCE_WITH_BLOCK, parent_ref=parent_ref, transmit=True)
    return stop_order, target_order


def flatten_intent(setup_id: str, symbol: str, position: int, attempt: int = 1) -> OrderIntent:
    """Return a market order closing a signed position (negative = short) of one setup or symbol."""
    if isinstance(position, bool) or not isinstance(position, int) or position == 0:
        raise ValueError(f"position to flatten must be a non-zero whole number, got {position!r}")
    action = "BUY" if position < 0 else "SELL"
    return OrderIntent(order_ref(setup_id, OrderRole.FLATTEN, attempt), setup_id, OrderRole.FLATTEN, symbol,
                       action, "MKT", abs(position), tif="DAY", transmit=True)


def _check_setup_id(setup_id: str) -> None:
    if not setup_id or ":" in setup_id or any(c.isspace() for c in setup_id):
        raise ValueError(f"setup id {setup_id!r} must be non-empty without ':' or spaces")
