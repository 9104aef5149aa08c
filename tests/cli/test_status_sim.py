"""status and dashboard know whose clock they show: an ended (Ctrl-C'd) sim run is not live."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.core.models import Tick
from slob_cli.runtime.views import human_age
from tests.opsdata import add_health, add_order, add_setup, add_trade

UTC = timezone.utc
SIM_NOW = datetime(2026, 1, 6, 15, 40, tzinfo=UTC)  # the sim's virtual clock when it was stopped


def _interrupted_sim_run(store: Store, command: str = "run", args: dict | None = None) -> None:
    """A `run --sim` stopped by Ctrl-C with a position open and its stop and target working."""
    run_id = store.start_run(command, {"sim": True} if args is None else args, SIM_NOW - timedelta(hours=8))
    add_setup(store, "NQ-20260106-S1", "SETUP_COMPLETE", entry_estimate=25478.0, stop=25490.0, target=25406.0)
    add_order(store, "slob:NQ-20260106-S1:entry", "entry", "FILLED", "NQ-20260106-S1", run_id=run_id)
    for role, kind, price in (("stop", "STP", {"stop_price": 25490.0}), ("target", "LMT", {"limit_price": 25406.0})):
        add_order(store, f"slob:NQ-20260106-S1:{role}", role, "WORKING", "NQ-20260106-S1", action="BUY",
                  order_type=kind, run_id=run_id, **price)
    add_trade(store, "NQ-20260106-S1", entry_time=to_iso(SIM_NOW - timedelta(minutes=9)), entry_price=25477.75,
              entry_commission=2.25, status="OPEN")
    store.insert_ticks([Tick("NQ", SIM_NOW - timedelta(seconds=3), 25470.0, 1)], run_id=run_id)
    add_health(store, to_iso(SIM_NOW - timedelta(seconds=5)), connected=True, run_id=run_id)
    store.end_run(run_id, 0, SIM_NOW, data_mode="sim")  # on its clock, a moment after its last tick and heartbeat


def test_status_after_an_interrupted_sim_reads_the_sims_clock_and_marks_its_book_ended(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    _interrupted_sim_run(store)
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert {k: v for k, v in data["clock"].items() if k != "now"} == {"simulated": True, "run_id": 1, "run_ended": True,
                                                                      "label": "simulated clock of sim run 1 (ended)"}
    assert data["now"] == "2026-01-06T15:40:00Z" and data["today"]["trading_date"] == "2026-01-06"  # its end
    assert data["health_age_seconds"] == 5.0  # by the sim's clock, not 28,711,767 s of wall clock
    assert data["connected"] is None  # no session runs: nothing claims "connected"
    assert {o["order_ref"]: o["ended_sim_run"] for o in data["working_orders"]} == {
        "slob:NQ-20260106-S1:stop": True, "slob:NQ-20260106-S1:target": True}
    [position] = data["positions"]
    assert position["ended_sim_run"] is True and position["last_price"] == 25470.0
    assert (position["unrealized_points"], position["unrealized_money"]) == (7.75, 152.75)  # after entry commission
    assert (position["to_stop"], position["to_target"]) == (20.0, 64.0)

    text = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "Europe/Stockholm on the simulated clock of sim run 1 (ended)" in " ".join(text.split())
    assert text.count("Europe/Stockholm") == 1
    assert "connected" not in text.replace("no session running", "") and "ended sim" in text
    assert "(5 s ago on the simulated clock of sim run 1 (ended))" in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.parametrize("folder", ["", "a-folder-name-long-enough-that-the-store-path-alone-is-wider-than-80-columns"])
def test_dashboard_after_an_interrupted_sim_is_marked_simulated_and_not_connected(
        runner: CliRunner, tmp_path: Path, folder: str) -> None:
    db_path = tmp_path / folder / "test.db"  # the frame's title names the store: a long path folds, widens nothing
    db_path.parent.mkdir(exist_ok=True)
    with Store.open(db_path) as store:
        _interrupted_sim_run(store)
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
    assert "on the simulated clock of sim run 1 (ended)" in " ".join(frame.split()) and "data: sim" in frame
    assert "gateway: connected" not in frame  # the last run's heartbeat, named so:
    assert "last heartbeat (run 1): 5 s ago on the simulated clock of sim run 1 (ended)" in " ".join(frame.split())
    assert "NQ-20260106-S1*" in frame and "ended sim run" in frame and "$+152.75" in frame
    assert max(len(line) for line in frame.splitlines()) <= 80
    assert frame.count("Europe/Stockholm") == 1


def test_ages_read_as_people_say_them() -> None:
    assert [human_age(s) for s in (3, 75, 7500, 41 * 86400, None)] == ["3 s", "1 min 15 s", "2 h 5 min", "41 days", "-"]


def test_a_sim_run_whose_process_died_is_shown_as_died_not_running(runner: CliRunner, db_path: Path,
                                                                    store: Store) -> None:
    """A killed run never wrote its end: with its process holding no lock, nothing says it is running."""
    from slob_cli.runtime.lock import acquire

    _interrupted_sim_run(store)
    died = store.start_run("run", {"sim": True}, SIM_NOW)
    store.set_run_mode(died, "sim")
    add_health(store, to_iso(SIM_NOW + timedelta(minutes=5)), connected=True, run_id=died)
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert data["running"] is None and [run["state"] for run in data["runs"]] == ["died", "ended"]
    assert data["clock"]["run_id"] == died and data["clock"]["run_ended"] is True
    text = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "died" in text and "running" not in text.replace("no session running", "")
    # Its embedded gateway died with it: an order it left working is no live order.
    add_order(store, "slob:NQ-20260106-L1:stop", "stop", "WORKING", "NQ-20260106-L1", action="SELL",
              order_type="STP", run_id=died, stop_price=25400.0)
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert {o["order_ref"]: o["ended_sim_run"] for o in data["working_orders"]}["slob:NQ-20260106-L1:stop"] is True
    with acquire(db_path, "run"):  # this process holds the lock: its run is running
        data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
        assert [run["state"] for run in data["runs"]] == ["running", "ended"]
        assert data["clock"]["run_ended"] is False
        assert {o["order_ref"]: o["ended_sim_run"] for o in data["working_orders"]}["slob:NQ-20260106-L1:stop"] is False


def test_the_clock_of_a_sim_run_that_died_is_named_died_as_its_row_is(runner: CliRunner, db_path: Path,
                                                                     store: Store) -> None:
    """A `run --sim` killed with -9 was `died` in the runs table and JSON, and `(ended)` in the clock's name on
    every screen (status, --check's ages, dashboard, /api/header): two states for one run."""
    _interrupted_sim_run(store)
    died = store.start_run("run", {"sim": True, "sim_clock": True}, SIM_NOW)
    store.set_run_mode(died, "sim")
    add_health(store, to_iso(SIM_NOW + timedelta(minutes=5)), connected=True, run_id=died)
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert data["runs"][0]["state"] == "died" and data["clock"]["run_ended"] is True
    assert data["clock"]["label"] == f"simulated clock of sim run {died} (died)"
    text = " ".join(runner.invoke(app, ["--db", str(db_path), "status"]).stdout.split())
    assert f"on the simulated clock of sim run {died} (died)" in text and "(ended)" not in text
    frame = " ".join(runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout.split())
    assert f"on the simulated clock of sim run {died} (died)" in frame and "(ended)" not in frame


def test_a_trade_stopped_against_slob_sim_gateway_leaves_its_book_at_that_gateway_not_ended(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    # `trade --follow-sim-clock` against a `slob sim-gateway` that still runs: the stop and target work there
    # and the position is held there; status said "of an ended sim run: its gateway is gone".
    _interrupted_sim_run(store, "trade", {"sim": False, "sim_clock": True})
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert [order["ended_sim_run"] for order in data["working_orders"]] == [False, False]
    assert [position["ended_sim_run"] for position in data["positions"]] == [False]
    text = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "gateway is gone" not in text and "ended sim" not in text and "NQ-20260106-S1*" not in text


def test_the_running_sessions_start_names_its_clock_beside_a_simulated_now(runner: CliRunner, db_path: Path,
                                                                           store: Store) -> None:
    """"Running: ... since <wall time>" beside a SIMULATED "Now" read as one clock: each time names its own."""
    from slob_cli.runtime.lock import acquire

    _interrupted_sim_run(store)
    died = store.start_run("run", {"sim": True}, SIM_NOW)
    store.set_run_mode(died, "sim")
    with acquire(db_path, "run"):
        text = runner.invoke(app, ["--db", str(db_path), "status"]).stdout
    running = next(line for line in text.splitlines() if line.startswith("Running:"))
    assert "on the simulated clock of sim run 2 (running)" in " ".join(text.split()) and running.endswith("on the wall clock)"), running
    _, rest = running.split("since ", 1)
    assert rest.startswith(datetime.now(UTC).astimezone(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m-%d")), running
    wall = db_path.with_name("wall.db")
    Store.open(wall).close()
    with acquire(wall, "trade"):  # "Now" on the wall clock: one clock, no label
        text = runner.invoke(app, ["--db", str(wall), "status"]).stdout
    assert "simulated" not in text and "Running: slob trade" in text and "wall clock" not in text, text


def _stopped_follow_sim_clock_trade(store: Store, last: datetime, ended: datetime) -> int:
    """A `run --sim` earlier, then a `trade --follow-sim-clock 60` against `slob sim-gateway --speed 60`, Ctrl-C'd.

    As such a run writes it: ticks (the gateway's stamps) until `last`, a final heartbeat then, and its end
    stamped from its followed clock a moment later (measured: 6 virtual s, 0.1 real s at 60x).
    """
    earlier = store.start_run("run", {"sim": True, "sim_clock": True}, last - timedelta(hours=3))
    store.insert_ticks([Tick("NQ", last - timedelta(hours=2), 25400.0, 1)], run_id=earlier)
    add_health(store, to_iso(last - timedelta(hours=2)), run_id=earlier)
    store.end_run(earlier, 0, last - timedelta(hours=2), data_mode="sim")
    args = {"steps": ["record", "aggregate", "track", "trade"], "sim": False, "monitor_only": False, "live": False,
            "host": "127.0.0.1", "port": 4711, "account": "DU1234567", "duration": None, "sim_clock": True}
    run_id = store.start_run("trade", args, last - timedelta(minutes=24))
    store.insert_ticks([Tick("NQ", last - timedelta(seconds=1), 25470.0, 1), Tick("NQ", last, 25470.25, 1)],
                       run_id=run_id)
    add_health(store, to_iso(last), connected=True, run_id=run_id)
    store.end_run(run_id, 0, ended, data_mode="sim")
    return run_id


def test_an_ended_sim_runs_now_is_never_before_its_end_on_status_dashboard_and_web(
        runner: CliRunner, db_path: Path, store: Store) -> None:
    """status printed "Now: 11:25:47 (... sim run 2, ended)" above the run's end, 11:25:50: its end is on the
    same clock and is the latest time the screen shows of it, so it is "now" (views.store_clock)."""
    from slob_cli.web.app import create_app
    from tests.web.test_one_header import _get

    last, ended = SIM_NOW, SIM_NOW + timedelta(seconds=6)
    run_id = _stopped_follow_sim_clock_trade(store, last, ended)
    zone = ZoneInfo("Europe/Stockholm")
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert data["runs"][0]["id"] == run_id and data["runs"][0]["ended_at"] == to_iso(ended)
    assert data["now"] == data["clock"]["now"] == to_iso(ended), data["clock"]
    assert data["health_age_seconds"] == 6.0  # never negative: the heartbeat is not after "now"
    text = runner.invoke(app, ["--db", str(db_path), "status"], env={"COLUMNS": "200"}).stdout
    shown_end = ended.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    assert text.startswith(f"Now: {shown_end} Europe/Stockholm on the simulated clock of sim run {run_id} (ended)"), text
    assert f"│ {shown_end} │ 0 " in text, text  # its `ended` column: the same instant as "Now", not after it
    assert f"Last health of run {run_id} at {last.astimezone(zone):%H:%M:%S} (6 s ago on the " in text, text
    frame = " ".join(runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"],
                                   env={"COLUMNS": "200"}).stdout.split())
    assert f"{shown_end} Europe/Stockholm on the simulated clock of sim run {run_id} (ended)" in frame, frame
    assert "last tick: 6 s ago" in frame and f"last heartbeat (run {run_id}): 6 s ago on the " in frame, frame
    with Store.open(db_path, readonly=True) as reader:
        header = _get(create_app(reader, db_path, zone.key, None, db_path), "/api/header")
    assert header["clock"]["now"] == to_iso(ended) and header["run_id"] == run_id
    assert (header["last_tick_age_seconds"], header["heartbeat_age_seconds"]) == (6.0, 6.0), header
    assert (header["ages"]["last_tick"], header["ages"]["heartbeat"][:9]) == ("6 s ago", "6 s ago o"), header["ages"]


def test_an_older_sim_runs_end_of_unknown_clock_does_not_move_now(runner: CliRunner, db_path: Path,
                                                                  store: Store) -> None:
    """A row from before `sim_clock`, told a sim run by its data alone, may have ended on the wall clock (here: a
    `trade` on this machine's clock against `slob sim-gateway` started in January): "now" stays its newest data."""
    run_id = store.start_run("trade", {"sim": False}, SIM_NOW - timedelta(minutes=5))
    store.insert_ticks([Tick("NQ", SIM_NOW, 25470.0, 1)], run_id=run_id)
    store.end_run(run_id, 0, datetime.now(UTC), data_mode="sim")
    data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    assert data["clock"]["simulated"] is True and data["now"] == to_iso(SIM_NOW), data["clock"]
