"""`slob trade` as a real process: the live guard before any connection, SIGTERM and SIGKILL mid-trade.

The gateway is a separate `slob sim-gateway --lockstep` process serving the planted SHORT day paced at
120x, so it outlives the engine; `slob trade --lockstep` drives its clock. Lockstep, because a free-running
clock raced the engine's start-up: on a loaded machine `slob trade` connected after the entry (15:32) had
already filled, and the setup was only replayed from history. The clock now stands still while no engine
is connected (before the first start and between the SIGKILL and the restart).
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.pnl import money_text
from slob_cli.sim.gateway import SimGatewayThread
from slob_cli.sim.process import SimGatewayProcess
from tests.conftest import eventually
from tests.e2e.harness import slob_process
from tests.sqlfile import as_shown

SETUP = "NQ-20260106-S1"
BRACKET = {f"slob:{SETUP}:{role}" for role in ("entry", "stop", "target")}
SPEED = 120  # pacing only: the target fills before 15:50, seconds after the test sees the trade OPEN (15:32)


@pytest.fixture
def gateway() -> Iterator[SimGatewayProcess]:
    with SimGatewayProcess(seed=7, scenario="short_setup", start="2026-01-06T15:14Z", speed=SPEED,
                            lockstep=True) as process:
        yield process


def _trade_process(db: Path, gateway: SimGatewayProcess, client_id: int) -> Any:
    """Run `slob trade` against the gateway; kill it if the test leaves it running."""
    return slob_process("--db", str(db), "trade", "--port", str(gateway.port), "--client-id", str(client_id),
                        "--account", "DU1234567", "--lockstep")


def _query(db: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    try:
        with Store.open(db, readonly=True) as store:
            return list(store.db.query(sql, list(args)))
    except Exception:  # noqa: BLE001 - the file may be mid-migration while the engine starts
        return []


def _trade_status(db: Path) -> str | None:
    rows = _query(db, "SELECT status FROM trades WHERE setup_id=?", SETUP)
    return rows[0]["status"] if rows else None


def _wait_for_trade(db: Path, process: subprocess.Popen[str], status: str) -> None:
    """Wait until the stored trade has `status`; fail with what `slob trade` said if it ends or never gets there.

    Generous: the lockstep clock waits for the engine, so a slow machine is slow, never wrong.
    """
    try:
        eventually(lambda: _trade_status(db) == status or process.poll() is not None, timeout=120)
    except AssertionError:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the trade is {_trade_status(db)}, not {status}, after 120 s; slob trade said:\n{stderr[-4000:]}")
    if process.poll() is not None:
        pytest.fail(f"slob trade ended early: {process.communicate()}")


@pytest.mark.timeout(300)
def test_sigterm_with_position_open_exits_0_and_leaves_the_protective_orders(
        tmp_path: Path, gateway: SimGatewayProcess) -> None:
    db = tmp_path / "trade.db"
    with _trade_process(db, gateway, 31) as process:
        _wait_for_trade(db, process, "OPEN")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)  # it stops by itself (how fast is bench/'s business)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    [run] = _query(db, "SELECT * FROM runs")
    assert (run["command"], run["exit_code"]) == ("trade", 0) and run["ended_at"]
    working = {order["order_ref"]: order for order in gateway.orders(open_only=True)}
    assert set(working) == {f"slob:{SETUP}:stop", f"slob:{SETUP}:target"}, "protection stays at the broker"
    assert [p["position"] for p in gateway.positions()] == [-1]


@pytest.mark.timeout(400)  # two engine start-ups and two condition waits, on a loaded machine
def test_sigkill_with_position_open_then_restart_reconciles_without_a_second_bracket(
        tmp_path: Path, gateway: SimGatewayProcess) -> None:
    db = tmp_path / "trade.db"
    with _trade_process(db, gateway, 32) as first:
        _wait_for_trade(db, first, "OPEN")
        first.kill()
        first.communicate(timeout=60)
    # A restart uses the same client id: the orders at the broker are its own.
    with _trade_process(db, gateway, 32) as second:
        # The restarted engine keeps managing the position: the target fills and the trade closes.
        _wait_for_trade(db, second, "CLOSED")
        second.send_signal(signal.SIGTERM)
        _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    every = gateway.orders()
    assert sorted(order["order_ref"] for order in every) == sorted(BRACKET), "one bracket at the broker, once"
    stored = _query(db, "SELECT order_ref FROM orders")
    assert {row["order_ref"] for row in stored} == BRACKET
    [trade] = _query(db, "SELECT * FROM trades")
    assert (trade["status"], trade["exit_reason"]) == ("CLOSED", "target")
    assert [p["position"] for p in gateway.positions()] == [0]
    reconciled = _query(db, "SELECT run_id, payload FROM events WHERE type='RECONCILED' ORDER BY rowid")
    killed, restarted = _query(db, "SELECT * FROM runs ORDER BY id")
    assert restarted["id"] in {row["run_id"] for row in reconciled}, "the new engine reconciled on start"
    assert killed["ended_at"] is None and (restarted["exit_code"], bool(restarted["ended_at"])) == (0, True)
    assert len(_query(db, "SELECT * FROM events WHERE type='BRACKET_INTENT'")) == 1, "the restart decided nothing anew"


def test_live_account_is_refused_before_any_connection_unless_both_opt_ins(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with SimGatewayThread(live_account=True, accounts=("U1234567",)) as sim:
        base = ["--db", str(tmp_path / "live.db"), "trade", "--port", str(sim.port), "--account", "U1234567"]
        refused = runner.invoke(app, base)
        assert refused.exit_code == 3
        assert refused.stderr.strip().splitlines() == [
            "Error: account U1234567 is not a paper account (DU...); live trading needs --live and SLOB_ALLOW_LIVE=yes"]
        live_only = runner.invoke(app, [*base, "--live"])
        assert live_only.exit_code == 3
        assert live_only.stderr.strip().splitlines() == [
            "Error: account U1234567 is not a paper account (DU...); live trading needs SLOB_ALLOW_LIVE=yes"]
        assert sim.gateway.server.connections_accepted == 0, "refused before any connection"
        monkeypatch.setenv("SLOB_ALLOW_LIVE", "yes")
        allowed = runner.invoke(app, [*base, "--live", "--duration", "2s"])
        assert allowed.exit_code == 0, allowed.stderr
        assert sim.gateway.server.connections_accepted >= 1, "with both opt-ins the engine connected"
    with Store.open(tmp_path / "live.db", readonly=True) as store:
        runs = list(store.db.query("SELECT command, exit_code FROM runs"))
        connected = list(store.db.query("SELECT payload FROM events WHERE type='IB_CONNECTED'"))
    assert runs == [{"command": "trade", "exit_code": 0}], "the refused attempts never started a run"
    assert len(connected) == 1 and "U1234567" in connected[0]["payload"]


def test_session_summary_counts_what_a_followed_clock_session_did(tmp_path: Path, gateway: SimGatewayProcess) -> None:
    # The engine starts on the wall clock and jumps onto the gateway's 2026-01-06 on connect: the summary
    # and the runs row must count from the session's start on the gateway's clock, not from the wall clock.
    db = tmp_path / "trade.db"
    with _trade_process(db, gateway, 33) as process:
        eventually(lambda: _trade_status(db) == "CLOSED" or process.poll() is not None, timeout=60)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    [trade] = _query(db, "SELECT * FROM trades")
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in stdout.splitlines() if line.count("│") == 3}
    assert rows["orders"] == "3" and rows["fills"] == "2", stdout
    assert rows["setups"].startswith("SETUP_COMPLETE 1") or "SETUP_COMPLETE 1" in rows["setups"], stdout
    assert rows["P&L (closed, after commission)"] == money_text(trade["pnl_money"]), stdout
    assert trade["pnl_money"] > 0
    [run] = as_shown("runs", _query(db, "SELECT started_at, ended_at, stats FROM runs"))
    assert run["started_at"].startswith("2026-01-06T15:") and run["started_at"] <= run["ended_at"], run
    assert '"orders": 3' in run["stats"]
    # status reads the session on the gateway's clock too: its sim day shows the same closed trade and P&L.
    status = CliRunner().invoke(app, ["--db", str(db), "status", "--json"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.stdout)
    assert shown["clock"]["simulated"] is True
    assert (shown["today"]["trading_date"], shown["today"]["closed_trades"]) == ("2026-01-06", 1)
    assert shown["today"]["pnl_money"] == trade["pnl_money"]


def test_a_run_on_the_gateways_clock_is_stored_as_started_on_that_clock_while_it_runs(
        tmp_path: Path, gateway: SimGatewayProcess) -> None:
    # status, dashboard and web read the runs row while the session runs (and after a SIGKILL, forever):
    # its start must be on the clock of its heartbeats and events, not the machine's.
    db = tmp_path / "started.db"
    with _trade_process(db, gateway, client_id=41) as process:
        eventually(lambda: bool(_query(db, "SELECT 1 FROM health")) or process.poll() is not None, timeout=120)
        assert process.poll() is None, process.communicate()
        [run] = as_shown("runs", _query(db, "SELECT * FROM runs"))
        first_beat = as_shown("health", _query(db, "SELECT ts FROM health ORDER BY id LIMIT 1"))[0]
        events = as_shown("events", _query(db, "SELECT ts, type FROM events ORDER BY id"))
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    assert run["ended_at"] is None, "read while the session ran"
    assert run["data_mode"] == "sim", "status says what the dashboard says, while the session runs"
    assert run["started_at"].startswith("2026-01-06T15:") and run["started_at"] <= first_beat["ts"], (run, first_beat)
    # Its events too, the first connect's included: none sorts after the day as "newest" on the machine's date.
    assert events and all(e["ts"].startswith("2026-01-06T") for e in events), events[:3]


def test_a_trade_whose_duration_a_sigterm_cuts_short_never_exits_0(tmp_path: Path) -> None:
    # A gateway on this machine's time (the clock check passes), paced at real time: `--duration 1h`
    # cannot end inside the test, so the SIGTERM cuts the hour short. The summary still prints, then
    # one `Error:` line; exit 143 as a shell reports SIGTERM, and the run's row keeps that code.
    from datetime import UTC, datetime

    db = tmp_path / "trade.db"
    with SimGatewayProcess(seed=7, start=datetime.now(UTC), speed=1.0) as gateway:
        with slob_process("--db", str(db), "trade", "--port", str(gateway.port), "--client-id", "36",
                          "--account", "DU1234567", "--duration", "1h") as process:
            eventually(lambda: _query(db, "SELECT 1 FROM events WHERE type='IB_CONNECTED'") != []
                       or process.poll() is not None, timeout=60)
            assert process.poll() is None, process.communicate()
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr
    assert stdout.count("slob session summary") == 1 and "Traceback" not in stderr  # printed once, not twice
    assert [line for line in stderr.splitlines() if line.startswith("Error:")] == [
        "Error: trade was cut short: SIGTERM stopped it before its --duration"], stderr
    [run] = _query(db, "SELECT command, exit_code, stats FROM runs")
    assert (run["command"], run["exit_code"]) == ("trade", 143) and '"stopped_by": "SIGTERM"' in run["stats"]
