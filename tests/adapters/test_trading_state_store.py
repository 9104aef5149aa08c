"""Risk state and order intents survive a real SQLite store (state and orders tables of schema v1)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.core.broker_view import OrderStatus, StoredOrder
from slob_cli.core.models import Direction
from slob_cli.core.orders import build_bracket
from slob_cli.core.risk import RiskConfig, RiskManager, RiskState, Skipped, SkipReason, TradeRequest, record_close
from tests.opsdata import insert
from tests.sqlfile import sql_file

NOW = datetime(2026, 1, 6, 15, 32, tzinfo=timezone.utc)


def test_drawdown_halt_persists_across_store_reopen(db_path: Path) -> None:
    config = RiskConfig()
    state = record_close(RiskState.initial(100_000.0, date(2026, 1, 6)), -26_000.0, config)
    with Store.open(db_path) as store:
        store.put_state("risk", state.to_dict(), NOW)
    with Store.open(db_path) as store:
        restored = RiskState.from_dict(store.get_state("risk"))
    assert restored == state and restored.halted
    request = TradeRequest("NQ-20260107-S1", "NQ", Direction.SHORT, date(2026, 1, 7), 25_572.0, 25_593.0, 25_501.0)
    decision = RiskManager(config).evaluate(request, restored, False)
    assert isinstance(decision, Skipped) and decision.reason is SkipReason.DRAWDOWN_STOP
    assert json.loads(json.dumps(decision.to_event_data()))["reason"] == "DRAWDOWN_STOP"


def test_stored_order_round_trips_through_the_orders_table(store: Store) -> None:
    bracket = build_bracket("NQ-20260106-S1", Direction.SHORT, "NQ", 2, 25_572.0, 25_593.0, 25_501.0)
    rows = [StoredOrder(intent, OrderStatus.INTENT).to_row() for intent in bracket.orders]
    for row in rows:
        insert(store, "orders", **{**row, "created_at": "2026-01-06T15:32:00Z"})
    with sql_file(store.path) as conn:
        conn.row_factory = sqlite3.Row
        read = [dict(r) for r in conn.execute("SELECT * FROM orders ORDER BY rowid")]
    restored = [StoredOrder.from_row(r, NOW) for r in read]
    assert [s.intent.order_ref for s in restored] == [i.order_ref for i in bracket.orders]
    for original, back in zip(bracket.orders, restored, strict=False):
        # transmit is a sending detail and is not stored; every other field comes back.
        assert back.intent == replace(original, transmit=True)
        assert back.status is OrderStatus.INTENT and back.created_at == NOW
