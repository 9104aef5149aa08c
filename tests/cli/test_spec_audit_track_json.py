"""Spec audit, issue 6 §5: `slob setups track --json` rows of invalidated candidates (nulls, levels, reasons)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from tests.core.tracking import short_day

NOT_REACHED = ("nowick_time", "liq2_time", "liq2_price", "trigger_time", "entry_estimate", "stop", "target", "risk_reward")


def _track(runner: CliRunner, db_path: Path, candles) -> list[dict]:
    with Store.open(db_path) as store:
        store.upsert_candles(candles)
    result = runner.invoke(app, ["--db", str(db_path), "setups", "track", "--from", "2026-01-06", "--to", "2026-01-06", "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_band_invalidated_row_reports_the_breaching_low_and_nulls_for_what_was_not_reached(runner: CliRunner, db_path: Path) -> None:
    candles = short_day().bar(2, 19990, 19992, 19930, 19975).candles()  # 70 / 20 000 = 0.35 %
    first = _track(runner, db_path, candles)[0]
    assert {key: first[key] for key in ("id", "trading_date", "direction", "state", "invalidation_reason")} == {
        "id": "NQ-20260106-S1", "trading_date": "2026-01-06", "direction": "SHORT", "state": "INVALIDATED",
        "invalidation_reason": "CONSOL_RANGE_INVALID"}
    assert (first["high"], first["high_time"], first["low"], first["low_time"]) == (
        20000.0, "2026-01-06T14:31:00Z", 19930.0, "2026-01-06T14:32:00Z")
    assert (first["liq1_time"], first["liq1_price"]) == ("2026-01-06T14:30:00Z", 19960.0)
    assert all(first[key] is None for key in NOT_REACHED)


def test_retracement_row_reports_liq2_bar_extreme_and_no_entry(runner: CliRunner, db_path: Path) -> None:
    candles = short_day().bar(18, 19988, 20090.25, 19985, 19988).candles()  # beyond NWC high 19 990 + 100
    first = _track(runner, db_path, candles)[0]
    assert (first["state"], first["invalidation_reason"]) == ("INVALIDATED", "RETRACEMENT_EXCEEDED")
    assert (first["liq2_time"], first["liq2_price"], first["nowick_time"]) == (
        "2026-01-06T14:47:00Z", 20005.0, "2026-01-06T14:46:00Z")  # the LIQ #2 bar's high, not the level 20 000
    assert (first["high"], first["low"]) == (20000.0, 19970.0)
    assert all(first[key] is None for key in ("trigger_time", "entry_estimate", "stop", "target", "risk_reward"))
