"""Row builders for operations tests: setups, setup events, orders, fills, trades, health."""

from __future__ import annotations

import json
from typing import Any

from slob_cli.adapters.store import Store


def insert(store: Store, table: str, **values: Any) -> None:
    """Insert one row; dict values are stored as JSON text."""
    values = {key: json.dumps(value) if isinstance(value, dict) else value for key, value in values.items()}
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    with store.transaction() as conn:
        conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))


def add_setup(store: Store, setup_id: str, state: str, trading_date: str = "2026-01-06",
              direction: str = "SHORT", **values: Any) -> None:
    """Insert a setup row."""
    insert(store, "setups", id=setup_id, symbol="NQ", trading_date=trading_date, direction=direction,
           state=state, updated_at="2026-01-06T15:00:00Z", **values)


def add_order(store: Store, order_ref: str, role: str, status: str, setup_id: str | None = None,
              **values: Any) -> None:
    """Insert an order row (defaults: NQ, 1 lot, market SELL)."""
    row = {"action": "SELL", "order_type": "MKT", "quantity": 1.0, "created_at": "2026-01-06T15:10:00Z"}
    row.update(values)
    insert(store, "orders", order_ref=order_ref, setup_id=setup_id, role=role, symbol="NQ", status=status, **row)


def add_trade(store: Store, setup_id: str, **values: Any) -> None:
    """Insert a trade row (defaults: NQ SHORT 1 lot, open)."""
    row = {"symbol": "NQ", "direction": "SHORT", "quantity": 1.0, "status": "open"}
    row.update(values)
    insert(store, "trades", setup_id=setup_id, **row)


def add_health(store: Store, ts: str, connected: bool = True, last_tick_age: float = 0.5,
               run_id: int | None = None) -> None:
    """Insert a health heartbeat."""
    insert(store, "health", run_id=run_id, ts=ts, connected=int(connected), last_tick_age=last_tick_age,
           buffer_utilization=0.01, open_orders=2, positions=1, payload={"data_mode": "live"})


def add_setup_event(store: Store, seq: int, event_type: str, bar_time: str, payload: dict[str, Any],
                    setup_id: str | None = None, trading_date: str = "2026-01-06") -> None:
    """Insert a tracker event."""
    insert(store, "setup_events", setup_id=setup_id, symbol="NQ", trading_date=trading_date, seq=seq,
           bar_time=bar_time, type=event_type, payload=payload)
