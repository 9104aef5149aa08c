"""Broker faults during a planted SHORT day: gateway restart mid-trade, 1100, a rejected entry."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from slob_cli.core.risk import RiskConfig
from slob_cli.runtime.events import Event, EventType
from tests.e2e.harness import FAST_BACKOFF, Harness, at, start_harness

SETUP = "NQ-20260106-S1"
BRACKET = {f"slob:{SETUP}:{role}" for role in ("entry", "stop", "target")}
AFTER_TARGET = at(15, 46)  # the planted SHORT completes at 15:31 and reaches its target at about 15:43


def _placed_refs(h: Harness) -> list[str]:
    return [payload["order_ref"] for payload in h.bus_events(EventType.ORDER_PLACED)]


def _setup_event(kind: str, action: Any) -> Any:
    """Return a SETUP_EVENT handler that calls action() once, on the first event of that kind."""
    done: list[bool] = []

    def handler(event: Event) -> None:
        payload = event.payload
        name = payload.get("type") if isinstance(payload, dict) else payload.type.value
        if name == kind and not done:
            done.append(True)
            action()

    return handler


def test_gateway_restart_after_entry_fill_reconnects_reconciles_and_bracket_closes_trade(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        restarted: list[bool] = []

        def restart(event: Event) -> None:
            if not restarted:  # down for 0.3 s real = 3 virtual minutes at 600x, position open
                restarted.append(True)
                h.gateway.restart(0.3, wait=False)

        result = h.session(AFTER_TARGET, policy=FAST_BACKOFF, on={EventType.POSITION_OPENED: restart})
        assert restarted
        assert result.stats.reconnects >= 1
        assert h.logged("IB_RECONNECTED"), "the engine came back by itself"
        assert len(h.logged("RECONCILED")) >= 2, "reconciled on start and again after the reconnect"
        reconcile_actions = [payload["action"] for payload in h.logged("RECONCILE")]
        assert not {"SendBracket", "PlaceOrders"} & set(reconcile_actions), "reconcile sent nothing new"
        assert sorted(_placed_refs(h)) == sorted(BRACKET), "each order of the bracket sent once"
        assert sorted(o.order_ref for o in h.broker_orders()) == sorted(BRACKET)
        orders = {row["order_ref"]: row for row in h.orders()}
        assert set(orders) == BRACKET
        assert orders[f"slob:{SETUP}:target"]["status"] == "FILLED"
        assert orders[f"slob:{SETUP}:stop"]["status"] == "CANCELLED"
        [trade] = h.trades()
        assert (trade["status"], trade["exit_reason"], trade["quantity"]) == ("CLOSED", "target", 1)
        assert h.net_position() == 0


def test_connectivity_lost_when_setup_completes_skips_it_and_sends_nothing_after_restore(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        # 1100 from the gateway once LIQ #2 is in (15:26), five bars before the setup completes;
        # 1102 (restored, data kept) as soon as the engine has skipped the setup.
        on = {EventType.SETUP_EVENT: _chain(
            _setup_event("LIQ2_DETECTED", lambda: h.gateway.send_error(1100)),
            _setup_event("SETUP_SKIPPED", lambda: h.gateway.send_error(1102)),
        )}
        h.session(AFTER_TARGET, policy=FAST_BACKOFF, on=on)
        [lost] = h.logged("CONNECTIVITY_LOST")
        assert lost["code"] == 1100
        [restored] = h.logged("CONNECTIVITY_RESTORED")
        assert restored["code"] == 1102
        [skipped] = h.logged("SETUP_SKIPPED")
        assert (skipped["setup_id"], skipped["reason"]) == (SETUP, "BROKER_NOT_READY")
        assert [row["id"] for row in h.completed_setups()] == [SETUP]
        assert h.orders() == [] and h.broker_orders() == [], "nothing sent, during 1100 or after 1102"
        assert _placed_refs(h) == []
        assert h.trades() == [] and h.net_position() == 0


def test_connectivity_lost_with_position_open_keeps_the_bracket_and_sends_no_second_one(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        fired: list[str] = []

        def lose(event: Event) -> None:
            if not fired:
                fired.append("1100")
                h.gateway.send_error(1100)

        def restore(event: Event) -> None:
            payload = event.payload
            name = payload.get("type") if isinstance(payload, dict) else payload.type.value
            if fired == ["1100"] and name == "HIGH_CONFIRMED":  # 15:38, while the position is open
                fired.append("1101")
                h.gateway.send_error(1101)

        h.session(AFTER_TARGET, policy=FAST_BACKOFF,
                  on={EventType.POSITION_OPENED: lose, EventType.SETUP_EVENT: restore})
        assert fired == ["1100", "1101"]
        assert [p["code"] for p in h.logged("CONNECTIVITY_RESTORED")] == [1101]
        restored_at = _rowid(h, "CONNECTIVITY_RESTORED")[0]
        assert any(rowid > restored_at for rowid in _rowid(h, "RECONCILED")), "reconciled after the restore"
        assert sorted(_placed_refs(h)) == sorted(BRACKET)
        assert sorted(o.order_ref for o in h.broker_orders()) == sorted(BRACKET)
        [trade] = h.trades()
        assert (trade["status"], trade["exit_reason"]) == ("CLOSED", "target")
        assert h.net_position() == 0


def test_rejected_entry_is_inactive_frees_the_risk_slot_and_is_not_resent(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        h.gateway.reject_next_order("no margin")  # the next order placed is the bracket's entry
        h.session(AFTER_TARGET)
        orders = {row["order_ref"]: row for row in h.orders()}
        assert set(orders) == BRACKET, "one bracket, never a second attempt"
        assert orders[f"slob:{SETUP}:entry"]["status"] == "INACTIVE"
        assert orders[f"slob:{SETUP}:entry"]["filled"] == 0
        assert all(row["status"] in ("INACTIVE", "CANCELLED") for row in orders.values()), orders
        rejected = [p["order_ref"] for p in h.bus_events(EventType.ORDER_REJECTED)]
        assert f"slob:{SETUP}:entry" in rejected
        assert sorted(_placed_refs(h)) == sorted(BRACKET), "nothing resent"
        assert h.store.get_state("risk_state")["open_positions"] == 0
        assert h.gateway.broker.open_orders() == [] and h.gateway.broker.executions() == []
        assert h.trades() == [] and h.net_position() == 0
        assert any(e["code"] == 201 for e in h.logged("ORDER_ERROR"))


def _rowid(h: Harness, kind: str) -> list[int]:
    return [row["seq"] for row in h.store.db.query("SELECT rowid AS seq FROM events WHERE type=? ORDER BY rowid", [kind])]


def _chain(*handlers: Any) -> Any:
    def handler(event: Event) -> None:
        for each in handlers:
            each(event)

    return handler


def test_partial_entry_fill_then_timeout_cancels_rest_and_protects_the_filled_quantity(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        # 3 % of 100 000 over 21 points x $20 sizes 7 contracts, capped at 3; one fills, the rest never does.
        h.gateway.partial_fill_next(1, hold_rest=True)
        h.session(AFTER_TARGET, risk=RiskConfig(risk_pct=0.03, max_contracts=3))
        orders = {row["order_ref"]: row for row in h.orders()}
        entry = orders[f"slob:{SETUP}:entry"]
        assert (entry["quantity"], entry["filled"], entry["status"]) == (3, 1, "CANCELLED")
        [timeout] = h.logged("ENTRY_TIMEOUT_CANCEL")
        assert (timeout["order_ref"], timeout["filled"]) == (f"slob:{SETUP}:entry", 1)
        # After the cancel every exit that can still work is sized to the one contract held.
        exits = [row for row in orders.values() if row["role"] in ("stop", "target")]
        live_or_filled = [row for row in exits if row["status"] in ("WORKING", "SENT", "FILLED")]
        assert live_or_filled and all(row["quantity"] == 1 for row in live_or_filled), exits
        cancelled_at = _rowid(h, "ENTRY_TIMEOUT_CANCEL")[0]
        after = [p["actions"] for p, rowid in zip(h.logged("RECONCILED"), _rowid(h, "RECONCILED"), strict=False) if rowid > cancelled_at]
        assert after and ({"ResizeOrder", "PlaceOrders"} & set(after[0])), "exits resized or replaced at once"
        entries_at_broker = [o for o in h.broker_orders() if o.order_ref == f"slob:{SETUP}:entry"]
        assert len(entries_at_broker) == 1, "the rest was cancelled, never re-sent"
        [trade] = h.trades()
        assert (trade["quantity"], trade["status"], trade["exit_reason"]) == (1, "CLOSED", "target")
        assert h.net_position() == 0
