"""Read-only store views: trading date, P&L of a day, reference levels, merged events."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.views import OPEN_SETUP, working_order
from slob_cli.runtime import views
from tests.opsdata import add_order, add_setup, add_setup_event, add_trade
from tests.sqlfile import sql_rows

UTC = timezone.utc


def test_trading_date_is_the_new_york_date() -> None:
    assert views.trading_date_of(datetime(2026, 1, 7, 3, 0, tzinfo=UTC)) == date(2026, 1, 6)
    assert views.trading_date_of(datetime(2026, 1, 7, 5, 0, tzinfo=UTC)) == date(2026, 1, 7)


def test_day_pnl_without_setup_row_uses_new_york_date_of_entry(store: Store) -> None:
    add_trade(store, "late", entry_time="2026-01-07T02:00:00Z", exit_time="2026-01-07T02:30:00Z",
              pnl_points=-5.0, pnl_money=-100.0, commission=4.0, status="closed")
    add_trade(store, "open", entry_time="2026-01-06T15:00:00Z", entry_price=1.0)
    assert views.day_pnl(store, date(2026, 1, 6)) == {
        "trading_date": "2026-01-06", "closed_trades": 1, "pnl_points": -5.0, "pnl_points_text": "-5.00",
        "pnl_money": -100.0, "commission": 4.0,
        "trades": [{"setup_id": "late", "pnl_points": -5.0, "pnl_points_text": "-5.00", "gross_money": None, "commission": 4.0,
                    "pnl_money": -100.0, "pnl_money_text": "$-100.00"}],
        "pnl_money_text": "$-100.00", "commission_text": "$4.00",  # the texts the web page shows
    }
    assert views.day_pnl(store, date(2026, 1, 7))["closed_trades"] == 0


def test_reference_levels_come_from_latest_frozen_event_of_the_day(store: Store) -> None:
    assert views.reference_levels(store, date(2026, 1, 6)) is None
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"high": 25466.0, "low": 25410.5})
    add_setup_event(store, 2, "LIQ1_DETECTED", "2026-01-06T14:31:00Z", {"price": 25491.0}, setup_id="s1")
    levels = views.reference_levels(store, date(2026, 1, 6))
    assert (levels["high"], levels["low"], levels["symbol"]) == (25466.0, 25410.5, "NQ")
    assert views.reference_levels(store, date(2026, 1, 5)) is None


def test_latest_events_merges_run_and_setup_events_newest_first(store: Store) -> None:
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"high": 2.0, "low": 1.0})
    store.log_event("DISCONNECTED", datetime(2026, 1, 6, 14, 45, tzinfo=UTC), {"code": 1100})
    add_setup_event(store, 2, "LIQ1_DETECTED", "2026-01-06T15:00:00Z", {"price": 3.0}, setup_id="s1")
    events = views.latest_events(store, limit=2)
    assert [event["type"] for event in events] == ["LIQ1_DETECTED", "DISCONNECTED"]
    assert events[1]["payload"] == {"code": 1100}


def test_local_time_shows_display_zone() -> None:
    zone = ZoneInfo("Europe/Stockholm")
    assert views.local_time("2026-01-06T14:30:00Z", zone) == "2026-01-06 15:30:00"
    assert views.local_time(None, zone) == "-"


def test_reference_levels_read_the_frozen_events_data(store: Store) -> None:
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"high": 25466.0, "low": 25410.5, "bars": 390})
    levels = views.reference_levels(store, date(2026, 1, 6))
    assert (levels["high"], levels["low"]) == (25466.0, 25410.5)


def test_events_show_orders_fills_and_closed_trades_not_only_tracker_steps(store: Store) -> None:
    from tests.opsdata import add_order, insert

    add_setup_event(store, 1, "HIGH_SET", "2026-01-06T15:00:00Z", {"price": 1.0}, setup_id="S1")
    add_setup_event(store, 2, "SETUP_COMPLETE", "2026-01-06T15:01:00Z", {"entry_est": 1.0}, setup_id="S1")
    store.log_event("ORDER_PLACED", datetime(2026, 1, 6, 15, 1, 1, tzinfo=UTC), {"order_ref": "slob:S1:entry"})
    add_order(store, "slob:S1:entry", "entry", "FILLED", "S1")
    insert(store, "fills", exec_id="e1", order_ref="slob:S1:entry", side="SLD", quantity=1.0, price=25477.75,
           ts="2026-01-06T15:01:02Z")
    add_trade(store, "S1", entry_time="2026-01-06T15:01:02Z", exit_time="2026-01-06T15:20:00Z",
              pnl_money=1430.5, status="CLOSED")
    events = views.latest_events(store, 10)
    assert [(e["type"], e.get("detail")) for e in events] == [
        ("TRADE_CLOSED", "$+1,430.50 net"), ("FILL", "SELL 1 @ 25,477.75"), ("ORDER_PLACED", None),
        ("SETUP_COMPLETE", None)]  # HIGH_SET, a structure step, is left out


def test_open_setups_and_working_orders_read_their_partial_indexes(store: Store) -> None:
    # A year of finished setups and orders must not be scanned on every `slob status` / `slob web` read.
    add_setup(store, "NQ-20260105-S1", "INVALIDATED", trading_date="2026-01-05")
    add_setup(store, "NQ-20260106-S1", "WATCHING_LIQ2", trading_date="2026-01-06")
    add_order(store, "slob:a:entry", "entry", "Filled", "NQ-20260105-S1", filled=1.0)
    add_order(store, "slob:b:stop", "stop", "Submitted", "NQ-20260106-S1")
    assert [s["id"] for s in views.open_setups(store)] == ["NQ-20260106-S1"]
    assert [o["order_ref"] for o in views.working_orders(store)] == ["slob:b:stop"]
    for sql, index in ((f"SELECT id FROM setups WHERE {OPEN_SETUP} ORDER BY trading_date, id", "setups_open"),
                       (f"SELECT order_ref FROM orders WHERE {working_order()} ORDER BY created_at",
                        "orders_working")):
        plan = " ".join(row[3] for row in sql_rows(store.path, "EXPLAIN QUERY PLAN " + sql))
        assert f"USING INDEX {index}" in plan, plan


def test_store_memo_answers_from_memory_until_another_connection_commits(store: Store) -> None:
    memo, computed = views.StoreMemo(), []
    with Store.open(store.path, readonly=True) as reader:

        def open_ids() -> list[str]:
            computed.append(1)
            return [s["id"] for s in views.open_setups(reader)]

        assert memo.reader(reader, None)("open", open_ids) == []
        assert memo.reader(reader, None)("open", open_ids) == []
        assert len(computed) == 1  # unchanged store: the kept answer
        add_setup(store, "NQ-20260106-S1", "WATCHING_LIQ2")
        assert memo.reader(reader, None)("open", open_ids) == ["NQ-20260106-S1"]
        assert len(computed) == 2
