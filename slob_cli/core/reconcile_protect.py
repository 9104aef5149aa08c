"""Protection rules of reconciliation: every contract held ends covered by a stop, never over-covered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from slob_cli.core.broker_view import LIVE, BrokerOrder, status_from_ib
from slob_cli.core.models import Direction
from slob_cli.core.orders import OrderRole, exit_pair, flatten_intent
from slob_cli.core.pnl import price_text
from slob_cli.core.reconcile_actions import Action, CancelOrder, OrderView, PlaceOrders, Report, ResizeOrder

ORPHAN_PREFIX = "orphan-"
STOP_ORDER_TYPES = frozenset({"STP", "STP LMT", "TRAIL", "TRAIL LIMIT"})


def split_flattens(views: Iterable[OrderView], symbol: str, position: int) -> tuple[list[OrderView], list[OrderView]]:
    """Return our working flattens in a symbol split into (kept, excess); excess would overshoot the position."""
    closing = "BUY" if position < 0 else "SELL"
    working = sorted((v for v in views if v.parsed.role is OrderRole.FLATTEN and v.symbol == symbol
                      and v.live_remaining > 0), key=lambda v: (v.order_id or 0, v.ref))
    kept: list[OrderView] = []
    excess: list[OrderView] = []
    closing_total = 0
    for view in working:
        if view.action == closing and closing_total + view.live_remaining <= abs(position):
            kept.append(view)
            closing_total += view.live_remaining
        else:
            excess.append(view)
    return kept, excess


def next_attempt(views: Sequence[OrderView]) -> int:
    """Return the attempt number for a setup's next re-issued order."""
    return 1 + max((v.parsed.attempt for v in views), default=0)


def protect_setup(
    setup_id: str,
    views: Sequence[OrderView],
    direction: Direction | None,
    symbol: str,
    held: int,
    flattening: int,
    entry_live: bool,
    last_prices: Mapping[str, float],
) -> list[Action]:
    """Return the actions that leave exactly `held` contracts of this setup covered by one stop.

    `flattening` is the part of `held` that working flatten orders are already closing.
    """
    exits = [v for v in views if v.parsed.role in (OrderRole.STOP, OrderRole.TARGET) and v.live_remaining > 0]
    need = held - flattening
    if need <= 0 or direction is None:
        if entry_live:
            return []  # the children wait for their parent to fill
        why = "the setup holds no position" if held == 0 else "a flatten order is closing the position"
        return [CancelOrder(v.ref, v.order_id, f"cancel leftover exit: {why}") for v in exits]
    stops = sorted((v for v in exits if v.parsed.role is OrderRole.STOP), key=lambda v: -v.parsed.attempt)
    targets = sorted((v for v in exits if v.parsed.role is OrderRole.TARGET), key=lambda v: -v.parsed.attempt)
    if entry_live and sum(v.live_remaining for v in stops) >= need:
        return []  # children sized to the whole entry; they shrink only once the entry stops filling
    if not stops:
        return _reissue(setup_id, views, direction, symbol, need, targets, last_prices)
    actions: list[Action] = []
    for group in (stops, targets):
        if not group:
            continue
        keep, *extra = group
        actions += [CancelOrder(v.ref, v.order_id, f"cancel duplicate {v.parsed.role.value}") for v in extra]
        if keep.live_remaining != need:
            actions.append(ResizeOrder(keep.ref, keep.order_id, keep.filled + need,
                                       f"{keep.parsed.role.value} must cover the {need} contract(s) held"))
    return actions


def _reissue(
    setup_id: str,
    views: Sequence[OrderView],
    direction: Direction,
    symbol: str,
    need: int,
    targets: list[OrderView],
    last_prices: Mapping[str, float],
) -> list[Action]:
    actions: list[Action] = [CancelOrder(v.ref, v.order_id, "cancel target: its stop is gone; re-issuing both")
                             for v in targets]
    stop_price = _latest(views, OrderRole.STOP, "stop_price")
    target_price = _latest(views, OrderRole.TARGET, "limit_price")
    last = last_prices.get(symbol)
    short = direction is Direction.SHORT
    breached = stop_price is not None and last is not None and (last >= stop_price if short else last <= stop_price)
    attempt = next_attempt(views)
    if stop_price is None or breached:
        why = "no stored stop price" if stop_price is None else f"the last price {price_text(last)} is through the stop {price_text(stop_price)}"
        order = flatten_intent(setup_id, symbol, -need if short else need, attempt)
        actions.append(PlaceOrders(setup_id, (order,), f"flatten {need} unprotected {symbol}: {why}"))
        return actions
    stop, target = exit_pair(setup_id, direction, symbol, need, stop_price, target_price, attempt=attempt)
    orders = (stop,) if target is None else (stop, target)
    actions.append(PlaceOrders(setup_id, orders, f"re-protect {need} {symbol} with a stop at {price_text(stop.stop_price)}"))
    return actions


def _latest(views: Sequence[OrderView], role: OrderRole, attribute: str) -> float | None:
    for view in sorted(views, key=lambda v: -v.parsed.attempt):
        value: float | None = getattr(view, attribute)
        if view.parsed.role is role and value is not None:
            return value
    return None


def protect_residual(
    symbol: str,
    residual: int,
    views: Mapping[str, OrderView],
    foreign: Sequence[BrokerOrder],
    flattening: int,
    flatten_unexplained: bool,
) -> list[Action]:
    """Cover a position no setup explains: working foreign stops and our flattens count, else flatten."""
    closing = "BUY" if residual < 0 else "SELL"
    cover = flattening + sum(o.remaining for o in foreign
                             if o.symbol == symbol and o.action == closing and o.order_type in STOP_ORDER_TYPES
                             and status_from_ib(o.status) in LIVE)
    orphan_id = f"{ORPHAN_PREFIX}{symbol}"
    orphan_views = [v for v in views.values() if v.parsed.setup_id == orphan_id]
    uncovered = abs(residual) - cover
    detail = f"{symbol} holds {residual:+d} contract(s) that no setup explains"
    if uncovered <= 0:
        return [Report("UNEXPLAINED_POSITION", f"{detail}; covered by working orders", symbol=symbol)]
    report = Report("UNEXPLAINED_POSITION", f"{detail}; {uncovered} unprotected", symbol=symbol)
    if not flatten_unexplained:
        return [report]
    order = flatten_intent(orphan_id, symbol, uncovered if residual > 0 else -uncovered, next_attempt(orphan_views))
    return [report, PlaceOrders(orphan_id, (order,), f"flatten {uncovered} unexplained {symbol}")]
