"""A wall-clock session against a gateway that keeps another time stops with exit 5 instead of trading on it.

Ticks carry the gateway's time and minutes close on this machine's clock: a gateway far off (a
simulated one started on a past day, or one running at another speed) would make every tick late
and every candle wrong. The real simulated gateway and the real ib_async client; the engine runs on
the wall clock (SystemClock), as `slob trade` and `slob paper` do against a gateway.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.core.risk import RiskConfig
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.errors import ExitCode, ValidationFailed
from slob_cli.runtime.clock import SystemClock
from slob_cli.runtime.engine import EngineOptions
from slob_cli.runtime.session import SessionResult, run_session
from tests.e2e.harness import FAST_BACKOFF, OPEN_MINUS_5, Harness, start_harness

UTC = timezone.utc


def wall_clock_session(h: Harness, *, until: datetime, limit: float = 10.0, heartbeat: float = 3600.0) -> SessionResult:
    """Run an engine on the wall clock against the harness's gateway, as `slob trade` does."""
    config = GatewayConfig(host=h.gateway.host, port=h.gateway.port, client_id=1, heartbeat_interval=heartbeat)
    options = EngineOptions(until=until, max_clock_skew=limit, heartbeat_interval=heartbeat, policy=FAST_BACKOFF)
    return run_session(h.store, config, options, strategy=StrategyConfig(), risk=RiskConfig(),
                       calendar=h.calendar, clock=SystemClock())


def skew_events(h: Harness) -> list[dict[str, object]]:
    return h.logged("CLOCK_SKEW")


def test_a_gateway_on_a_past_day_is_refused_before_any_candle_or_order(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "both_setups", speed=1.0, start=OPEN_MINUS_5, lockstep=False)
        with pytest.raises(ValidationFailed) as raised:
            wall_clock_session(h, until=datetime.now(UTC) + timedelta(minutes=5))
        message = str(raised.value)
        assert raised.value.exit_code is ExitCode.VALIDATION_FAILED
        assert "the gateway's clock is" in message and "behind this machine's" in message
        assert "SLOB_MAX_CLOCK_SKEW=10s" in message and "--follow-sim-clock" in message
        assert "\n" not in message
        [event] = skew_events(h)
        assert event["stopped"] is True and event["skew_seconds"] < -86_400  # the planted day is in the past
        assert h.orders() == [] and h.broker_orders() == []
        assert h.store.db.query("SELECT count(*) AS n FROM candles").__next__()["n"] == 0


def test_a_gateway_running_at_another_speed_is_stopped_once_its_clock_drifts_past_the_limit(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # Started on this machine's time, so the start passes; 600x, so its clock runs ahead ten minutes a second.
        h = start_harness(stack, tmp_path, "both_setups", speed=600.0, start=datetime.now(UTC), lockstep=False)
        with pytest.raises(ValidationFailed, match="ahead of this machine's"):
            wall_clock_session(h, until=datetime.now(UTC) + timedelta(minutes=5), heartbeat=0.2)
        events = skew_events(h)
        assert events[-1]["stopped"] is True and events[-1]["skew_seconds"] > 10
        assert all(event["skew_seconds"] > 0 for event in events)


def test_a_skew_inside_the_limit_is_said_once_and_the_session_runs_to_its_end(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # Five seconds ahead: past the 3 s that test-connection accepts, inside the 10 s limit.
        h = start_harness(stack, tmp_path, "both_setups", speed=1.0,
                          start=datetime.now(UTC) + timedelta(seconds=5), lockstep=False)
        result = wall_clock_session(h, until=datetime.now(UTC) + timedelta(seconds=1.5), heartbeat=0.2)
        [event] = skew_events(h)  # once, though every heartbeat measured it again
        assert event["stopped"] is False and 3 < event["skew_seconds"] < 10
        assert result.stats.stopped_by is None
