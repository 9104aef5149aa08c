"""The engine end to end: the real ib_async client against the simulated gateway, planted days."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import INSTRUMENTS
from slob_cli.runtime import failpoints
from tests.conftest import eventually
from tests.e2e.harness import UTC, start_harness


def _setup_row(store: Store, setup_id: str) -> dict[str, Any]:
    return next(iter(store.db.query("SELECT * FROM setups WHERE id=?", [setup_id])))


@pytest.mark.parametrize("scenario, direction, entry_action, exit_action", [
    ("short_setup", "SHORT", "SELL", "BUY"),
    ("long_setup", "LONG", "BUY", "SELL"),
])
def test_planted_day_sends_exactly_one_bracket_with_spec_prices(
        tmp_path: Path, scenario: str, direction: str, entry_action: str, exit_action: str) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, scenario)
        result = h.session(until=datetime(2026, 1, 6, 16, 45, tzinfo=UTC))
        completed = list(h.store.db.query("SELECT * FROM setups WHERE state='SETUP_COMPLETE'"))
        assert len(completed) == 1 and completed[0]["direction"] == direction
        setup = completed[0]
        orders = {row["order_ref"]: row for row in h.orders()}
        refs = {f"slob:{setup['id']}:{role}" for role in ("entry", "stop", "target")}
        assert set(orders) == refs, "exactly one bracket, refs derived from the setup id"
        entry, stop, target = (orders[f"slob:{setup['id']}:{role}"] for role in ("entry", "stop", "target"))
        assert (entry["action"], entry["order_type"], entry["quantity"], entry["tif"]) == (entry_action, "MKT", 1, "DAY")
        assert (stop["action"], stop["order_type"], stop["tif"]) == (exit_action, "STP", "GTC")
        assert (target["action"], target["order_type"], target["tif"]) == (exit_action, "LMT", "GTC")
        assert stop["stop_price"] == setup["stop"] and target["limit_price"] == setup["target"]
        assert stop["oca_group"] == target["oca_group"] and stop["oca_group"]
        assert stop["parent_ref"] == target["parent_ref"] == entry["order_ref"]
        # The broker saw the same three orders, once each.
        broker_refs = [o.order_ref for o in h.gateway.broker.open_orders() + h.gateway.broker.completed_orders()]
        assert sorted(broker_refs) == sorted(refs)
        # Fills stored equal the broker's executions; P&L follows from them.
        executions = h.gateway.broker.executions()
        fills = list(h.store.db.query("SELECT * FROM fills ORDER BY ts"))
        assert sorted(f["exec_id"] for f in fills) == sorted(e.exec_id for e in executions)
        trade = result.trades[0]
        assert trade["status"] == "CLOSED"
        sign = -1 if direction == "SHORT" else 1
        exit_fill = next(f for f in fills if f["order_ref"] != entry["order_ref"])
        entry_fill = next(f for f in fills if f["order_ref"] == entry["order_ref"])
        points = (exit_fill["price"] - entry_fill["price"]) * sign
        commission = sum(e.commission for e in executions)
        assert trade["pnl_points"] == pytest.approx(points)
        assert trade["pnl_money"] == pytest.approx(points * INSTRUMENTS["NQ"].multiplier - commission)
        assert h.gateway.broker.positions() == [] or all(p[2] == 0 for p in h.gateway.broker.positions())


@pytest.mark.parametrize("point", ["after_intent", "after_send", "after_entry_fill"])
def test_crash_and_restart_never_duplicates_and_leaves_position_protected(tmp_path: Path, point: str) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        failpoints.arm(point)
        with pytest.raises(BaseException) as crashed:
            h.session(until=datetime(2026, 1, 6, 16, 45, tzinfo=UTC))
        assert "SimulatedCrash" in repr(crashed.value)
        failpoints.disarm_all()
        if point == "after_intent":  # down for 20 s: the bracket is still fresh (under a candle old), so it is sent
            eventually(lambda: h.gateway.client_count == 0, timeout=30)
            h.gateway.advance_market(h.gateway.clock.now() + timedelta(seconds=20))
        restart = h.session(until=datetime(2026, 1, 6, 16, 45, tzinfo=UTC))
        broker_orders = h.gateway.broker.open_orders() + h.gateway.broker.completed_orders()
        if point == "after_intent":  # the bracket written before the crash is sent by the restart: its summary says so
            assert restart.orders == len(broker_orders) == 3, (restart.orders, broker_orders)
        entries = [o for o in broker_orders if o.order_ref.endswith(":entry")]
        assert len(entries) <= 1, "never a second entry for one setup"
        stored_entries = [o for o in h.orders() if o["role"] == "entry"]
        assert len(stored_entries) == 1
        # Whatever happened, the account ends flat or every open contract has a working stop.
        position = sum(p[2] for p in h.gateway.broker.positions())
        if position:
            stops = [o for o in h.gateway.broker.open_orders() if o.order_type == "STP"]
            assert sum(o.remaining for o in stops) >= abs(position)
