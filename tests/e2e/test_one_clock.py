"""One clock: a sim session's ages read the same on every screen, on the run's own clock.

A heartbeat's `last_tick_age` is measured on the session's clock (the simulated one in a sim run),
so `status` (the heartbeat's age plus the tick age it carries), `dashboard` and `/api/header` agree.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.runtime.web_views import header


def test_a_sim_run_shows_one_last_tick_age_in_status_dashboard_and_web(runner: CliRunner, db_path: Path) -> None:
    run = runner.invoke(app, ["--db", str(db_path), "run", "--sim", "--speed", "max", "--json"])
    assert run.exit_code == 0, run.stdout + run.stderr
    status = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
    by_status = status["health"]["last_tick_age"] + status["health_age_seconds"]
    with Store.open(db_path, readonly=True) as store:
        web = header(store, db_path, datetime.now(timezone.utc), None)
    # The run goes on a few virtual minutes past the last tick of the session (16:00 New York).
    assert web["clock"]["simulated"] is True and web["last_tick_age_seconds"] > 60, web
    assert abs(by_status - web["last_tick_age_seconds"]) < 2.0, (status["health"], web)
    # Every instant in JSON is UTC ISO-8601 ending in Z (docs/commands.md, JSON API), "now" too.
    assert status["now"] == status["clock"]["now"] == web["clock"]["now"] == "2026-01-06T21:03:02Z", status
    frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"]).stdout
    minutes = int(web["last_tick_age_seconds"] // 60)
    assert f"last tick: {minutes} min" in frame, frame


def test_a_running_sim_runs_start_is_named_on_the_wall_clock_in_status_check_dashboard_and_web(
        runner: CliRunner, db_path: Path) -> None:
    """`since <time>` of the running session is the lock's taking, real time; beside a SIMULATED now each
    screen says so, with the same words (runtime/status.running_text): `status`, `status --check`, `dashboard`,
    `/api/header`."""
    from tests.conftest import eventually
    from tests.web.test_sim_liveness import sim_run

    session = sim_run(db_path, "300")
    try:
        def running_on_the_sim_clock() -> bool:
            data = json.loads(runner.invoke(app, ["--db", str(db_path), "status", "--json"]).stdout)
            return data["running"] is not None and data["clock"]["simulated"] and not data["clock"]["run_ended"]

        eventually(running_on_the_sim_clock, timeout=120, interval=0.1)
        wide = {"COLUMNS": "200"}
        table = runner.invoke(app, ["--db", str(db_path), "status"], env=wide).stdout
        check = runner.invoke(app, ["--db", str(db_path), "status", "--check"])
        frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env=wide).stdout
        with Store.open(db_path, readonly=True) as store:
            web = header(store, db_path, datetime.now(timezone.utc), None)
    finally:
        session.kill()
        session.communicate(timeout=30)
    running = next(line for line in table.splitlines() if line.startswith("Running: ")).removeprefix("Running: ")
    assert running.startswith(f"slob run (pid {session.pid}, since ") and running.endswith(" on the wall clock)"), table
    assert f"● {running}" in frame, frame  # the dashboard's status line: the same words
    assert "SIMULATED clock" in frame and web["clock"]["simulated"] is True
    # The web names the start in UTC (its page shows the zone), on the same clock, said the same way.
    assert web["running"].startswith(f"slob run (pid {session.pid}, since ") and \
        web["running"].endswith("Z on the wall clock)"), web["running"]
    # `status --check` names it as the web does (one line, no zone on the screen), beside the sim clock's heartbeat.
    line = check.stdout.strip()
    assert check.exit_code == 0 and line.startswith(f"healthy: {web['running']}, alive "), check.stdout
    assert "(real time)" in line and line.count(" on the wall clock") == 1, line
