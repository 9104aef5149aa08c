"""Validation data gathered from a store file, the report it gives, and its Markdown/JSON files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle
from slob_cli.core.validation import Outage, evaluate
from slob_cli.errors import InputError
from slob_cli.runtime.validation_data import event_key, gather
from slob_cli.runtime.validation_report import default_report_base, to_markdown, to_table, write_report
from tests.opsdata import add_order, add_setup, add_setup_event, add_trade, insert

UTC = timezone.utc
START = datetime(2026, 1, 6, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=24)


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
    add_setup_event(store, 3, "LIQ1_DETECTED", "2026-01-05T15:09:00Z", {}, setup_id="x")  # before the run
    store.end_run(run_id, 0, END, stats={"candles_generated": 3, "candles_received": 3}, data_mode="live")
    return run_id


def test_gather_reads_connection_candles_orders_and_events_of_the_run(store: Store) -> None:
    run_id = record_run(store)
    data = gather(store, run_id, 24 * 3600, END + timedelta(hours=1))
    assert (data.actual_seconds, data.crashed) == (24 * 3600, False)
    assert data.outages == [Outage(START + timedelta(hours=2), START + timedelta(hours=2, seconds=40))]
    assert data.reconnects == 1 and data.safe_mode_entries == 0
    assert (data.candles_received, data.candles_generated, data.candles_persisted) == (3, 3, 3)
    assert data.dropped_ticks == 0 + 1 + 2
    assert [(g.symbol, g.minutes) for g in data.gaps] == [("NQ", 4)]
    assert [(o.order_ref, o.placed) for o in data.orders] == [
        ("slob:s1:entry", 1), ("slob:s1:stop", 1), ("slob:s1:target", 1)]
    assert [f.price for f in data.fills] == [25449.5]
    assert [(t.setup_id, t.open) for t in data.trades] == [("s1", True)]
    assert data.setups_by_state == {"SETUP_COMPLETE": 1, "INVALIDATED": 1}
    assert [key[1] for key in data.live_events] == ["LSE_LEVELS_FROZEN", "SETUP_COMPLETE"]
    assert data.delayed_data is False


def test_report_from_store_passes_errors_and_warns_on_gap_outage_drops(store: Store) -> None:
    run_id = record_run(store)
    offline = [event_key(None, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"low": 1.0, "high": 2.0}),
               event_key("s1", "SETUP_COMPLETE", "2026-01-06T15:09:00Z", '{"sl": 25470.0}')]
    report = evaluate(gather(store, run_id, 24 * 3600, END, offline_events=offline))
    assert report.passed()
    assert [c.name for c in report.failures(strict=True)] == ["connection stable", "no gaps", "no dropped ticks"]
    assert report.figures["entry_slippage_points"]["worst"] == 0.5


def test_order_ref_placed_twice_in_store_fails_duplicate_rule(store: Store) -> None:
    run_id = record_run(store, duplicate_placement=True)
    report = evaluate(gather(store, run_id, 24 * 3600, END))
    assert [c.name for c in report.failures()] == ["no duplicate orders"]


def test_run_without_end_record_counts_as_crash_and_short(store: Store) -> None:
    run_id = store.start_run("paper", {}, START)
    report = evaluate(gather(store, run_id, 24 * 3600, START + timedelta(hours=2)))
    names = [c.name for c in report.failures()]
    assert names[:2] == ["no crash", "duration reached"] and "candles received" in names


def test_unknown_run_is_an_input_error(store: Store) -> None:
    with pytest.raises(InputError, match="run 99 is not in the store"):
        gather(store, 99, 3600, END)


def test_report_files_written_as_markdown_and_json(store: Store, tmp_path: Path) -> None:
    run_id = record_run(store)
    report = evaluate(gather(store, run_id, 24 * 3600, END))
    base = default_report_base(tmp_path / "slob.db", run_id)
    markdown, json_path = write_report(report, base, strict=True, meta={"run": run_id})
    assert markdown.name == f"slob-paper-run{run_id}.md"
    data = json.loads(json_path.read_text())
    assert data["passed"] is False and data["strict"] is True and data["meta"] == {"run": run_id}
    assert {c["name"]: c["passed"] for c in data["criteria"]}["no look-ahead"] is False
    text = markdown.read_text()
    assert "**Verdict: FAILED: connection stable, no gaps, no dropped ticks, no look-ahead** (strict)" in text
    assert "| PASS | no duplicate orders | error |" in text
    assert "| WARN | no look-ahead | warning | offline replay not available; not checked |" in text
    assert "| candles.persisted | 3 |" in text
    assert to_markdown(report).startswith("# slob paper validation\n\n**Verdict: PASSED**")
    assert to_table(report).row_count == len(report.criteria)
