"""Row builders for operations tests: setups, setup events, orders, fills, trades, health."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.instants import instant_us
from slob_cli.adapters.store.schema import ISO_TEXT_INSTANTS
from slob_cli.core.models import Candle

START = datetime(2026, 1, 6, 14, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=24)


def insert(store: Store, table: str, **values: Any) -> None:
    """Insert one row; dict values are stored as JSON text, instants (ISO text or datetimes) as the store keeps them."""
    instants = ISO_TEXT_INSTANTS.get(table, ())
    values = {key: json.dumps(value) if isinstance(value, dict) else instant_us(value) if key in instants else value
              for key, value in values.items()}
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


def add_setup_event(store: Store, seq: int, event_type: str, bar_time: str, data: dict[str, Any],
                    setup_id: str | None = None, trading_date: str = "2026-01-06", direction: str | None = None) -> None:
    """Insert a tracker event with its data (the store keeps the data and direction beside the other columns)."""
    insert(store, "setup_events", setup_id=setup_id, symbol="NQ", trading_date=trading_date, seq=seq,
           bar_time=bar_time, type=event_type, data=data, direction=direction)


def setup_event_payload(event_type: str, bar_time: str, data: dict[str, Any], setup_id: str | None = None,
                        trading_date: str = "2026-01-06", direction: str | None = None) -> dict[str, Any]:
    """Return the whole payload (SetupEvent.to_dict()) of an event as add_setup_event stores it."""
    return {"bar_time": bar_time, "candidate_id": setup_id, "data": data, "direction": direction, "symbol": "NQ",
            "trading_date": trading_date, "type": event_type}


def record_run(store: Store, duplicate_placement: bool = False) -> int:
    """One 24 h run: a 40 s disconnect, a gap, 3 live candles, one bracketed SHORT still open."""
    run_id = store.start_run("paper", {"duration": "24"}, START)
    store.upsert_candles([Candle("NQ", START + timedelta(minutes=m), 10, 11, 9, 10, 5, 5, dropped_ticks=m)
                          for m in range(3)])
    store.upsert_candles([Candle("NQ", START - timedelta(minutes=5), 10, 11, 9, 10, 5, 5)])  # before the run
    store.log_event("DISCONNECTED", START + timedelta(hours=2), {"code": 1100}, run_id=run_id)
    store.log_event("RECONNECTED", START + timedelta(hours=2, seconds=40), {}, run_id=run_id)
    store.log_event("GAP_DETECTED", START + timedelta(hours=3), {"minutes": 4}, run_id=run_id, symbol="NQ")
    store.log_event("DISCONNECTED", START + timedelta(hours=9), {}, run_id=run_id + 1)  # another run
    add_setup(store, "s1", "SETUP_COMPLETE", trading_date="2026-01-06")
    add_setup(store, "s0", "INVALIDATED", trading_date="2026-01-06")
    add_setup(store, "old", "INVALIDATED", trading_date="2025-12-01")
    for role in ("entry", "stop", "target"):
        add_order(store, f"slob:s1:{role}", role, "Filled" if role == "entry" else "Submitted", "s1",
                  run_id=run_id, sent_at="2026-01-06T15:10:00Z")
        store.log_event("ORDER_PLACED", START + timedelta(hours=1, minutes=10), {"order_ref": f"slob:s1:{role}"},
                        run_id=run_id)
    if duplicate_placement:
        store.log_event("ORDER_PLACED", START + timedelta(hours=5), {"order_ref": "slob:s1:entry"}, run_id=run_id)
    insert(store, "fills", exec_id="e1", order_ref="slob:s1:entry", side="SLD", quantity=1.0, price=25449.5,
           ts="2026-01-06T15:10:01Z")
    add_trade(store, "s1", entry_estimate=25450.0, entry_time="2026-01-06T15:10:01Z", entry_price=25449.5)
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"high": 2.0, "low": 1.0})
    add_setup_event(store, 2, "SETUP_COMPLETE", "2026-01-06T15:09:00Z", {"sl": 25470.0}, setup_id="s1")
    add_setup_event(store, 3, "LIQ1_DETECTED", "2026-01-05T15:09:00Z", {}, setup_id="x",
                    trading_date="2026-01-05")  # a day before the run
    add_setup_event(store, 1, "LIQ1_DETECTED", "2026-01-07T15:00:00Z", {}, setup_id="y",
                    trading_date="2026-01-07")  # the run's second day, after the run ended
    store.end_run(run_id, 0, END, stats={"candles_generated": 3, "candles_received": 3}, data_mode="live")
    return run_id
