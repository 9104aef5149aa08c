"""`paper` at its end and `slob report` later judge a run with one function and the same inputs.

Both replay the run's stored candles with the strategy config of their settings, and both tell that
config to the look-ahead check: a day of the run whose stored events another config computed
(`slob setups track --config`, run while a 24-48 h run goes on) is then named and not judged as the
run's, by either. `paper` had not passed its config, so it FAILED "no look-ahead" where `report` of
the same run warned that the day's events are not the run's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.cli.main import app

FIRST_DAY = "2026-01-06"  # the sim's first trading day; a 24 h run from 07:30 UTC ends on the next one


def _judged(stdout: str) -> tuple[str, list[dict[str, Any]]]:
    data = json.loads(stdout[stdout.index("{"):])
    return data["verdict"], data["criteria"]


def test_paper_and_report_give_one_verdict_on_a_day_re_tracked_under_another_config(
        runner: CliRunner, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.runtime import session

    strict = tmp_path / "strict.toml"
    strict.write_text("[strategy]\nmin_rr = 5.0\n")
    real_run_session = session.run_session
    tracked: list[subprocess.CompletedProcess[str]] = []

    def run_then_re_track(*args: Any, **kwargs: Any) -> Any:
        result = real_run_session(*args, **kwargs)
        # On the run's second day, before `paper` judges it: another process re-tracks the first day
        # under another config, as an operator may while a long run goes on.
        tracked.append(subprocess.run(
            [sys.executable, "-m", "slob_cli", "--db", str(db_path), "setups", "track", "--from", FIRST_DAY,
             "--to", FIRST_DAY, "--config", str(strict), "--json"], capture_output=True, text=True, timeout=120))
        return result

    monkeypatch.setattr(session, "run_session", run_then_re_track)
    paper = runner.invoke(app, ["--db", str(db_path), "paper", "--sim", "--duration", "24h", "--speed", "1000000",
                                "--json", "--report", str(tmp_path / "paper")])
    [track] = tracked
    assert track.returncode == 0, track.stderr
    report = runner.invoke(app, ["--db", str(db_path), "report", "--json", "--report", str(tmp_path / "report")])

    assert _judged(paper.stdout) == _judged(report.stdout)
    assert paper.exit_code == report.exit_code == 0, paper.output
    look = {c["name"]: c for c in _judged(paper.stdout)[1]}["no look-ahead"]
    assert look["severity"] == "warning" and not look["passed"], look
    assert "not checked" in look["detail"] and f"NQ {FIRST_DAY}" in look["detail"], look
