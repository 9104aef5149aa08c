"""`slob test-connection` against the simulated gateway: all pass, and each broken condition's exit and advice."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from slob_cli.cli.main import app


@pytest.fixture(autouse=True)
def _quiet_simulator() -> Iterator[None]:
    """Keep the simulator thread's info lines off the CliRunner's stderr, which closes after each invoke."""
    logger = logging.getLogger("slob.sim")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


@pytest.fixture
def sim() -> Any:
    """Return the simulated-gateway module."""
    import slob_cli.sim.gateway

    return slob_cli.sim.gateway


@pytest.fixture
def wall_clock_gateway(sim: Any) -> Iterator[Any]:
    """Return a gateway whose clock follows the wall clock (so the skew check can pass)."""
    from datetime import datetime, timezone

    from slob_cli.sim.market import GeneratedMarket, ShiftedMarket

    # Busy at any hour (the CME halt or a quiet Asian night would starve the tick check).
    market = ShiftedMarket.busy_at(GeneratedMarket(9), datetime.now(timezone.utc))
    with sim.SimGatewayThread(seed=9, market=market) as gateway:
        yield gateway


def checks_of(result: Any) -> dict[str, dict[str, Any]]:
    """Return the JSON checks by name."""
    return {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def test_every_check_passes_against_the_simulated_gateway(runner, wall_clock_gateway) -> None:
    result = runner.invoke(app, ["test-connection", "--port", str(wall_clock_gateway.port), "--timeout", "8",
                                 "--client-id", "51"])
    assert result.exit_code == 0, result.stdout
    for name in ("TCP reachable", "Handshake", "Account", "Paper or live", "Contract", "Market data type", "Ticks",
                 "Historical bars", "Clock skew"):
        assert name in result.stdout
    assert "server version 178" in result.stdout and "DU1234567" in result.stdout
    assert "all checks passed" in result.stdout


def test_json_output_carries_the_contract_and_tick_details(runner, wall_clock_gateway) -> None:
    result = runner.invoke(app, ["test-connection", "--port", str(wall_clock_gateway.port), "--json",
                                 "--client-id", "52", "--timeout", "8"])
    assert result.exit_code == 0
    checks = checks_of(result)
    assert all(check["ok"] for check in checks.values())
    assert checks["Contract"]["detail"].startswith("NQ") and "expiry" in checks["Contract"]["detail"]
    assert "ticks in" in checks["Ticks"]["detail"] and "last" in checks["Ticks"]["detail"]
    assert checks["Paper or live"]["detail"].startswith("paper")


def test_the_checks_show_instants_in_the_display_zone(runner, wall_clock_gateway) -> None:
    result = runner.invoke(app, ["test-connection", "--port", str(wall_clock_gateway.port), "--json",
                                 "--client-id", "57", "--timeout", "8"], env={"SLOB_DISPLAY_TZ": "Asia/Tokyo"})
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = checks_of(result)
    for name in ("Ticks", "Historical bars"):
        detail = checks[name]["detail"]
        assert detail.endswith(" Asia/Tokyo") and "+00:00" not in detail, detail


def test_wrong_account_fails_with_exit_5_and_names_the_managed_accounts(runner, wall_clock_gateway) -> None:
    result = runner.invoke(app, ["test-connection", "--port", str(wall_clock_gateway.port), "--json",
                                 "--account", "DU0000000", "--client-id", "53", "--timeout", "8"])
    assert result.exit_code == 5
    account = checks_of(result)["Account"]
    assert account["ok"] is False and "DU0000000" in account["detail"] and "DU1234567" in account["detail"]
    assert "--account" in account["advice"]


def test_no_market_data_fails_with_exit_5_and_plain_advice(runner, sim) -> None:
    with sim.SimGatewayThread(seed=9, delayed=True) as gateway:
        result = runner.invoke(app, ["test-connection", "--port", str(gateway.port), "--json", "--client-id", "54",
                                     "--timeout", "5"])
    assert result.exit_code == 5
    check = checks_of(result)["Market data type"]
    assert check["ok"] is False and "DELAYED" in check["detail"]
    assert "subscribe" in check["advice"].lower()


class _NoHistory:
    """A market that trades but whose historical-data farm has nothing (wraps a real market source)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def candles_between(self, start: Any, end: Any) -> list[Any]:
        return []


def test_no_history_fails_with_exit_5_and_advice(runner, sim) -> None:
    from datetime import datetime, timezone

    from slob_cli.sim.market import ShiftedMarket, build_market

    market = ShiftedMarket.busy_at(build_market(seed=9), datetime.now(timezone.utc))
    with sim.SimGatewayThread(seed=9, market=_NoHistory(market)) as gateway:
        result = runner.invoke(app, ["test-connection", "--port", str(gateway.port), "--json", "--client-id", "55",
                                     "--timeout", "5"])
    assert result.exit_code == 5
    checks = checks_of(result)
    assert checks["Ticks"]["ok"] is True
    assert checks["Historical bars"]["ok"] is False and "no one-minute bars" in checks["Historical bars"]["detail"]
    assert checks["Historical bars"]["advice"]


def test_record_with_an_account_the_login_does_not_manage_exits_5_in_one_line(runner, wall_clock_gateway,
                                                                              db_path) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "record", "--port", str(wall_clock_gateway.port),
                                 "--account", "DU0000000", "--client-id", "56", "--duration", "5s"])
    assert result.exit_code == 5
    assert result.stderr.count("Error:") == 1 and "DU0000000 is not managed" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_session_that_fell_back_to_delayed_data_stays_marked_delayed_after_it_ends(runner, sim, tmp_path) -> None:
    import json
    from datetime import datetime, timezone

    from slob_cli.sim.market import GeneratedMarket, ShiftedMarket

    db = tmp_path / "delayed.db"
    market = ShiftedMarket.busy_at(GeneratedMarket(9), datetime.now(timezone.utc))
    with sim.SimGatewayThread(seed=9, market=market, delayed=True) as gateway:
        result = runner.invoke(app, ["--db", str(db), "trade", "--port", str(gateway.port), "--client-id", "58",
                                     "--account", "DU1234567", "--duration", "5s"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "MARKET DATA IS DELAYED" in result.stderr
    status = json.loads(runner.invoke(app, ["--db", str(db), "status", "--json"]).stdout)
    assert status["runs"][0]["data_mode"] == "delayed", status["runs"]  # as the run said while it ran


def test_record_against_the_simulated_gateway_says_its_data_is_simulated_everywhere(runner, wall_clock_gateway,
                                                                                     tmp_path) -> None:
    db = tmp_path / "sim.db"
    result = runner.invoke(app, ["--db", str(db), "record", "--port", str(wall_clock_gateway.port),
                                 "--client-id", "59", "--duration", "2s", "--no-warm-up"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "data sim)" in result.stdout and "data live" not in result.stdout
    assert "[SIMULATED DATA]" in result.stderr and "[LIVE]" not in result.stderr  # the status line
    status = json.loads(runner.invoke(app, ["--db", str(db), "status", "--json"]).stdout)
    assert status["runs"][0]["data_mode"] == "sim", status["runs"]
    checks = checks_of(runner.invoke(app, ["test-connection", "--port", str(wall_clock_gateway.port), "--json",
                                           "--client-id", "60", "--timeout", "8"]))
    assert checks["Market data type"]["detail"].startswith("sim (live)"), checks["Market data type"]


def test_a_trade_session_on_the_simulated_gateway_stays_marked_sim_after_it_ends(runner, wall_clock_gateway,
                                                                                   tmp_path) -> None:
    db = tmp_path / "trade.db"
    result = runner.invoke(app, ["--db", str(db), "trade", "--port", str(wall_clock_gateway.port), "--client-id", "61",
                                 "--account", "DU1234567", "--duration", "3s"])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "│ data" in result.stdout and "sim" in next(line for line in result.stdout.splitlines() if "│ data" in line)
    status = json.loads(runner.invoke(app, ["--db", str(db), "status", "--json"]).stdout)
    assert status["runs"][0]["data_mode"] == "sim", status["runs"]  # was "live" once the session ended


def test_record_until_is_a_time_of_day_on_a_simulated_gateways_clock(runner, sim, tmp_path) -> None:
    """`--until 16:00` against a sim set at 15:58:50 (Stockholm) ends at 16:00 of the simulated day, not the wall's."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    db = tmp_path / "until.db"
    with sim.SimGatewayThread(seed=5, start="2026-03-10T14:58:50Z", speed=30.0) as gateway:
        # --duration (real time) is the safety net: 20 real s are 10 simulated minutes, well past 16:00.
        result = runner.invoke(app, ["--db", str(db), "record", "--port", str(gateway.port), "--client-id", "62",
                                     "--until", "16:00", "--duration", "20s", "--no-warm-up"])
    assert result.exit_code == 0, result.stdout + result.stderr
    run = json.loads(runner.invoke(app, ["--db", str(db), "status", "--json"]).stdout)["runs"][0]
    ended = datetime.fromisoformat(run["ended_at"]).astimezone(ZoneInfo("Europe/Stockholm"))
    assert ended.date().isoformat() == "2026-03-10", run
    assert "16:00:00" <= ended.strftime("%H:%M:%S") < "16:01:00", run
