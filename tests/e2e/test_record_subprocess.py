"""`slob record` as a real process against the simulated gateway, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.sim.gateway import SimGatewayThread
from tests.conftest import eventually
from tests.sqlfile import sql_rows


def _ticks(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with Store.open(db, readonly=True) as store:
            return store.tick_count()
    except Exception:  # noqa: BLE001 - the file may be mid-migration while the recorder starts
        return 0


@contextmanager
def _recording(db: Path, port: int, client_id: int, symbols: str,
               env: dict[str, str] | None = None, *extra: str) -> Iterator[subprocess.Popen[str]]:
    """Run `slob record` until it has stored 20 ticks, then hand it over; kill it if it still runs at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db), "record", "--port", str(port),
         "--client-id", str(client_id), "--no-warm-up", "--symbols", symbols, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or dict(os.environ),
    )
    try:
        eventually(lambda: _ticks(db) >= 20 or process.poll() is not None, timeout=30, interval=0.05)
        assert process.poll() is None, process.communicate()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_record_streams_ticks_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "record.db"
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z") as gateway:
        with _recording(db, gateway.port, 61, "NQ,MNQ") as process:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "Recorded" in stdout and "ticks" in stdout and "0 gaps not recovered" in stdout
    assert "data sim)" in stdout  # the simulated gateway names its data farm as such: never "data live"
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        rows = sql_rows(store.path, "SELECT count(*), min(size), count(DISTINCT local_symbol) FROM ticks")[0]
        locals_ = {row[0] for row in sql_rows(store.path, "SELECT DISTINCT local_symbol FROM ticks")}
    assert run["command"] == "record" and run["exit_code"] == 0 and run["ended_at"]
    assert run["data_mode"] == "sim"
    # On the gateway's clock (its 2026-03-10 trading day), as the ticks are: started before the first, ended after the last.
    span = sql_rows(store.path, "SELECT min(ts), max(ts) FROM ticks")[0]
    started, ended = sql_rows(store.path, "SELECT started_at, ended_at FROM runs WHERE id=?", (run["id"],))[0]
    assert started <= span[0] + 1_000_000 and ended >= span[1], (started, ended, span)
    assert str(run["started_at"]).startswith("2026-03-10"), run["started_at"]
    stats = json.loads(run["stats"])
    assert stats["ticks_stored"] == rows[0] >= 20 and rows[1] > 0
    assert locals_ == {"NQH6", "MNQH6"}
    assert stats["dropped"] == 0 and stats["gaps"] == 0


def test_record_with_a_duration_ends_by_itself_with_exit_0(tmp_path: Path) -> None:
    db = tmp_path / "record.db"
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z") as gateway:
        result = subprocess.run(
            [sys.executable, "-m", "slob_cli", "--db", str(db), "record", "--port", str(gateway.port),
             "--client-id", "62", "--no-warm-up", "--duration", "2s"],
            capture_output=True, text=True, env=dict(os.environ), timeout=30,
        )
    assert result.returncode == 0, result.stderr
    assert "stopped by" not in result.stdout
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        assert run["exit_code"] == 0 and store.tick_count() > 0
        assert json.loads(run["stats"])["stopped_by"] is None


def test_record_stopped_by_a_signal_before_its_duration_says_so_in_the_summary_and_the_runs_row(
        tmp_path: Path) -> None:
    db = tmp_path / "record.db"
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z") as gateway:
        with _recording(db, gateway.port, 63, "NQ", None, "--duration", "1h") as process:
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=20)
    # A clean stop, but the hour asked for was cut short: never exit 0 (130, as a shell reports SIGINT).
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert "stopped by SIGINT before its --duration/--until." in stdout, stdout
    assert [line for line in stderr.splitlines() if line.startswith("Error:")] == [
        "Error: record was cut short: SIGINT stopped it before its --duration/--until"], stderr
    with Store.open(db, readonly=True) as store:
        run = store.runs(1)[0]
        assert json.loads(run["stats"])["stopped_by"] == "SIGINT" and run["exit_code"] == 130
        assert store.tick_count() > 0  # what it recorded is kept



def test_record_under_a_drop_a_stall_and_a_restart_stores_what_the_market_printed(tmp_path: Path) -> None:
    from tests.adapters.ib.test_recorder_lossless import compare_with_market

    db = tmp_path / "record.db"

    def count(kind: str) -> int:
        try:
            return int(sql_rows(db, "SELECT count(*) FROM events WHERE type=?", (kind,))[0][0])
        except Exception:  # noqa: BLE001 - the file may not exist or be mid-migration yet
            return 0

    env = {**os.environ, "SLOB_STALE_AFTER": "1", "SLOB_IB_CONNECT_TIMEOUT": "2"}
    with SimGatewayThread(seed=9, start="2026-03-10T14:35Z") as gateway:
        with _recording(db, gateway.port, 63, "NQ", env) as process:
            for index, fault in enumerate(("drop", "stall", "restart"), start=1):
                if fault == "drop":
                    gateway.drop_connections(rst=True)
                elif fault == "restart":
                    gateway.restart(1.0)
                else:  # the market prints on while nothing streams, until the watchdog resubscribes
                    stale = count("DATA_STALE")
                    gateway.set_muted(True)
                    try:
                        eventually(lambda: count("DATA_STALE") > stale, timeout=30, interval=0.05)  # noqa: B023
                    finally:
                        gateway.set_muted(False)
                eventually(lambda: count("DATA_BACKFILLED") >= index or process.poll() is not None,  # noqa: B023
                           timeout=60, interval=0.05)
                assert process.poll() is None, process.communicate()
            ticks = _ticks(db)
            eventually(lambda: _ticks(db) > ticks + 10, timeout=30, interval=0.05)  # streaming again
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
        with Store.open(db, readonly=True) as store:
            _, gaps = compare_with_market(store, gateway)
            stats = json.loads(store.runs(1)[0]["stats"])
    assert gaps == [] and stats["gaps"] == 0 and stats["backfilled"] > 0
    assert f"{stats['backfilled']:,} backfilled after outages, 0 gaps not recovered" in stdout
    assert "Traceback" not in stderr
    # the reset is said once, in slob's words with the socket's reason; ib_async's bare line is not repeated
    assert "lost the gateway connection ([Errno 104] Connection reset by peer); reconnecting" in stderr, stderr
    assert not [line for line in stderr.splitlines() if "ib_async" in line and "[Errno" in line], stderr
