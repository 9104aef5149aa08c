"""Scheduled closes are not gaps: a clean 24 h simulated paper run passes --strict across the CME halt."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.sqlfile import sql_rows


def test_paper_strict_sim_24h_passes_and_logs_the_cme_halt_as_a_scheduled_close(
        runner: CliRunner, db_path: Path) -> None:
    # 24 virtual hours, the CME halt (22:00-23:00 UTC) inside; lockstep makes the run the same at any speed,
    # so the pacing is lifted.
    result = runner.invoke(app, ["--db", str(db_path), "paper", "--strict", "--sim", "--duration", "24",
                                 "--speed", "1000000", "--json"])
    report = json.loads(result.stdout[result.stdout.index("{"):])
    failed = [c for c in report["criteria"] if not c["passed"]]
    assert result.exit_code == 0, failed
    assert report["figures"]["gaps"] == 0
    with Store.open(db_path, readonly=True) as store:
        closes = [json.loads(row[0]) for row in sql_rows(store.path,
            "SELECT payload FROM events WHERE type='SCHEDULED_CLOSE'")]
    assert [(c["start"], c["minutes"]) for c in closes] == [("2026-01-06T22:00:00Z", 60)]
