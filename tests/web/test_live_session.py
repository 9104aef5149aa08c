"""`slob web` beside a real session: `slob run --sim` trades on the same store while the dashboard reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.conftest import eventually
from tests.web.test_api import get_json, read_events, wait_for_change


def test_dashboard_follows_a_simulated_session_on_the_same_store(db_path: Path, web_server,  # noqa: ANN001
                                                                 runner: CliRunner) -> None:
    Store.open(db_path).close()  # an empty, current store: the dashboard is up before the session
    server = web_server()
    lines, stream = read_events(server.url + "/api/events")
    session = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "run", "--sim", "--seed", "7", "--speed", "2000",
         "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        def running_on_its_clock() -> bool:
            # The lock is taken before the run's row is written: wait for both, then read the header.
            header = get_json(server.url + "/api/header")
            return (header["running"] or "").startswith("slob run") and header["run_id"] is not None

        eventually(running_on_its_clock, timeout=60, interval=0.2)
        header = get_json(server.url + "/api/header")
        assert header["clock"]["simulated"] is True and header["data_mode"] == "sim"
        assert "candles" in wait_for_change(lines, "candles", timeout=60)["topics"]
        output, errors = session.communicate(timeout=300)
    finally:
        stream.close()
        if session.poll() is None:
            session.kill()
            session.wait(10)
    assert session.returncode == 0, errors[-2000:]
    summary = json.loads(output[output.index("{"):])
    eventually(lambda: get_json(server.url + "/api/header")["running"] is None, timeout=30, interval=0.2)
    from_web = get_json(server.url + "/api/status")
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    from_cli = json.loads(result.stdout)
    assert from_web["today"] == from_cli["today"]
    assert from_web["today"]["closed_trades"] == len(summary["trades"]) >= 1
    assert round(from_web["today"]["pnl_money"], 2) == round(summary["pnl"], 2)
    trades = get_json(server.url + "/api/trades")
    assert trades["closed"] == len(summary["trades"]) and trades["pnl_money"] == round(summary["pnl"], 2)
    chart = get_json(server.url + "/api/candles")
    assert len(chart["candles"]) > 100 and len(chart["fills"]) == 2 * len(summary["trades"])
