"""`slob dashboard --once` while another thread writes the store: one frame, no lock, no writes."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso
from slob_cli.cli.main import app
from slob_cli.core.models import Candle
from slob_cli.runtime.lock import acquire
from tests.conftest import eventually
from tests.opsdata import add_health
from tests.sqlfile import sql_value

UTC = timezone.utc


class Writer(threading.Thread):
    """Write one candle and one heartbeat per loop through its own connection until stopped."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(daemon=True)
        self.db_path = db_path
        self.written = 0
        self.stop = threading.Event()
        self.start_minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)

    def run(self) -> None:
        with Store.open(self.db_path) as store:
            run_id = store.start_run("paper", {}, datetime.now(UTC))  # the lock holder's run (this process)
            while not self.stop.is_set() and self.written < 5_000:
                price = 25_000 + self.written * 0.25
                minute = self.start_minute + timedelta(minutes=self.written)
                store.upsert_candles([Candle("NQ", minute, price, price + 1, price - 1, price + 0.5, 3, 3)])
                add_health(store, to_iso(datetime.now(UTC)), run_id=run_id)
                self.written += 1


def test_dashboard_once_reads_while_another_thread_writes(runner: CliRunner, db_path: Path) -> None:
    Store.open(db_path).close()
    writer = Writer(db_path)
    with acquire(db_path, "paper"):
        writer.start()
        try:
            eventually(lambda: writer.written >= 20)
            results = [runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "160"})
                       for _ in range(3)]
            eventually(lambda: writer.written >= 40)
        finally:
            writer.stop.set()
            writer.join(10)
    opens = []
    for result in results:
        assert result.exit_code == 0, result.output
        assert "slob paper (pid" in result.stdout and "gateway: connected" in result.stdout
        found = re.search(r"last \S+: O ([\d,.]+)", result.stdout)
        assert found, result.stdout
        opens.append(float(found.group(1).replace(",", "")))
    # Each frame shows a candle at least as new as the 20th written, never older than the frame before.
    assert opens[0] >= 25_000 + 19 * 0.25 and opens == sorted(opens)
    with Store.open(db_path) as store:
        assert [run["command"] for run in store.runs()] == ["paper"]  # the writer's: the dashboard recorded nothing
        assert sql_value(store.path, "SELECT count(*) FROM candles") == writer.written


def test_dashboard_on_missing_database_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "none.db"), "dashboard", "--once"])
    assert result.exit_code == 3 and "does not exist" in result.stderr


def test_dashboard_with_an_unknown_symbol_exits_2_naming_it(runner: CliRunner, db_path: Path) -> None:
    from slob_cli.adapters.store import Store

    Store.open(db_path).close()
    result = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once", "--symbol", "XX"])
    assert result.exit_code == 2  # was 0, with an empty "XX M1" chart
    assert result.stderr == "Error: --symbol 'XX' is not a known symbol (known: NQ, MNQ)\n"
    assert runner.invoke(app, ["--db", str(db_path), "dashboard", "--once", "--symbol", "mnq"]).exit_code == 0


def test_dashboard_once_at_80_columns_prints_every_price_whole(runner: CliRunner, db_path: Path) -> None:
    from tests.cli.test_status import populate

    with Store.open(db_path) as store:
        populate(store, datetime.now(UTC))
    result = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    words = result.stdout.replace("│", " ").split()
    for number in ("25,491.00", "25,440.00", "25,470.25", "25,405.00", "25,449.50", "WATCHING_LIQ2",
                   "slob:NQ-a-SHORT-2:target"):
        assert number in words, (number, result.stdout)
    assert "…" not in result.stdout


def test_dashboard_into_a_pipe_prints_a_frame_every_refresh(db_path: Path, store: Store) -> None:
    import os
    import subprocess
    import sys

    # A live view draws nothing into a pipe until it ends (and nothing at all when SIGTERM ends it).
    store.upsert_candles([Candle("NQ", datetime.now(UTC).replace(second=0, microsecond=0), 10, 11, 9, 10, 1, 1)])
    process = subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db_path), "dashboard", "--refresh", "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    titles: list[str] = []
    reader = threading.Thread(target=lambda: titles.extend(line for line in process.stdout if "slob dashboard" in line),
                              daemon=True)
    reader.start()
    try:
        eventually(lambda: len(titles) >= 2 or process.poll() is not None, timeout=30)
    finally:
        process.terminate()
        process.wait(10)
    assert len(titles) >= 2, process.stderr.read()
