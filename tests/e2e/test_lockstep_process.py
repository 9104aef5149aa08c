"""`slob trade --lockstep` against `slob sim-gateway --lockstep` in another process: the in-process result."""

from __future__ import annotations

import re
import signal
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from slob_cli.adapters.store import Store
from slob_cli.sim.process import SimGatewayProcess
from tests.conftest import eventually
from tests.e2e.harness import UTC, at, slob_process, start_harness
from tests.sqlfile import sql_rows

START = datetime(2026, 1, 6, 15, 14, tzinfo=UTC)
TRADE = "SELECT entry_time, entry_price, exit_time, exit_price, exit_reason, pnl_money, status FROM trades"
FILLS = "SELECT order_ref, side, quantity, price, ts, commission FROM fills ORDER BY ts, order_ref"


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    try:
        with Store.open(db, readonly=True) as store:
            return [tuple(row) for row in sql_rows(store.path, sql)]
    except Exception:  # noqa: BLE001 - the file may be mid-migration while the engine starts
        return []


def test_trade_in_another_process_follows_the_lockstep_gateway_to_the_in_process_result(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed="max", start=START)
        h.session(at(15, 50))
        expected_trade, expected_fills = _rows(tmp_path / "engine.db", TRADE), _rows(tmp_path / "engine.db", FILLS)
    assert expected_trade and expected_trade[0][-1] == "CLOSED"

    db = tmp_path / "trade.db"
    with SimGatewayProcess(seed=7, scenario="short_setup", start=START, speed="max", lockstep=True) as gateway:
        with slob_process("--db", str(db), "trade", "--port", str(gateway.port), "--client-id", "41",
                          "--account", "DU1234567", "--lockstep") as process:
            eventually(lambda: (_rows(db, TRADE) and _rows(db, TRADE)[0][-1] == "CLOSED") or process.poll() is not None,
                       timeout=60)
            assert process.poll() is None, process.communicate()
            status = gateway.status()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert re.search(r"\bdata\b\W+sim\b", stdout), "the summary names the simulated feed, not 'live'"
    with Store.open(db, readonly=True) as store:
        assert [row["data_mode"] for row in store.query("SELECT data_mode FROM runs")] == ["sim"]
    assert _rows(db, TRADE) == expected_trade, "same entry, exit and P&L as the in-process lockstep run"
    assert _rows(db, FILLS) == expected_fills
    assert status["lockstep"]["followers"] == 1 and status["lockstep"]["steps"] > 30
    assert status["served"]["count"] > 0
