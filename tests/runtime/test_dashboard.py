"""Dashboard snapshot and frame: the forming candle from ticks, levels, status line, tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from rich.console import Console

from slob_cli.adapters.store import Store, to_iso
from slob_cli.core.models import Candle, Tick
from slob_cli.runtime.dashboard import Bar, DashboardSnapshot, read_snapshot
from slob_cli.runtime.dashboard_view import ohlc_chart, render_frame
from tests.opsdata import add_health, add_order, add_setup, add_setup_event

UTC = timezone.utc
NOW = datetime(2026, 1, 6, 15, 2, 30, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Stockholm")


def text_of(renderable: object) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_chart_draws_bodies_wicks_and_level_rows() -> None:
    bars = [Bar(NOW, 1, 4, 0, 2), Bar(NOW, 3, 3.5, 2.5, 2.8), Bar(NOW, 2, 2, 2, 2, forming=True)]
    assert ohlc_chart(bars, height=4, levels=[0.5, 9.0]).plain == "││  4.00\n│█ \n█ █\n█·· 0.00"
    assert ohlc_chart([]).plain == "no candles yet"


def test_snapshot_builds_forming_candle_from_ticks_after_last_candle(store: Store, db_path) -> None:
    store.upsert_candles([Candle("NQ", NOW.replace(second=0) - timedelta(minutes=m), 10, 12, 9, 11, 3, 3)
                          for m in (2, 1)])
    minute = NOW.replace(second=0)
    store.insert_ticks([Tick("NQ", minute + timedelta(seconds=s), p, 1)
                        for s, p in ((1, 11.0), (5, 13.5), (9, 8.25), (20, 12.0))])
    snapshot = read_snapshot(store, db_path, NOW)
    assert snapshot.symbol == "NQ"
    assert [bar.forming for bar in snapshot.bars] == [False, False, True]
    forming = snapshot.bars[-1]
    assert (forming.ts, forming.open, forming.high, forming.low, forming.close) == (minute, 11.0, 13.5, 8.25, 12.0)
    assert snapshot.last_tick_age == 10.0


def test_snapshot_without_ticks_after_last_candle_has_no_forming_bar(store: Store, db_path) -> None:
    store.insert_ticks([Tick("NQ", NOW - timedelta(minutes=1, seconds=30), 10.0, 1)])
    store.upsert_candles([Candle("NQ", NOW.replace(second=0) - timedelta(minutes=1), 10, 10, 10, 10, 1, 1)])
    snapshot = read_snapshot(store, db_path, NOW)
    assert [bar.forming for bar in snapshot.bars] == [False]


def test_snapshot_reads_health_levels_setups_and_orders(store: Store, db_path) -> None:
    add_health(store, to_iso(NOW - timedelta(seconds=4)), connected=False)
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"high": 25466.0, "low": 25410.5})
    add_setup(store, "NQ-a-SHORT-1", "WAITING_ENTRY", high=25491.0, low=25440.0)
    add_order(store, "slob:x:stop", "stop", "Submitted", "x", stop_price=25470.0, order_type="STP")
    snapshot = read_snapshot(store, db_path, NOW)
    # No session holds the lock: a stored heartbeat's "connected" is history, never shown as now.
    assert (snapshot.connected, snapshot.health_age, snapshot.data_mode) == (None, 4.0, "live")
    assert (snapshot.levels["high"], snapshot.levels["low"]) == (25466.0, 25410.5)
    assert [s["id"] for s in snapshot.open_setups] == ["NQ-a-SHORT-1"]
    assert [o["order_ref"] for o in snapshot.working_orders] == ["slob:x:stop"]
    assert snapshot.bars == () and snapshot.symbol is None


def test_frame_shows_connection_mode_chart_levels_tables_and_pnl() -> None:
    snapshot = DashboardSnapshot(
        now=NOW, db_path="slob.db", symbol="NQ", connected=False, data_mode="delayed", health_age=3.0,
        health_run_id=7, last_tick_age=75.0,
        bars=(Bar(NOW - timedelta(minutes=1), 10, 12, 9, 11), Bar(NOW, 11, 11.5, 10.5, 11.25, forming=True)),
        levels={"high": 25466.0, "low": 25410.5},
        open_setups=[{"id": "NQ-a-SHORT-1", "direction": "SHORT", "state": "WATCHING_LIQ2", "high": 25491.0,
                      "low": 25440.0, "entry_estimate": None, "stop": None, "target": None}],
        working_orders=[{"order_ref": "slob:s:stop", "role": "stop", "action": "BUY", "quantity": 2.0,
                         "limit_price": None, "stop_price": 25470.25, "status": "Submitted"}],
        positions=[], today={"trading_date": "2026-01-06", "closed_trades": 1, "pnl_points": -20.25,
                             "pnl_money": -405.0, "commission": 4.5},
        events=[{"ts": "2026-01-06T15:01:00Z", "type": "LIQ1_DETECTED", "setup_id": "s1"}],
    )
    text = text_of(render_frame(snapshot, ZONE))
    assert "no session running" in text and "gateway:" not in text and "data: delayed" in text
    assert "last tick: 1 min 15 s ago" in text and "last heartbeat (run 7): 3 s ago" in text  # no session: the last run's
    assert "forming 16:02:30: O 11.00 H 11.50 L 10.50 C 11.25" in text
    assert "reference levels: high 25,466.00  low 25,410.50" in text
    assert "WATCHING_LIQ2" in text and "25,470.25" in text
    assert "Positions: flat" in text
    assert "1 closed, -20.25 pts  $-405.00" in text
    assert "16:01:00 │ LIQ1_DETECTED │ s1" in text
    assert text == text_of(render_frame(snapshot, ZONE))  # pure: same snapshot, same frame


def test_tick_age_falls_back_to_newest_candle_end_without_ticks_or_heartbeats(store: Store, db_path) -> None:
    store.upsert_candles([Candle("NQ", NOW.replace(second=0) - timedelta(minutes=3), 10, 10, 10, 10, 1, 1)])
    assert read_snapshot(store, db_path, NOW).last_tick_age == 150.0  # candle ended 15:00:00, now 15:02:30


def test_frame_writes_a_losing_position_in_dollars_as_status_and_the_page_do() -> None:
    position = {"setup_id": "NQ-20260106-S1", "quantity": 1.0, "entry_price": 25571.75, "last_price": 25572.0,
                "unrealized_money": -7.25, "to_stop": 21.0, "to_target": 71.0}
    snapshot = DashboardSnapshot(now=NOW, db_path="slob.db", symbol="NQ", positions=[position],
                                 today={"trading_date": "2026-01-06", "closed_trades": 1, "pnl_points": -20.25,
                                        "pnl_money": -405.0, "commission": 4.5})
    text = text_of(render_frame(snapshot, ZONE))
    assert "$-7.25" in text and "$-405.00" in text  # one way on one screen: it was "-$7.25" beside "$-405.00"
    assert "-$" not in text and "(commission $4.50)" in text and "+21.00" in text and "+71.00" in text
