"""`slob candles backfill` against the simulated gateway: a month across a roll, resumed, never duplicated."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.calendar import load_calendar
from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.adapters.ib.history import PACING_STATE_KEY
from slob_cli.adapters.store import Store, from_us
from slob_cli.cli.main import app
from slob_cli.runtime.backfill import backfill
from slob_cli.sim.gateway import SimGatewayThread
from slob_cli.sim.scenarios import SCENARIOS, build_scenario
from slob_cli.sim.scripted import ScriptedMarket
from tests.sqlfile import sql_rows

UTC = timezone.utc
JUNE = [date(2025, 6, 1) + timedelta(days=offset) for offset in range(30)]
ROLL = date(2025, 6, 12)  # Thursday eight days before the 20 June 2025 expiry of NQM5


@pytest.fixture(scope="module")
def june() -> list[Any]:
    """Return scripted candles of every NYSE trading day of June 2025 (the first 2 h of each: the sim
    turns every candle into ticks, and whole days would cost the test half a minute of CPU)."""
    calendar = load_calendar(date(2025, 5, 1), date(2025, 7, 31))
    days = [day for day in JUNE if calendar.is_session(day)]
    return [c for index, day in enumerate(days)
            for c in build_scenario(SCENARIOS[index % len(SCENARIOS)], day, seed=index, calendar=calendar)[:120]]


@pytest.fixture(scope="module")
def market(june: list[Any]) -> ScriptedMarket:
    """Return the scripted June market (built once: it turns every candle into ticks)."""
    return ScriptedMarket(june, seed=3)


@pytest.fixture
def gateway(market: ScriptedMarket) -> Iterator[Any]:
    """Serve June 2025 from a gateway whose clock stands on 1 July 2025 (NQM5 has expired)."""
    with SimGatewayThread(seed=3, start=datetime(2025, 7, 1, 13, 0, tzinfo=UTC), speed=1.0, market=market) as sim:
        yield sim


def _stored(db_path: Path) -> list[tuple[Any, ...]]:
    with Store.open(db_path) as store:
        return sql_rows(store.path,
            "SELECT ts, open, high, low, close, volume, source, local_symbol FROM candles ORDER BY ts")


def test_month_backfills_across_the_roll_and_a_rerun_adds_nothing(runner: CliRunner, db_path: Path, gateway: Any,
                                                                 june: list[Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    args = ["--db", str(db_path), "candles", "backfill", "--symbol", "NQ", "--from", "2025-06-01",
            "--to", "2025-06-30", "--port", str(gateway.port), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    stored = _stored(db_path)
    assert [(row[0], row[1], row[2], row[3], row[4]) for row in stored] == [
        (int(c.ts.timestamp()) * 1_000_000, c.open, c.high, c.low, c.close) for c in june]
    # Stitched by the live roll rule: the expired June contract up to the roll date, then September.
    for ts, *_rest, source, contract in stored:
        day = from_us(ts).date()
        assert source == "backfill"
        assert contract == ("NQM5" if day < ROLL else "NQU5"), (day, contract)
    assert "pacing violation" not in caplog.text
    with Store.open(db_path) as store:  # paced by the one store-kept pacer: a quick re-run counts these requests
        assert len(store.get_state(PACING_STATE_KEY)) == json.loads(result.stdout)["days_fetched"]
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.stderr
    assert '"days_fetched": 0' in again.stdout
    assert _stored(db_path) == stored


def test_interrupted_backfill_resumes_after_the_last_finished_day(db_path: Path, gateway: Any,
                                                                 june: list[Any]) -> None:
    config = GatewayConfig(port=gateway.port, client_id=7, sync_orders=False)

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with Store.open(db_path) as store, pytest.raises(KeyboardInterrupt):
        asyncio.run(backfill(config, store, "NQ", date(2025, 6, 2), date(2025, 6, 30), stop_after_three))
    partial = _stored(db_path)
    assert partial and len(partial) < len(june)
    with Store.open(db_path) as store:
        report = asyncio.run(backfill(config, store, "NQ", date(2025, 6, 2), date(2025, 6, 30)))
    assert report.days_skipped == 3 and report.days_fetched == report.days_planned - 3
    stored = _stored(db_path)
    assert stored[: len(partial)] == partial
    assert [row[0] for row in stored] == sorted({int(c.ts.timestamp()) * 1_000_000 for c in june})


def test_a_span_the_gateway_has_no_data_for_is_one_line_per_day_and_no_raw_ib_async_output(
        runner: CliRunner, db_path: Path, gateway: Any) -> None:
    # The scripted market holds June 2025 only: for a week of May the gateway answers 162 "no data".
    result = runner.invoke(app, ["--db", str(db_path), "candles", "backfill", "--symbol", "NQ", "--from",
                                 "2025-05-05", "--to", "2025-05-09", "--port", str(gateway.port)])
    assert result.exit_code == 0, result.stderr
    assert "ib_async" not in result.stderr and "Error 162" not in result.stderr and "reqId" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "the gateway has no 1-minute bars" in line]
    assert [line.split("backfill: ")[1].split(" (")[0] for line in lines] == [
        f"NQ 2025-05-0{day}" for day in range(5, 10)]
    assert "5 days fetched" in result.stdout and "0 bars received" in result.stdout
    assert "The gateway had no data for 5 of them: 2025-05-05, 2025-05-06" in result.stdout
    assert _stored(db_path) == []


@pytest.mark.parametrize("args, message", [
    (["--from", "2025-06-30", "--to", "2025-06-01"], "--to 2025-06-01 is before --from 2025-06-30"),
    (["--from", "2099-01-05"], "is in the future"),
    (["--from", "2025-06-01", "--to", "2099-01-05"], "--to 2099-01-05 is in the future"),
    (["--from", "2019-01-02", "--to", "2019-02-01"], "older than IB serves"),
    (["--from", "June"], "Error: bad --from date 'June': expected YYYY-MM-DD\n"),
    (["--from", "2025-06-01", "--to", "July"], "Error: bad --to date 'July': expected YYYY-MM-DD\n"),
    (["--from", "2025-06-01", "--symbol", "ES"], "is not a known symbol"),
])
def test_bad_ranges_are_one_line_and_exit_2_before_any_connection(runner: CliRunner, db_path: Path,
                                                                  args: list[str], message: str) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "candles", "backfill", "--port", "1", *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
