"""A hung gateway (its socket open, nothing arriving) was down from the last data slob heard from it.

A gateway frozen with SIGSTOP keeps its TCP connection: slob notices only when its heartbeat goes
unanswered (up to interval + timeout later, 40 s by default). The outage was counted from that
moment, so a 50 s silence read ~20 s while the feed's own FEED_RESUMED said 50. Now the drop is
stamped at the last data heard, and the log line, the `IB_RECONNECTED` gap and the paper report's
longest outage all read the silence. A closed socket is still stamped when it closes
(tests/adapters/ib/test_outage_clock.py, test_recorder_integration.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slob_cli.adapters.ib.backoff import BackoffPolicy
from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.adapters.store import Store
from slob_cli.core.validation import Thresholds, check_connection, figures_of
from slob_cli.runtime.recorder import Recorder, RecorderOptions
from slob_cli.runtime.validation_data import gather
from tests.adapters.ib.conftest import BUSY_START
from tests.adapters.ib.test_recorder_integration import events_of
from tests.conftest import eventually_async

TIMEOUT = 3.0  # the heartbeat's answer limit: the old stamp came at least this long after the silence began
FAST = BackoffPolicy(base=0.05, cap=0.2, jitter=0.0, breaker_after=1000)


def _hang_once(gateway: Any, store: Store, client_id: int, clock: Any = None) -> tuple[int, dict[str, datetime]]:
    """Record, silence the gateway until a reconnect to it has failed, let it speak, wait for the reconnect.

    Return the run id and the wall-clock moments: `fresh` (a trade arrives after it), `silent` (nothing is
    sent after it), `speaks` (the gateway answers again) and `back` (reconnected).
    """
    run_id = store.start_run("record", {}, datetime.now(UTC))
    config = GatewayConfig(port=gateway.port, client_id=client_id, sync_orders=False, connect_timeout=0.5,
                           heartbeat_interval=0.5, heartbeat_timeout=TIMEOUT)
    options = RecorderOptions(symbols=["NQ"], flush_interval=0.05, warm_up=False, policy=FAST,
                              stale_after=3600.0)  # the heartbeat notices the hang, as with the defaults
    recorder = Recorder(store, config, options, run_id=run_id, clock=clock)
    connection = recorder.connection
    moments: dict[str, datetime] = {}

    async def main() -> None:
        running = asyncio.ensure_future(recorder.run())
        try:
            # A followed clock has learned the gateway's pace from the trades (else it runs at 1x).
            await eventually_async(lambda: recorder.stored >= 20 and (clock is None or clock.pace >= 40), timeout=30)
            moments["fresh"] = datetime.now(UTC)
            ticks = recorder.feed.ticks
            await eventually_async(lambda: recorder.feed.ticks > ticks, timeout=10)
            await asyncio.to_thread(gateway.set_silent, True)
            moments["silent"] = datetime.now(UTC)
            # Noticed (the heartbeat unanswered), dropped, and a reconnect to the silent gateway timed out.
            await eventually_async(lambda: connection.failed_attempts >= 1, timeout=30)
            moments["speaks"] = datetime.now(UTC)
            await asyncio.to_thread(gateway.set_silent, False)
            await eventually_async(lambda: connection.reconnects == 1 and connection.in_session, timeout=30)
            moments["back"] = datetime.now(UTC)
            if clock is not None:  # the first trade after the silence ends it on the feed's side
                await eventually_async(lambda: bool(events_of(store, "FEED_RESUMED")), timeout=30)
        finally:
            recorder.stop()
            await asyncio.wait_for(running, 10)

    asyncio.run(main())
    assert events_of(store, "HEARTBEAT_MISSED"), "the heartbeat noticed the hang"
    return run_id, moments


def test_a_silent_gateways_outage_starts_at_the_last_data_heard_and_every_surface_reads_the_silence(
        gateway: Any, store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="slob_cli.adapters.ib.connection")
    run_id, moments = _hang_once(gateway, store, 57)
    [down] = events_of(store, "IB_DISCONNECTED")
    [back] = events_of(store, "IB_RECONNECTED")
    at = datetime.fromisoformat(down["at"])
    # The drop is stamped at the last data heard: after the fresh trade, before the silence (a packet in
    # flight aside, a second allowed for a loaded machine), not when the heartbeat gave up (TIMEOUT s or
    # more into the silence).
    assert moments["fresh"] <= at <= moments["silent"] + timedelta(seconds=1.0), (at, moments)
    assert datetime.fromisoformat(back["since"]) == at, (back, down)
    gap = back["gap_seconds"]
    silence = (moments["speaks"] - moments["silent"]).total_seconds()
    assert silence > TIMEOUT
    assert silence - 0.5 <= gap <= (moments["back"] - moments["fresh"]).total_seconds(), (gap, moments)
    # The log line and the paper report (`report`: longest outage) read the same outage.
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("reconnected to the gateway")]
    found = re.fullmatch(r"reconnected to the gateway after ([\d.]+)s", line)
    assert found and abs(float(found[1]) - gap) <= 0.05, (line, gap)
    data = gather(store, run_id, 60.0, datetime.now(UTC))
    assert len(data.outages) == 1 and data.outages[0].start == at, data.outages
    longest = data.outages[0].seconds(data.run_end)
    assert abs(longest - gap) <= 0.1, (longest, gap)  # ended by the IB_RECONNECTED event, stored just after
    figures = figures_of(data, Thresholds())
    assert figures["longest_outage_seconds"] == round(longest, 1), figures
    summary = check_connection(data, Thresholds())[0].detail
    assert f"longest outage {longest:.0f}s" in summary, summary


def test_on_a_followed_sim_clock_a_hung_gateways_outage_is_the_silence_the_feed_measured(store: Store) -> None:
    """At 60x the same hang is minutes on the session's clock: the gap reads the FEED_RESUMED silence.

    The old stamp came TIMEOUT real seconds (some 180 simulated ones) into the silence.
    """
    from slob_cli.runtime.clock import FollowedClock
    from slob_cli.sim.gateway import SimGatewayThread

    with SimGatewayThread(seed=5, start=BUSY_START, speed=60.0) as fast:
        _hang_once(fast, store, 58, clock=FollowedClock.for_record())
    [down] = events_of(store, "IB_DISCONNECTED")
    [back] = events_of(store, "IB_RECONNECTED")
    [resumed] = events_of(store, "FEED_RESUMED")
    last_before = datetime.fromisoformat(resumed["last_before"])
    # Trades carry whole exchange seconds and the clock follows them at the pace it learned: seconds apart
    # (1-2 s here; the margins allow a loaded machine's lag, a tenth of a real second being 6 s at 60x).
    at = datetime.fromisoformat(down["at"])
    assert last_before - timedelta(seconds=10) <= at <= last_before + timedelta(seconds=10), (at, resumed)
    assert back["clock"] == "sim" and abs(back["gap_seconds"] - resumed["seconds"]) <= 10.0, (back, resumed)
