"""Session wiring (`runtime/wiring.prepare_session`): sim and live differ only here."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from slob_cli.errors import UsageError
from slob_cli.runtime.clock import FollowedClock, SystemClock
from slob_cli.runtime.session import SimOptions
from slob_cli.runtime.wiring import prepare_session
from slob_cli.settings import load_settings


def test_with_the_sim_the_session_uses_the_embedded_gateway_its_clock_and_its_day() -> None:
    with ExitStack() as stack:
        wired = prepare_session(stack, load_settings(), monitor_only=True, live=False, duration_seconds=None,
                                steps=("record", "aggregate"), sim=SimOptions(speed="max"))
        assert wired.gateway is not None
        assert (wired.config.host, wired.config.port) == (wired.gateway.host, wired.gateway.port)
        assert wired.config.account is None
        assert wired.clock is wired.gateway.clock
        assert wired.options.until is not None and wired.options.until > wired.clock.now()
        assert wired.options.store_ticks and not wired.options.track
        assert wired.options.executor.monitor_only
        assert wired.sim_clock


def test_without_the_sim_the_session_runs_on_the_wall_clock_until_its_duration() -> None:
    with ExitStack() as stack:
        wired = prepare_session(stack, load_settings(), monitor_only=True, live=False, duration_seconds=3600.0,
                                steps=("record", "aggregate", "track", "trade"), sim=None)
        assert wired.gateway is None
        assert isinstance(wired.clock, SystemClock)
        assert wired.options.until is not None
        assert 3590 < (wired.options.until - wired.clock.now()).total_seconds() <= 3600
        assert wired.options.track and wired.options.grace_seconds == 2.0
        assert not wired.sim_clock


def test_following_a_sim_clock_takes_a_positive_speed_and_no_duration() -> None:
    with ExitStack() as stack:
        wired = prepare_session(stack, load_settings(), monitor_only=True, live=False, duration_seconds=None,
                                steps=("aggregate",), sim=None, follow_speed=60.0)
        assert isinstance(wired.clock, FollowedClock) and wired.options.clock_speed == 60.0
        assert wired.sim_clock, "a followed clock is a simulated gateway's"
        with pytest.raises(UsageError, match="--follow-sim-clock"):
            prepare_session(stack, load_settings(), monitor_only=True, live=False, duration_seconds=60.0,
                            steps=("aggregate",), sim=None, follow_speed=60.0)


def test_the_flatten_retry_settings_reach_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    monkeypatch.setenv("SLOB_FLATTEN_RETRIES", "1")
    monkeypatch.setenv("SLOB_FLATTEN_RETRY_DELAY", "12.5")
    with ExitStack() as stack:
        wired = prepare_session(stack, load_settings(), monitor_only=True, live=False, duration_seconds=60.0,
                                steps=("aggregate",), sim=None)
        executor = wired.options.executor
        assert (executor.flatten_retries, executor.flatten_retry_delay) == (1, timedelta(seconds=12.5))
