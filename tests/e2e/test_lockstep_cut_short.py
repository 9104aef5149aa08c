"""A lockstep run cut short says what happened: the gateway left a step unanswered, or the engine could ask for none.

The engine asks for each step of virtual time only once nothing is in flight; when it waits longer
than its patience (real seconds) the run is cut short. If it was waiting itself (a dropped
connection, a reconciliation, history held by IB's pacing) the gateway did nothing wrong, and the
message must not blame it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

from slob_cli.errors import RunCutShort
from slob_cli.runtime.events import EventType
from tests.e2e.harness import Harness, at, start_harness


def _cut_short_after_ten_candles(tmp_path: Path, fault: Callable[[Harness], None]) -> str:
    """Run the planted SHORT day with 1 s of patience, do `fault` at the tenth candle; return the one-line error."""
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed="max")
        candles: list[object] = []

        def at_the_tenth(event: object) -> None:
            candles.append(event)
            if len(candles) == 10:
                fault(h)

        with pytest.raises(RunCutShort) as cut:
            h.session(at(16, 45), on={EventType.CANDLE_COMPLETED: at_the_tenth}, patience=1.0)
    message = str(cut.value)
    assert "\n" not in message and cut.value.exit_code == 1
    assert "2026-01-06 14:3" in message and "before its end at 2026-01-06 16:45 UTC" in message
    assert "candles processed" in message
    return message


def test_a_gateway_that_stops_serving_cuts_the_run_short_with_how_far_it_got(tmp_path: Path) -> None:
    message = _cut_short_after_ten_candles(tmp_path, lambda h: h.gateway.set_silent(True))
    assert message.startswith("run cut short: the simulated gateway served no step for 1s (real time)"), message


def test_a_run_whose_gateway_went_down_is_cut_short_as_waiting_for_the_connection(tmp_path: Path) -> None:
    # The gateway refuses connections far longer than the patience: the engine could ask for no step.
    message = _cut_short_after_ten_candles(tmp_path, lambda h: h.gateway.restart(20.0, wait=False))
    assert "served no step" not in message, message
    assert message.startswith("run cut short: no step asked for 1s (real time) while the engine waited for "
                              "the connection to the simulated gateway (down, reconnecting)"), message
