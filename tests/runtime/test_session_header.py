"""One header for status, dashboard and web: the same whole seconds of one heartbeat and one tick.

The heartbeat's age was rounded to a tenth of a second for `status` and the page, then to whole
seconds when shown; the dashboard showed whole seconds of the unrounded age. Read 7.46 s after a
heartbeat, `status` and the page said 8 s (7.5 to the even neighbour) and the dashboard 7 s; a tick
5.46 s old was 6 s on the page and 5 s on the dashboard. Each age is now rounded once, where it is read.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.cli.status_render import render_status
from slob_cli.core.models import Tick
from slob_cli.runtime import web_views
from slob_cli.runtime.dashboard import read_snapshot
from slob_cli.runtime.dashboard_view import render_frame
from slob_cli.runtime.status import collect_status, read_header
from slob_cli.runtime.views import human_age
from tests.runtime.test_dashboard import NOW, ZONE, text_of


def _ended_record_run(store: Store) -> int:
    """An ended `record` run: its final heartbeat 7.46 s before NOW, its last tick 5.46 s before NOW."""
    run_id = store.start_run("record", {}, NOW - timedelta(hours=1))
    store.insert_ticks([Tick("NQ", NOW - timedelta(seconds=5.46), 25_000.0, 1)], run_id=run_id)
    store.record_health(run_id, NOW - timedelta(seconds=7.46), {
        "connected": True, "last_tick_age": 2.0, "buffer_utilization": 0.0, "open_orders": None, "positions": None})
    store.end_run(run_id, 0, NOW - timedelta(seconds=7))
    return run_id


def test_status_dashboard_and_page_show_the_same_whole_seconds_of_a_heartbeat_and_a_tick(
        store: Store, db_path: Path) -> None:
    run_id = _ended_record_run(store)
    report = collect_status(store, db_path, NOW)
    header = web_views.header(store, db_path, NOW, "NQ")
    frame = text_of(render_frame(read_snapshot(store, db_path, NOW, "NQ"), ZONE))
    table = text_of(render_status(report, ZONE))

    assert report.health_age_seconds == header["heartbeat_age_seconds"] == 7.5
    heartbeat = human_age(report.health_age_seconds)  # "8 s": what status and the page show
    assert f"Last health of run {run_id} at 16:02:22 ({heartbeat} ago)" in table, table
    assert f"last heartbeat (run {run_id}): {heartbeat} ago" in frame, frame

    assert header["last_tick_age_seconds"] == 5.5
    assert f"last tick: {human_age(header['last_tick_age_seconds'])} ago" in frame, frame


def test_one_header_reading_serves_status_dashboard_and_page(store: Store, db_path: Path) -> None:
    run_id = _ended_record_run(store)
    read = read_header(store, db_path, NOW)
    assert (read.running, read.connected, read.health_age, read.beat.run_id) == (None, None, 7.5, run_id)
    report = collect_status(store, db_path, NOW)
    snapshot = read_snapshot(store, db_path, NOW, "NQ")
    header = web_views.header(store, db_path, NOW, "NQ")
    assert report.liveness == snapshot.liveness == read.liveness
    assert header["liveness"] == read.liveness.to_dict()
    assert (report.health_age_seconds, snapshot.health_age, header["heartbeat_age_seconds"]) == (7.5, 7.5, 7.5)
    assert report.clock == header["clock"] == read.clock.to_dict() == snapshot.clock.to_dict()  # type: ignore[union-attr]
