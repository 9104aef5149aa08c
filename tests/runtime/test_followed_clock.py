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


def test_a_learning_clock_runs_at_the_pace_its_trades_show_below_it_never_above_and_never_backwards() -> None:
    real = _RealTime()
    clock = FollowedClock(1.0, time_source=real, learn_pace=True)
    start = datetime(2026, 3, 10, 14, 35, tzinfo=timezone.utc)
    clock.adjust((start - clock.now()).total_seconds())  # the connect's correction onto the gateway's time
    readings = []
    for step in range(1, 41):  # a gateway at 60x: a trade every gateway second, told every 0.05 real s
        real.now += 0.05
        clock.catch_up(start + timedelta(seconds=3 * step))
        readings.append(clock.now())
    assert readings == sorted(readings)
    assert 55.0 <= clock.pace <= 60.0, clock.pace  # 2 s of the gateway's time taken off: slower, never faster
    told = start + timedelta(seconds=120)
    real.now += 0.25  # a flush later, no trade told: the clock ran on at the pace
    assert told + timedelta(seconds=13) <= clock.now() <= told + timedelta(seconds=15)
    for _ in range(10):  # the feed stalls (an outage, a pause): the same newest trade teaches no slower pace
        real.now += 0.25
        clock.catch_up(told)
    assert 55.0 <= clock.pace <= 60.0, clock.pace


def test_a_clock_on_a_real_time_gateway_or_not_learning_keeps_its_speed() -> None:
    real = _RealTime()
    learning, fixed = FollowedClock(1.0, time_source=real, learn_pace=True), FollowedClock(1.0, time_source=real)
    start = datetime(2026, 3, 10, 14, 35, tzinfo=timezone.utc)
    for step in range(1, 101):  # a 1x gateway: a trade each real second
        real.now += 1.0
        for clock in (learning, fixed):
            clock.catch_up(start + timedelta(seconds=step))
    assert learning.pace == fixed.pace == 1.0
    fast = FollowedClock(1.0, time_source=real)  # not learning (trade --follow-sim-clock): told trades, keeps 1x
    for step in range(1, 41):
        real.now += 0.05
        fast.catch_up(start + timedelta(seconds=3 * step))
    assert fast.pace == 1.0


def test_a_trade_that_lagged_is_no_base_for_a_faster_pace_nor_the_feeds_old_trade_after_a_reconnect() -> None:
    real = _RealTime()
    clock = FollowedClock(1.0, time_source=real, learn_pace=True)
    start = datetime(2026, 3, 10, 14, 35, tzinfo=timezone.utc)
    clock.adjust((start - clock.now()).total_seconds())
    clock.catch_up(start - timedelta(seconds=8))  # the first trade told came 8 s before (a pause in trading)
    for step in range(1, 31):  # then a 1x gateway: a trade each real second
        real.now += 1.0
        clock.catch_up(start + timedelta(seconds=step))
        # (8 + 1 - 2) s over 1 real second read 7x: never learned from that base alone, the others say 1x
        assert clock.now() <= start + timedelta(seconds=step + 1)
    assert clock.pace == 1.0
    clock.adjust(0.0)  # a reconnect: the feed's newest trade is still the one before the outage
    real.now += 5.0
    clock.catch_up(start + timedelta(seconds=30))  # no newer trade: it is no base (it lags by the outage)
    for step in range(36, 46):  # trading goes on where the gateway's time is
        real.now += 1.0
        clock.catch_up(start + timedelta(seconds=step))
        assert clock.now() <= start + timedelta(seconds=step + 1)
    assert clock.pace == 1.0
