"""A 2-contract trade whose exits fill in pieces: the open quantity stays covered by a stop throughout.

The planted SHORT (entry about 15:31, target about 15:43) is sized to 2 contracts. The gateway fills only
1 lot of the target; then either the price turns through the stop (which must still work for the other
lot) or the rest of the target fills. The real ib_async client trades against the simulated gateway in
lockstep virtual time.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from slob_cli.core.models import INSTRUMENTS, Direction
from slob_cli.core.pnl import FillLine, trade_result
from slob_cli.core.risk import RiskConfig
from slob_cli.runtime.events import Event, EventType
from tests.e2e.harness import Harness, at, start_harness

SETUP = "NQ-20260106-S1"
ENTRY, STOP, TARGET = (f"slob:{SETUP}:{role}" for role in ("entry", "stop", "target"))
UNTIL = at(15, 50)
TWO_LOTS = RiskConfig(risk_pct=0.03, max_contracts=2)  # 3 % of 100 000 over 21 points x $20 sizes 7, capped at 2


class Protection:
    """Check after every market trade the gateway matches: each contract held is covered by a working stop."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.broker = h.gateway.broker
        self.violations: list[str] = []
        self.seen: set[tuple[int, float]] = set()  # (held, stop quantity covering it) after each trade
        original = self.broker.on_tick

        def on_tick(con_id: int, tick: Any, now: Any) -> Any:
            events = original(con_id, tick, now)
            self.check(f"after the trade at {now:%H:%M:%S} {tick.price:g}")
            return events

        self.broker.on_tick = on_tick

    def check(self, when: str) -> None:
        held = int(sum(p[2] for p in self.broker.positions()))
        if held == 0:
            return
        closing = "BUY" if held < 0 else "SELL"
        covered = sum(o.remaining for o in self.broker.open_orders()
                      if o.order_type == "STP" and o.action == closing and o.status == "Submitted")
        self.seen.add((held, covered))
        if covered != abs(held):
            self.violations.append(f"{when}: {held:+d} held, a working stop covers {covered:g}")


def _fills(h: Harness, ref: str) -> list[Any]:
    return [e for e in h.gateway.broker.executions() if e.order_ref == ref]


def _assert_closed_and_booked(h: Harness, exit_reason: str) -> None:
    [trade] = h.trades()
    assert (trade["status"], trade["quantity"], trade["exit_reason"]) == ("CLOSED", 2, exit_reason)
    assert trade["settled_at"] is not None, "the result is booked"
    executions = h.gateway.broker.executions()
    entries = [FillLine(e.shares, e.price, e.commission) for e in executions if e.order_ref == ENTRY]
    exits = [FillLine(e.shares, e.price, e.commission) for e in executions if e.order_ref in (STOP, TARGET)]
    assert sum(f.quantity for f in entries) == sum(f.quantity for f in exits) == 2
    result = trade_result(Direction.SHORT, INSTRUMENTS["NQ"].multiplier, entries, exits)
    assert round(trade["pnl_money"], 2) == round(result.net or 0.0, 2)
    assert round(trade["gross_money"], 2) == round(result.gross or 0.0, 2)
    assert round(trade["exit_commission"], 2) == round(result.exit_commission, 2)
    stored_exits = [row for row in h.store.db.query("SELECT f.* FROM fills f JOIN orders o USING(order_ref)"
                                                    " WHERE o.setup_id=? AND o.role IN ('stop','target')", [SETUP])]
    assert sorted(row["exec_id"] for row in stored_exits) == sorted(
        e.exec_id for e in executions if e.order_ref in (STOP, TARGET)), "every exit fill stored"
    closed = h.bus_events(EventType.POSITION_CLOSED)
    assert [(c["setup_id"], round(c["pnl_money"], 2)) for c in closed] == [(SETUP, round(result.net or 0.0, 2))]
    assert h.store.get_state("risk_state")["open_positions"] == 0
    assert round(h.store.get_state("risk_state")["realized_pnl_today"], 2) == round(result.net or 0.0, 2)
    assert h.net_position() == 0
    assert not [o for o in h.gateway.broker.open_orders() if o.order_ref and SETUP in o.order_ref], "nothing left working"


def test_partial_target_fill_keeps_the_rest_protected_and_the_stop_closes_it(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        protection = Protection(h)
        seen: dict[str, Any] = {}

        def opened(event: Event) -> None:
            # The next fill is the target's first touch: 1 of 2 lots, and the rest of it never fills.
            h.gateway.partial_fill_next(1, hold_rest=True)

        def filled(event: Event) -> None:
            if event.payload["order_ref"] != TARGET or "stop_after_target" in seen:
                return
            working = {o.order_ref: o for o in h.gateway.broker.open_orders()}
            seen["stop_after_target"] = working.get(STOP)
            seen["held_after_target"] = h.net_position()
            stop, target = working.get(STOP), working.get(TARGET)
            if stop is not None and target is not None:  # turn the price through the stop
                h.gateway.jump_price(stop.stop_price - target.limit_price + 5)

        h.session(UNTIL, risk=TWO_LOTS, on={EventType.POSITION_OPENED: opened, EventType.ORDER_FILLED: filled})

        assert {(-2, 2), (-1, 1)} <= protection.seen
        assert seen["held_after_target"] == -1, "one lot of the SHORT left after the target's partial fill"
        stop = seen["stop_after_target"]
        assert stop is not None, "the stop still works after the target filled 1 of 2"
        assert (stop.status, stop.remaining, stop.oca_type) == ("Submitted", 1, 2)
        assert protection.violations == []
        assert [e.shares for e in _fills(h, TARGET)] == [1]
        assert [e.shares for e in _fills(h, STOP)] == [1], "the stop closed the second lot"
        _assert_closed_and_booked(h, "stop")
        orders = {row["order_ref"]: row for row in h.orders()}
        assert (orders[TARGET]["status"], orders[TARGET]["filled"]) == ("CANCELLED", 1)
        assert (orders[STOP]["status"], orders[STOP]["filled"]) == ("FILLED", 1)
        assert not h.logged("PROTECTION_CANCELLED_OUTSIDE")


def test_partial_target_fill_then_the_rest_of_the_target_closes_the_trade(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        protection = Protection(h)

        def opened(event: Event) -> None:
            h.gateway.partial_fill_next(1)  # the target fills 1 lot, then the other at a later trade

        h.session(UNTIL, risk=TWO_LOTS, on={EventType.POSITION_OPENED: opened})

        assert protection.violations == []
        assert {(-2, 2), (-1, 1)} <= protection.seen, "the stop shrank to the lot still held between the fills"
        assert [e.shares for e in _fills(h, TARGET)] == [1, 1]
        assert _fills(h, STOP) == []
        _assert_closed_and_booked(h, "target")
        orders = {row["order_ref"]: row for row in h.orders()}
        assert (orders[TARGET]["status"], orders[TARGET]["filled"]) == ("FILLED", 2)
        assert (orders[STOP]["status"], orders[STOP]["filled"]) == ("CANCELLED", 0)
        assert not h.logged("PROTECTION_CANCELLED_OUTSIDE")


def test_protection_cancelled_outside_after_a_partial_target_fill_is_restored_for_the_rest(tmp_path: Path) -> None:
    import threading

    from tests.e2e.harness import as_outside_client

    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=120.0, start=at(15, 20))
        cancelled: list[bool] = []

        def opened(event: Event) -> None:
            h.gateway.partial_fill_next(1, hold_rest=True)

        def filled(event: Event) -> None:
            if event.payload["order_ref"] == TARGET and not cancelled:  # an operator's "cancel all" in TWS
                cancelled.append(True)
                threading.Thread(target=as_outside_client, args=(h, "global_cancel")).start()

        h.session(UNTIL, risk=TWO_LOTS, on={EventType.POSITION_OPENED: opened, EventType.ORDER_FILLED: filled})

        assert cancelled
        assert [e.shares for e in _fills(h, TARGET)] == [1]
        noticed = h.logged("PROTECTION_CANCELLED_OUTSIDE")
        assert noticed, "a partly filled target is not the exit: the lot still held needs its stop"
        orders = {row["order_ref"]: row for row in h.orders()}
        assert orders[f"slob:{SETUP}:stop.2"]["quantity"] == 1, "re-protected for the one lot still held"
        [trade] = h.trades()
        assert (trade["status"], trade["quantity"]) == ("CLOSED", 2)
        assert h.store.get_state("risk_state")["open_positions"] == 0
        assert h.net_position() == 0
