"""Lockstep virtual time: the same seed gives the same tables at any speed, and no tick is lost."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from contextlib import ExitStack
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.db import to_us
from slob_cli.cli.main import app
from slob_cli.core.models import Tick
from slob_cli.runtime import failpoints
from slob_cli.runtime.batch import aggregate_ticks
from tests.e2e.harness import at, start_harness
from tests.e2e.tables import WALL_CLOCK_TABLES, table_differences
from tests.sqlfile import sql_rows, sql_value


def _run_sim(runner, db: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["--db", str(db), "run", "--sim", "--seed", "7", "--scenario", "both_setups",
                                 "--json", *extra])
    assert result.exit_code == 0, result.stderr or result.stdout
    return json.loads(result.stdout[result.stdout.index("{"):])


def test_run_sim_at_max_and_at_a_paced_speed_writes_identical_tables(runner, tmp_path: Path) -> None:
    fast = _run_sim(runner, tmp_path / "max.db", "--speed", "max")
    paced = _run_sim(runner, tmp_path / "paced.db", "--speed", "20000")
    assert WALL_CLOCK_TABLES == set(), "health rows and runs (but for the pid and port) are compared too"
    assert table_differences(tmp_path / "max.db", tmp_path / "paced.db") == []
    assert fast["pnl"] == paced["pnl"] and fast["stats"] == paced["stats"]
    assert fast["stats"]["ticks"] == fast["ticks_stored"] == 23_400, "the whole planted day, every tick"
    assert [t["status"] for t in fast["trades"]] == ["CLOSED", "CLOSED"]


def test_two_runs_at_max_speed_write_identical_tables(runner, tmp_path: Path) -> None:
    first = _run_sim(runner, tmp_path / "one.db", "--speed", "max")
    second = _run_sim(runner, tmp_path / "two.db", "--speed", "max")
    assert table_differences(tmp_path / "one.db", tmp_path / "two.db") == []
    assert first["pnl"] == second["pnl"] != 0


def test_paper_sim_at_max_and_at_a_paced_speed_writes_identical_tables_and_reports(runner, tmp_path: Path) -> None:
    # paper --sim plays the planted day inside the generated market around the clock (a path run --sim does not take).
    reports = []
    for name, speed in (("max", "max"), ("paced", "20000")):
        result = runner.invoke(app, ["--db", str(tmp_path / f"{name}.db"), "paper", "--sim", "--seed", "5",
                                     "--duration", "15h", "--speed", speed, "--json"])
        assert result.exit_code == 0, result.stderr or result.stdout
        report = json.loads(result.stdout[result.stdout.index("{"):])
        reports.append({**report, "meta": {k: v for k, v in report["meta"].items()
                                           if k not in ("judged_at", "database")}})  # the wall clock, the file
    assert table_differences(tmp_path / "max.db", tmp_path / "paced.db") == []
    assert reports[0] == reports[1] and reports[0]["figures"]["trades"]["closed"] == 2, reports[0]["figures"]


def _live_candles(store: Store) -> list[tuple]:
    return [tuple(row) for row in sql_rows(store.path,
        "SELECT ts, open, high, low, close, volume, tick_count FROM candles WHERE source='live' ORDER BY ts")]


@pytest.mark.parametrize("slow", [0.0, 0.002])
def test_served_ticks_equal_persisted_candles_even_with_a_slow_consumer(tmp_path: Path, slow: float) -> None:
    until = at(15, 0)
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed="max")
        server = h.gateway.gateway.server
        server.served.keep = True
        failpoints.slow_down("process_tick", slow)
        result = h.session(until)
        assert result.stats.ticks == server.served.count > 0, "every tick served was consumed"
        assert result.stats.late_ticks == 0 and result.stats.dropped_ticks == 0
        live = _live_candles(h.store)
        first_live = live[0][0]  # the minute the engine started in comes from history, not live
        served = [Tick("NQ", ts.replace(microsecond=0), price, size)  # the wire carries whole seconds
                  for ts, price, size in server.served.ticks if ts < until]
        batch = [(to_us(c.ts), c.open, c.high, c.low, c.close, c.volume, c.tick_count)
                 for c in aggregate_ticks(served).candles if c.tick_count and to_us(c.ts) >= first_live]
        assert live == batch and len(batch) == (to_us(until) - first_live) // 60_000_000, "no minute missing"


def _three_planted_days(tmp_path: Path, name: str, speed: str) -> tuple[Path, dict[str, int], float]:
    from datetime import date

    from slob_cli.adapters.calendar import load_calendar
    from slob_cli.runtime.session import SimOptions, start_sim
    from tests.e2e.harness import DAY, Harness

    calendar = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
    sim = SimOptions(seed=11, scenario="both_setups", trading_date=DAY, speed=speed, days=3,
                     generated_ticks_per_day=5_000)
    with ExitStack() as stack:
        gateway, _, until = start_sim(stack, sim, calendar)
        db = tmp_path / f"{name}.db"
        harness = Harness(gateway, stack.enter_context(Store.open(db)), calendar, sim)
        result = harness.session(until)
        completed = dict(sql_rows(
            db, "SELECT trading_date, count(*) FROM setups WHERE state='SETUP_COMPLETE' GROUP BY trading_date"))
    return db, completed, result.pnl


@pytest.mark.timeout(600)  # two runs of 62 virtual hours (about 5,400 lockstep steps each)
def test_three_days_in_a_row_give_identical_tables_at_two_speeds(tmp_path: Path) -> None:
    fast, completed, pnl = _three_planted_days(tmp_path, "max", "max")
    paced, completed_paced, pnl_paced = _three_planted_days(tmp_path, "paced", "50000")
    assert completed == {"2026-01-06": 2, "2026-01-07": 2, "2026-01-08": 2}, "setups complete on every day"
    assert table_differences(fast, paced) == []
    assert (completed_paced, pnl_paced) == (completed, pnl)


def _read_one_by_one_from_the_first_order_status(monkeypatch: pytest.MonkeyPatch, gap: float = 0.01) -> None:
    """Make the engine read the gateway's messages one at a time, `gap` real seconds apart, from an orderStatus on.

    TCP may hand a reply over in several reads: here the acknowledgement of an order is read before
    the fill that follows it in the same reply, long enough before for the engine to be ready to step.
    """
    from ib_async.client import Client

    original = Client._onSocketHasData
    buffers: dict[int, bytearray] = {}
    waiting: dict[int, deque[bytes]] = {}

    def feed(client: Client) -> None:
        queue = waiting[id(client)]
        original(client, queue.popleft())
        if queue:
            asyncio.get_running_loop().call_later(gap, feed, client)

    def on_data(client: Client, data: bytes) -> None:
        buffer = buffers.setdefault(id(client), bytearray())
        queue = waiting.setdefault(id(client), deque())
        buffer += data
        while len(buffer) >= 4 and len(buffer) >= 4 + (size := int.from_bytes(buffer[:4], "big")):
            message, buffer[:] = bytes(buffer[:4 + size]), buffer[4 + size:]
            if queue or message[4:6] == b"3\0":  # an orderStatus, or anything behind one
                queue.append(message)
                if len(queue) == 1:
                    asyncio.get_running_loop().call_later(gap, feed, client)
            else:
                original(client, message)

    monkeypatch.setattr(Client, "_onSocketHasData", on_data)


def _short_setup_day(tmp_path: Path, name: str, **options: Any) -> Path:
    (tmp_path / name).mkdir()
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path / name, "short_setup")
        result = h.session(at(16, 45), **options)
        assert [t["status"] for t in result.trades] == ["CLOSED"]
    return tmp_path / name / "engine.db"


def test_an_order_reply_read_in_pieces_is_read_whole_before_the_next_step(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _short_setup_day(tmp_path, "whole")
    _read_one_by_one_from_the_first_order_status(monkeypatch)
    pieces = _short_setup_day(tmp_path, "pieces")
    assert table_differences(whole, pieces) == []


def test_health_rows_of_a_lockstep_run_follow_virtual_time_not_the_wall_clock(tmp_path: Path) -> None:
    usual = _short_setup_day(tmp_path, "usual")
    hurried = _short_setup_day(tmp_path, "hurried", heartbeat_interval=0.005)  # a real-time beat would write many
    assert table_differences(usual, hurried) == []
    beats = [row[0] for row in sql_rows(usual, "SELECT ts FROM health ORDER BY ts")]
    assert len(beats) >= 8, "a row every 15 virtual minutes from 07:30 to 16:45, and the last one"
    regular = beats[:-1]  # the last is written as the run stops
    assert all(later - earlier >= 900_000_000 for earlier, later in pairwise(regular))


def _interrupted(db: Path, *command: str) -> tuple[int, str, list[str]]:
    """Run slob with a simulated gateway, send SIGINT once a few candles are stored; return (code, stdout, errors)."""
    import signal

    from tests.conftest import eventually
    from tests.e2e.harness import slob_process

    with slob_process("--db", str(db), *command) as process:
        def some_candles() -> bool:
            if process.poll() is not None:
                return True
            try:
                with Store.open(db, readonly=True) as store:
                    return sql_value(store.path, "SELECT count(*) FROM candles WHERE source='live'") > 3
            except Exception:  # noqa: BLE001 - the file may not exist or be mid-migration yet
                return False

        eventually(some_candles, timeout=90)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr, stderr[-2000:]
    return process.returncode, stdout, [line for line in stderr.splitlines() if line.startswith("Error:")]


def test_run_sim_stopped_by_a_signal_exits_1_with_one_line_saying_how_far_it_got(tmp_path: Path) -> None:
    code, _, errors = _interrupted(tmp_path / "cut.db", "run", "--sim", "--speed", "300")
    assert code == 1 and len(errors) == 1, errors
    assert errors[0].startswith("Error: run cut short: stopped before the end of its period; got to 2026-01-06 ")
    assert "before its end at 2026-01-06 21:03 UTC" in errors[0] and "candles processed" in errors[0]
    # Nothing is dropped: the run row keeps how far it got and what stopped it.
    with Store.open(tmp_path / "cut.db", readonly=True) as store:
        run = store.runs(1)[0]
    stats = json.loads(run["stats"])["stats"]
    assert stats["stopped_by"] == "SIGINT" and stats["candles"] > 3 and stats["data_mode"] == "sim", stats


def test_paper_sim_stopped_by_a_signal_exits_5_with_one_line_saying_how_far_it_got(tmp_path: Path) -> None:
    code, stdout, errors = _interrupted(tmp_path / "paper-cut.db", "paper", "--sim", "--duration", "24",
                                        "--speed", "300")
    assert code == 5 and len(errors) == 1, (errors, stdout[-2000:])
    assert errors[0].startswith("Error: run cut short: stopped before the end of its period; got to ")
    assert "candles processed" in errors[0]
    # The shortened run is still judged: the table printed, the report written, the counters kept.
    assert "duration reached" in stdout and "FAIL" in stdout, stdout[-2000:]
    report = json.loads((tmp_path / "paper-cut-paper-run1.json").read_text())
    assert report["passed"] is False
    criteria = {c["name"]: c["passed"] for c in report["criteria"]}
    assert criteria["duration reached"] is False and criteria["candles persisted"] is True
    with Store.open(tmp_path / "paper-cut.db", readonly=True) as store:
        run = store.runs(1)[0]
    stats = json.loads(run["stats"])
    assert stats["stopped_by"] == "SIGINT" and stats["candles"] > 3 and stats["data_mode"] == "sim", stats


def _stitched_run(tmp_path: Path, name: str, start_hour: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Run the engine on the planted day inside the stitched generated market (as paper --sim), from start_hour."""
    from datetime import date, datetime, timezone

    from slob_cli.adapters.calendar import load_calendar
    from slob_cli.runtime.session import SimOptions, start_sim
    from tests.e2e.harness import DAY, Harness

    calendar = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
    sim = SimOptions(scenario="both_setups", trading_date=DAY, speed="max", around_the_clock=True,
                     start=datetime(2026, 1, 6, start_hour, 0, tzinfo=timezone.utc))
    with ExitStack() as stack:
        gateway, _, _ = start_sim(stack, sim, calendar)
        store = stack.enter_context(Store.open(tmp_path / f"{name}.db"))
        Harness(gateway, store, calendar, sim).session(at(15, 30))
        candles = [tuple(row) for row in sql_rows(store.path,
            "SELECT ts, open, high, low, close, volume FROM candles WHERE ts >= ? AND ts < ? ORDER BY ts",
            (to_us(at(7, 50)), to_us(at(15, 30))))]
        setups = [tuple(row) for row in sql_rows(store.path,
            "SELECT direction, state, liq1_time, liq1_price, high, low, liq2_price, entry_estimate, stop, target "
            "FROM setups ORDER BY liq1_time")]
        sources = [tuple(row) for row in sql_rows(store.path,
            "SELECT source, min(ts), count(*) FROM candles GROUP BY source ORDER BY source")]
    return candles, setups, sources


def test_paper_sim_started_after_the_reference_window_opened_finds_its_bars_through_warm_up(tmp_path: Path) -> None:
    whole_candles, whole_setups, _ = _stitched_run(tmp_path, "whole", 7)
    late_candles, late_setups, late_sources = _stitched_run(tmp_path, "late", 10)
    history = dict((source, (first, count)) for source, first, count in late_sources)
    assert history["ib_history"][0] == to_us(at(8, 0)), "warm-up fetched the reference window from its start"
    assert [c for c in late_candles if c[0] >= to_us(at(8, 0))] == [c for c in whole_candles if c[0] >= to_us(at(8, 0))]
    opens = [c for c in whole_candles if c[0] in (to_us(at(7, 59)), to_us(at(8, 0)))]
    assert len(opens) == 2 and abs(opens[1][1] - opens[0][4]) < 20, "no jump where the planted day is stitched in"
    # The setup's liquidity grab is measured against the reference levels: the same levels, the same setup.
    assert whole_setups and late_setups == whole_setups
