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


def test_a_paper_sim_cut_short_by_a_signal_ends_its_run_where_it_says_it_got_to(tmp_path: Path) -> None:
    """`paper --sim` stopped by SIGTERM said "got to 08:19:03 UTC (virtual)" while its runs row (status's
    `ended`, its "now") and its report's duration read 08:20:02: the embedded gateway served the step in
    flight after the engine had stopped taking anything in. The run ends where it got to, on every surface."""
    import json
    import re
    import signal
    from datetime import datetime, timezone

    from tests.conftest import eventually
    from tests.e2e.harness import slob_process
    from tests.sqlfile import sql_rows

    db = tmp_path / "paper.db"

    def candles() -> int:
        try:
            return int(sql_rows(db, "SELECT count(*) FROM candles")[0][0]) if db.exists() else 0
        except Exception:  # noqa: BLE001 - the store is still being created
            return 0

    with slob_process("--db", str(db), "paper", "--sim", "--duration", "24", "--speed", "500") as process:
        eventually(lambda: candles() >= 20 or process.poll() is not None, timeout=60, interval=0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 5, stderr
    got_to = re.search(r"got to (\S+ \S+) UTC \(virtual\)", stderr)
    assert got_to is not None, stderr
    at = datetime.fromisoformat(got_to.group(1)).replace(tzinfo=timezone.utc)
    ((started, ended),) = sql_rows(db, "SELECT started_at, ended_at FROM runs")
    assert ended == int(at.timestamp() * 1_000_000), (datetime.fromtimestamp(ended / 1e6, timezone.utc), at)
    report = json.loads((tmp_path / "paper-paper-run1.json").read_text())
    assert report["figures"]["duration_hours"] == round((ended - started) / 3_600_000_000, 3)
