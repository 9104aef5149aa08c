"""One wording of every age: `/api/header` carries the text of each age the page shows, and it is the text
`slob status`, `slob status --check` and `slob dashboard --once` print for the same store.

The page used to word ages itself (a JavaScript copy of views.human_age), so it could round or word an age
otherwise than the terminal; now it shows the texts the server made with the terminal's own functions.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.core.models import Candle, Tick
from slob_cli.runtime.lock import acquire, lock_path_for
from slob_cli.web.app import create_app
from tests.conftest import eventually
from tests.opsdata import add_health
from tests.web.test_one_header import _get

UTC = timezone.utc
SIM_END = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)  # the sim run's clock when it ended
WIDE = {"COLUMNS": "200"}


def _ended_sim_run(store: Store) -> int:
    """A `run --sim` that ended at SIM_END: its last NQ trade 2 h 5 min 5 s before, its last heartbeat 75 s before."""
    run_id = store.start_run("run", {"sim": True, "sim_clock": True}, SIM_END - timedelta(hours=6))
    minute = SIM_END - timedelta(hours=2, minutes=6)
    store.upsert_candles([Candle("NQ", minute, 25470.0, 25471.0, 25469.0, 25470.5, 3, 3)])
    store.insert_ticks([Tick("NQ", SIM_END - timedelta(hours=2, minutes=5, seconds=5), 25470.5, 1)], run_id=run_id)
    store.insert_ticks([Tick("MNQ", SIM_END, 25471.0, 1)], run_id=run_id)  # its clock's newest instant
    add_health(store, to_iso(SIM_END - timedelta(seconds=75)), connected=True, run_id=run_id)
    store.end_run(run_id, 0, SIM_END, data_mode="sim")
    return run_id


def _surfaces(runner: CliRunner, db_path: Path, reader: Store) -> dict[str, Any]:
    """Read every surface once: /api/header's ages, the status table, `status --check`, one dashboard frame."""
    asgi = create_app(reader, db_path, "Europe/Stockholm", None, db_path)
    header = _get(asgi, "/api/header")
    table = runner.invoke(app, ["--db", str(db_path), "status"], env=WIDE).stdout
    check = runner.invoke(app, ["--db", str(db_path), "status", "--check"], env=WIDE).stdout
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env=WIDE).stdout
    return {"ages": header["ages"], "table": " ".join(table.split()), "check": check.strip(),
            "frame": " ".join(frame.split())}


def test_the_pages_ages_are_the_texts_status_and_dashboard_print(runner: CliRunner, db_path: Path,
                                                                 store: Store) -> None:
    run_id = _ended_sim_run(store)
    with Store.open(db_path, readonly=True) as reader:
        seen = _surfaces(runner, db_path, reader)
    ages, table, frame = seen["ages"], seen["table"], seen["frame"]
    # Read on the ended sim run's own clock: nothing moves between the reads.
    assert ages == {"last_tick": "2 h 5 min ago", "heartbeat": ages["heartbeat"], "alive": None, "started": None}, ages
    assert ages["heartbeat"].startswith("1 min 15 s ago on the "), ages
    assert f"last tick: {ages['last_tick']}" in frame, frame
    assert f"last heartbeat (run {run_id}): {ages['heartbeat']}" in frame, frame
    assert f"Last health of run {run_id} at " in table and f"({ages['heartbeat']}): no session running" in table, table


def test_a_new_sessions_alive_and_started_ages_read_alike_on_the_page_status_check_and_dashboard(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    """A session that has just taken the lock and written no heartbeat yet, its last pulse put 30 s back."""
    _ended_sim_run(store)
    wall = datetime.now(UTC)
    with acquire(db_path, "run", pulses=True), \
            Store.open(db_path, readonly=True) as reader:
        pulsed = (wall - timedelta(seconds=30)).timestamp()
        os.utime(lock_path_for(db_path), (pulsed, pulsed))
        readings: list[dict[str, Any]] = []

        def alike() -> bool:
            # Real time moves between the reads: read again until all fall within one whole second.
            seen = _surfaces(runner, db_path, reader)
            readings.append(seen)
            ages = seen["ages"]
            return ages["alive"] is not None and ages["started"] is not None and all((
                f"Alive: {ages['alive']} (real time, its lock pulse; limit 1 min)" in seen["table"],
                f"Health: no heartbeat yet, started {ages['started']}" in seen["table"],
                f", alive {ages['alive']} (real time), no heartbeat yet, started {ages['started']}" in seen["check"],
                f"alive: {ages['alive']} (real time)" in seen["frame"],
                f"no heartbeat yet, started {ages['started']}" in seen["frame"]))

        try:
            eventually(alike, timeout=30, interval=0.05)
        except AssertionError:
            raise AssertionError(readings[-1]) from None
    ages = readings[-1]["ages"]
    assert ages["started"].endswith(" s ago") and ages["alive"] in ("30 s ago", "31 s ago", "32 s ago"), ages
    assert ages["heartbeat"] is None and ages["last_tick"] is None, ages  # none of its own yet, never the ended run's
