"""`slob paper --sim`: an accelerated validation run end to end, its report, and failing criteria."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from slob_cli.cli.main import app
from tests.conftest import eventually

# 07:30 UTC start + 14 h covers the planted SHORT (morning) and LONG (afternoon) and their exits.
# Lockstep: the run is the same at any speed, so the pacing is lifted.
ARGS = ["paper", "--sim", "--duration", "14h", "--speed", "1000000", "--json"]


def _criteria(stdout: str) -> dict[str, dict[str, Any]]:
    data = json.loads(stdout[stdout.index("{"):])
    return {c["name"]: c for c in data["criteria"]}, data


def test_paper_sim_run_passes_with_checked_figures(runner, db_path: Path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), *ARGS])
    criteria, data = _criteria(result.stdout)
    assert result.exit_code == 0, [c for c in criteria.values() if not c["passed"]]
    assert all(c["passed"] for c in criteria.values() if c["severity"] == "error"), criteria
    assert criteria["no look-ahead"]["passed"] and criteria["no duplicate orders"]["passed"]
    # The sim's data is real-time but never called live; its avgCost holds the opening commission, as
    # IB's does, so the broker's unrealized P&L and ours agree to the cent at every heartbeat.
    assert criteria["live market data"]["detail"] == "simulated real-time data throughout"
    assert criteria["unrealized P&L matches the broker"]["detail"].startswith("largest difference $0.00 over ")
    figures = data["figures"]
    assert figures["setups_by_state"].get("SETUP_COMPLETE") == 2
    assert figures["orders"]["total"] == 6 and figures["orders"]["by_role"] == {"entry": 2, "stop": 2, "target": 2}
    assert figures["fills"]["count"] == 4
    assert figures["candles"]["persisted"] == figures["candles"]["generated"] > 0
    assert figures["trades"]["closed"] == 2 and figures["pnl"]["money"] > 0  # both planted setups hit target
    report_md = db_path.parent / f"{db_path.stem}-paper-run1.md"
    assert report_md.exists() and "PASS" in report_md.read_text()
    assert json.loads(report_md.with_suffix(".json").read_text())["passed"] is True


def test_paper_with_a_gateway_restart_fails_strict_with_exit_5(runner, db_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.runtime import wiring

    original = wiring.prepare_session

    def prepare_with_restart(*args: Any, **kwargs: Any) -> Any:
        wired = original(*args, **kwargs)
        wired.options.policy = type(wired.options.policy)(base=0.05, cap=0.2)
        start = wired.clock.now()

        def restart_an_hour_in() -> None:  # virtual time: the same moment of the run at any speed, under any load
            eventually(lambda: wired.clock.now() >= start + timedelta(hours=1), timeout=300, interval=0.002)
            wired.gateway.restart(0.3, wait=False)

        threading.Thread(target=restart_an_hour_in, daemon=True).start()
        return wired

    monkeypatch.setattr(wiring, "prepare_session", prepare_with_restart)
    result = runner.invoke(app, ["--db", str(db_path), *ARGS, "--strict"])
    assert result.exit_code == 5, result.stdout + result.stderr
    criteria, _ = _criteria(result.stdout)
    assert criteria["connection stable"]["passed"] is False
    assert "reconnect" in criteria["connection stable"]["detail"]


def test_paper_with_a_dropped_tick_burst_fails_strict_with_exit_5(runner, db_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.runtime.engine import Engine

    original = Engine._on_tick
    burst = {"done": False}

    def on_tick(self: Engine, tick: Any, local_symbol: str) -> None:
        if not burst["done"] and tick.ts.hour == 15:
            burst["done"] = True  # one burst, bigger than the buffer, before the consumer can run
            for _ in range(self.buffer.maxsize + 50):
                original(self, tick, local_symbol)
        original(self, tick, local_symbol)

    monkeypatch.setattr(Engine, "_on_tick", on_tick)
    result = runner.invoke(app, ["--db", str(db_path), *ARGS, "--strict"])
    assert result.exit_code == 5, result.stdout + result.stderr
    criteria, data = _criteria(result.stdout)
    assert criteria["no dropped ticks"]["passed"] is False and data["figures"]["dropped_ticks"] >= 50
    assert criteria["candles persisted"]["passed"] is True  # drops are reported, nothing is lost silently


def test_paper_catches_an_order_sent_twice_with_exit_5(runner, db_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.runtime.executor import OrderExecutor

    original = OrderExecutor._send

    def send_twice(self: OrderExecutor, intents: list[Any]) -> bool:
        # A planted bug: the same bracket goes to the broker twice.
        first = original(self, intents)
        original(self, intents)
        return first

    monkeypatch.setattr(OrderExecutor, "_send", send_twice)
    result = runner.invoke(app, ["--db", str(db_path), *ARGS])
    assert result.exit_code == 5, result.stdout + result.stderr
    criteria, _ = _criteria(result.stdout)
    assert criteria["no duplicate orders"]["passed"] is False


def test_judged_at_is_the_wall_clock_of_the_judgement_from_paper_sim_and_from_report(runner, db_path: Path) -> None:
    """One field, one clock: `paper --sim` wrote judged_at on the sim's day, a later `report` on the wall clock."""
    from datetime import datetime, timezone

    def judged(action: list[str]) -> tuple[datetime, datetime, datetime]:
        before = datetime.now(timezone.utc)
        result = runner.invoke(app, ["--db", str(db_path), *action])
        assert result.exit_code == 0, result.output
        meta = json.loads(db_path.with_name(f"{db_path.stem}-paper-run1.json").read_text())["meta"]
        return before, datetime.fromisoformat(meta["judged_at"]), datetime.now(timezone.utc)

    before, at, after = judged(ARGS)
    assert before <= at <= after, (before, at, after)  # not the simulated day's end
    before, at, after = judged(["report", "--no-replay", "--json"])
    assert before <= at <= after, (before, at, after)


def test_paper_speed_takes_what_run_speed_takes(runner, db_path: Path) -> None:
    """`run --sim --speed max` ran; `paper --sim --speed max` was refused: one parser, the same values."""
    for bad in ("fast", "0", "-3"):
        refused = [runner.invoke(app, ["--db", str(db_path), command, "--sim", "--speed", bad])
                   for command in ("run", "paper")]
        assert [r.exit_code for r in refused] == [2, 2], [r.output for r in refused]
        assert refused[0].stderr == refused[1].stderr and refused[0].stderr.startswith("Error: --speed"), refused[0].stderr
    args = [a if a != "1000000" else "max" for a in ARGS]
    result = runner.invoke(app, ["--db", str(db_path), *args])
    criteria, data = _criteria(result.stdout)
    assert result.exit_code == 0, [c for c in criteria.values() if not c["passed"]]
    assert data["figures"]["trades"]["closed"] == 2
