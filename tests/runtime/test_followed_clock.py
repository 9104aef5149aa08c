"""FollowedClock: runs at its speed, and adjust() moves it onto the gateway's time without losing pace."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.runtime.clock import FollowedClock


class _RealTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_clock_runs_speed_times_real_time_and_adjust_jumps_by_the_skew() -> None:
    real = _RealTime()
    clock = FollowedClock(600.0, time_source=real)
    first = clock.now()
    real.now += 1.0
    assert clock.now() - first == timedelta(seconds=600)
    gateway = datetime(2026, 1, 6, 15, 14, tzinfo=timezone.utc)
    clock.adjust((gateway - clock.now()).total_seconds())
    assert abs((clock.now() - gateway).total_seconds()) < 1e-3
    real.now += 0.5
    assert abs((clock.now() - (gateway + timedelta(seconds=300))).total_seconds()) < 1e-3


def test_clock_refuses_a_speed_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FollowedClock(0.0)


def test_follow_sim_clock_with_duration_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    from slob_cli.cli.main import app

    result = runner.invoke(app, ["--db", str(tmp_path / "x.db"), "trade", "--port", "1", "--account", "DU1",
                                 "--follow-sim-clock", "600", "--duration", "5s"])
    assert result.exit_code == 2
    assert "--follow-sim-clock needs a positive speed and no --duration" in result.stderr
