"""Validation data gathered from a store file, the report it gives, and its Markdown/JSON files."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.validation import Outage, evaluate
from slob_cli.errors import InputError
from slob_cli.runtime.validation_data import event_key, gather
from slob_cli.runtime.validation_report import default_report_base, to_markdown, to_table, write_report
from tests.opsdata import END, START, record_run, setup_event_payload

UTC = timezone.utc


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
    offline = [event_key(None, "LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z",
                         setup_event_payload("LSE_LEVELS_FROZEN", "2026-01-06T14:30:00Z", {"low": 1.0, "high": 2.0})),
               event_key("s1", "SETUP_COMPLETE", "2026-01-06T15:09:00Z", json.dumps(
                   setup_event_payload("SETUP_COMPLETE", "2026-01-06T15:09:00Z", {"sl": 25470.0}, "s1")))]
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


def test_recorder_event_names_and_unrecovered_feed_gaps_are_understood(store: Store) -> None:
    run_id = store.start_run("paper", {}, START)
    store.log_event("IB_DISCONNECTED", START + timedelta(hours=1), {"at": "x"}, run_id=run_id)
    store.log_event("IB_RECONNECTED", START + timedelta(hours=1, minutes=2), {"client_id": 1}, run_id=run_id)
    # A feed outage the recorder backfilled whole is no gap; only what it could not recover is.
    store.log_event("FEED_RESUMED", START + timedelta(hours=1, minutes=2),
                    {"symbol": "NQ", "last_before": "2026-01-06T14:59:00+00:00", "seconds": 180.0}, run_id=run_id)
    store.log_event("DATA_GAP", START + timedelta(hours=1, minutes=2),
                    {"symbol": "NQ", "start": "2026-01-06T15:00:00+00:00", "end": "2026-01-06T15:02:30+00:00",
                     "seconds": 150.0}, run_id=run_id)
    store.log_event("IB_DISCONNECTED", START + timedelta(hours=5), {}, run_id=run_id)
    store.end_run(run_id, 0, END, stats={"dropped": 7})
    data = gather(store, run_id, 24 * 3600, END)
    assert data.outages == [Outage(START + timedelta(hours=1), START + timedelta(hours=1, minutes=2)),
                            Outage(START + timedelta(hours=5), None)]
    assert data.reconnects == 1 and data.dropped_ticks == 7
    assert [(g.symbol, g.start, g.minutes) for g in data.gaps] == [("NQ", START + timedelta(hours=1), 2)]
    assert "connection recovered" in [c.name for c in evaluate(data).failures()]


def test_offline_records_written_by_setup_repository_match_live_keys(store: Store) -> None:
    from datetime import date

    from slob_cli.adapters.store.setups import SetupRepository, StoredEvent
    from slob_cli.runtime.validation_data import event_keys_of

    run_id = store.start_run("paper", {}, START)
    def stored(seq: int, minutes: int, kind: str, setup_id: str | None, data: dict[str, float]) -> StoredEvent:
        bar = START + timedelta(minutes=minutes)
        return StoredEvent("NQ", date(2026, 1, 6), seq, bar, kind, setup_id, setup_event_payload(
            kind, bar.strftime("%Y-%m-%dT%H:%M:%SZ"), data, setup_id, direction=None if setup_id is None else "SHORT"))

    records = [stored(1, 30, "LSE_LEVELS_FROZEN", None, {"high": 25466.0, "low": 25410.5}),
               stored(2, 31, "LIQ1_DETECTED", "s1", {"price": 25491.25})]
    SetupRepository(store).sync_day("NQ", date(2026, 1, 6), records, [], START, replace_divergent=False)
    store.end_run(run_id, 0, END)
    same = evaluate(gather(store, run_id, 24 * 3600, END, offline_events=event_keys_of(records)))
    assert {c.name: c.passed for c in same.criteria}["no look-ahead"] is True
    moved = [records[0], stored(2, 32, "LIQ1_DETECTED", "s1", {"price": 25491.25})]
    differs = evaluate(gather(store, run_id, 24 * 3600, END, offline_events=event_keys_of(moved)))
    (failed,) = [c for c in differs.failures() if c.name == "no look-ahead"]
    assert "differ from event 2" in failed.detail


def test_live_engine_counters_override_the_run_row(store: Store) -> None:
    run_id = record_run(store)
    data = gather(store, run_id, 24 * 3600, END, crashed=False,
                  stats={"candles": 5, "dropped_ticks": 0, "data_mode": "delayed"})
    assert (data.candles_generated, data.candles_persisted, data.dropped_ticks) == (5, 3, 0)
    assert data.delayed_data is True
    assert "candles persisted" in [c.name for c in evaluate(data).failures()]


def test_an_ib_connectivity_loss_1100_is_an_outage_until_1101_or_1102(store: Store) -> None:
    # The names the IB connection logs (adapters/ib/connection.py): 1100 -> CONNECTIVITY_LOST,
    # 1101/1102 -> CONNECTIVITY_RESTORED. No orders and no data in between: an outage like a dropped socket.
    run_id = store.start_run("paper", {}, START)
    store.log_event("CONNECTIVITY_LOST", START + timedelta(hours=1), {"code": 1100, "text": "lost"}, run_id=run_id)
    store.log_event("CONNECTIVITY_RESTORED", START + timedelta(hours=1, minutes=20), {"code": 1101, "data_lost": True},
                    run_id=run_id)
    store.log_event("CONNECTIVITY_LOST", START + timedelta(hours=5), {"code": 1100, "text": "lost"}, run_id=run_id)
    store.end_run(run_id, 0, END, stats={})
    data = gather(store, run_id, 24 * 3600, END)
    assert data.outages == [Outage(START + timedelta(hours=1), START + timedelta(hours=1, minutes=20)),
                            Outage(START + timedelta(hours=5), None)]
    assert data.reconnects == 0, "the socket stayed up: no reconnect, as the run's own counter says"
    assert data.restores == 1
    report = evaluate(data)
    failed = [c.name for c in report.failures()]
    assert "connection recovered" in failed  # 20 minutes without IB, and still without it at the end
    # The line adds up: two disconnects, neither a reconnect, one restored by IB.
    [stable] = [c for c in report.criteria if c.name == "connection stable"]
    assert "2 disconnects" in stable.detail and "0 reconnects, 1 restored by IB (1101/1102)" in stable.detail


@pytest.mark.parametrize(("args", "clock", "label"), [({"sim": True}, "sim", True), ({"sim_clock": True}, "sim", True),
                                                      ({"sim_clock": False}, "wall", False)])
def test_a_runs_outage_and_duration_name_the_clock_they_are_measured_on(
        store: Store, args: dict[str, bool], clock: str, label: bool) -> None:
    run_id = store.start_run("paper", args, START)
    store.log_event("IB_DISCONNECTED", START + timedelta(hours=1), {}, run_id=run_id)
    store.log_event("IB_RECONNECTED", START + timedelta(hours=1, seconds=403), {"client_id": 1}, run_id=run_id)
    store.end_run(run_id, 0, END, data_mode="sim")  # a sim-gateway's market, on whichever clock
    report = evaluate(gather(store, run_id, 24 * 3600, END))
    details = {c.name: c.detail for c in report.criteria}
    assert report.figures["longest_outage_seconds"] == 403.0 and report.figures["clock"] == clock
    on_sim = " on the simulated clock"
    assert ("longest outage 403s" + on_sim in details["connection recovered"]) is label, details
    assert ("none for 403s" + on_sim in details["live market data"]) is label, details
    assert details["duration reached"].endswith(on_sim) is label, details
