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
            return data["running"] is not None and data["clock"]["simulated"] and not data["clock"]["run_ended"] \
                and data["health"] is not None  # its own first heartbeat, whose age --check names the clock of

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
    assert f"on the {web['clock']['label']}" in " ".join(frame.split()) and web["clock"]["simulated"] is True
    assert web["clock"]["label"] == f"simulated clock of sim run {web['clock']['run_id']} (running)", web["clock"]
    # The web names the start in UTC (its page shows the zone), on the same clock, said the same way.
    assert web["running"].startswith(f"slob run (pid {session.pid}, since ") and \
        web["running"].endswith("Z on the wall clock)"), web["running"]
    # `status --check` names it as the web does (one line, no zone on the screen), beside the sim clock's heartbeat.
    line = check.stdout.strip()
    assert check.exit_code == 0 and line.startswith(f"healthy: {web['running']}, alive "), check.stdout
    assert "(real time)" in line and line.count(" on the wall clock") == 1, line
    assert line.endswith(f" on the {web['clock']['label']}"), line  # its heartbeat's age: on the same clock, named alike


def test_a_paper_run_on_the_wall_clock_against_a_simulated_gateway_reads_on_the_wall_clock_everywhere(
        runner: CliRunner, tmp_path: Path) -> None:
    """Simulated data is not a simulated clock: `paper` on this machine's clock against `slob sim-gateway` (its
    data mode `sim`) is read on the wall clock by `status`, `/api/header` and its report alike (views.on_sim_clock)."""
    from datetime import UTC

    from slob_cli.sim.process import SimGatewayProcess
    from tests.e2e.harness import slob_process

    db = tmp_path / "wall.db"
    with SimGatewayProcess(seed=3, start=datetime.now(UTC), speed=1.0) as gateway:
        with slob_process("--db", str(db), "paper", "--port", str(gateway.port), "--client-id", "37",
                          "--account", "DU1234567", "--duration", "4s", "--json") as process:
            stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr[-2000:]
    report = json.loads(stdout[stdout.index("{"):])
    assert report["figures"]["clock"] == "wall" and "simulated clock" not in json.dumps(report["criteria"]), report
    status = json.loads(runner.invoke(app, ["--db", str(db), "status", "--json"]).stdout)
    assert status["runs"][0]["data_mode"] == "sim", "the data came from a simulated gateway"
    assert status["clock"]["simulated"] is False, status["clock"]
    # "now" is this machine's, not the run's last heartbeat frozen as a simulated "now".
    ended = datetime.fromisoformat(status["runs"][0]["ended_at"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(status["now"].replace("Z", "+00:00")) > ended, (status["now"], ended)
    assert status["liveness"]["heartbeat_clock"] == "wall", status["liveness"]
    with Store.open(db, readonly=True) as store:
        web = header(store, db, datetime.now(timezone.utc), None)
    assert web["clock"]["simulated"] is False, web["clock"]
