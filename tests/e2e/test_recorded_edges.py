"""A recording's first and last minute are partial: `candles aggregate` does not pass them off as whole.

A real `slob record` process records from the simulated gateway (60x) over a real socket and is
stopped by SIGTERM mid-minute; the ticks it stored are then aggregated. The recording began after
its first minute had begun and ended before its last one was over: those two minutes are left out
(the summary and --json count them), every minute between becomes a candle.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.cli.main import app
from slob_cli.runtime.views import counted
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_rows

MINUTE_US = 60_000_000


def _minutes(db_path: Path) -> list[int]:
    if not db_path.exists():
        return []
    try:
        rows = sql_rows(db_path, "SELECT DISTINCT ts / 60000000 FROM ticks WHERE symbol = 'NQ' ORDER BY 1")
    except Exception:  # noqa: BLE001 - the store is still being created
        return []
    return [row[0] for row in rows]


def _record(db_path: Path, port: int, minutes: int, warm_up: bool = False,
            then: Callable[[], bool] = lambda: True) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "record", "--port", str(port), "--client-id", "62",
         *([] if warm_up else ["--no-warm-up"]), "--symbols", "NQ"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: len(_minutes(db_path)) >= minutes and then(), timeout=60, interval=0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_the_first_and_last_minute_of_a_recording_are_left_out(db_path: Path, runner: CliRunner) -> None:
    with SimGatewayThread(seed=11, start="2026-03-10T14:35:20Z", speed=60) as gateway:
        _record(db_path, gateway.port, minutes=4)
    recorded = _minutes(db_path)
    assert len(recorded) >= 4
    result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    stored = [row[0] // MINUTE_US for row in sql_rows(db_path, "SELECT ts FROM candles WHERE symbol = 'NQ' ORDER BY ts")]
    ((ended,),) = sql_rows(db_path, "SELECT ended_at FROM runs")
    # Stopped mid-minute, the recording ended before its last minute was over (in the rare case that
    # SIGTERM came after the minute ended but before its next trade arrived, that minute was whole).
    whole_last = ended >= (recorded[-1] + 1) * MINUTE_US
    assert stored == (recorded[1:] if whole_last else recorded[1:-1])
    left_out = 1 if whole_last else 2
    assert (report["candles"], report["partial_minutes"]) == (len(recorded) - left_out, left_out)
    # Every tick read is counted once: in a candle, or in a minute left out (the summary read "Aggregated
    # 3,589 ticks into 119 candles" of candles holding 3,570, without saying where the other 19 went).
    ((in_candles,),) = sql_rows(db_path, "SELECT sum(tick_count) FROM candles WHERE symbol = 'NQ'")
    assert report["ticks"] == in_candles + report["partial_minute_ticks"] and report["partial_minute_ticks"] > 0
    text = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate"])
    assert text.exit_code == 0 and f"left out {left_out} partial minute" in text.stdout, text.stdout
    assert f"({counted(report['partial_minute_ticks'], 'tick')})" in text.stdout, text.stdout


def test_a_recording_with_warm_up_leaves_no_hole_at_the_minute_it_subscribed_in(db_path: Path,
                                                                                runner: CliRunner) -> None:
    """`record` then `candles aggregate` (the README's gateway tour) left the minute the recording subscribed
    in without a candle: the warm-up's history stopped before it, and aggregate leaves it out as partial.
    The reference window then had 389 bars of 390. The recorder fetches that minute's bar once it is over."""
    def subscription_minute_stored() -> bool:
        first = _minutes(db_path)[0]
        return bool(sql_rows(db_path, "SELECT 1 FROM candles WHERE symbol = 'NQ' AND ts = ?", (first * MINUTE_US,)))

    with SimGatewayThread(seed=11, start="2026-03-10T14:35:20Z", speed=60) as gateway:
        _record(db_path, gateway.port, minutes=4, warm_up=True, then=subscription_minute_stored)
    result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["partial_minutes"] >= 1  # the recording's own ticks of it are still left out
    recorded = _minutes(db_path)
    stored = {row[0] // MINUTE_US: row[1] for row in sql_rows(
        db_path, "SELECT ts, source FROM candles WHERE symbol = 'NQ' ORDER BY ts")}
    assert stored[recorded[0]] == "ib_history"
    assert all(minute in stored for minute in recorded[:-1]), "every minute but a partial last one has its candle"
