"""`candles import` and `candles aggregate` refuse the day a running trade/run/paper session tracks.

Replacing its candles under it changed the bars its setups stand on; `setups track` already refused
that day (tests/cli/test_setups_cli.py), and the candle writers now refuse it the same way: exit 2,
naming the session and how to leave the day out, with nothing written. Other days stay free.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.models import Candle, Tick
from slob_cli.runtime.lock import acquire
from tests.sqlfile import sql_rows

UTC = timezone.utc
VIRTUAL_NOW = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)  # the sim run's clock: its day is 2026-01-06


def _session_store(db_path: Path) -> None:
    with Store.open(db_path) as store:
        run_id = store.start_run("run", {"sim": True}, VIRTUAL_NOW - timedelta(hours=7))
        store.upsert_candles([Candle("NQ", VIRTUAL_NOW - timedelta(minutes=m), 10, 11, 9, 10, 1, 1) for m in range(1, 4)])
        # the session's own ticks: its first and last minute are partial, the ones between whole
        store.insert_ticks([Tick("NQ", VIRTUAL_NOW - timedelta(minutes=m), 10.0, 1.0) for m in range(5, -1, -1)],
                           run_id=run_id)


def _file(tmp_path: Path, *days: str) -> Path:
    path = tmp_path / "nq.csv"
    path.write_text("timestamp,symbol,open,high,low,close,volume\n"
                    + "".join(f"{day}T14:58:00Z,NQ,20,21,19,20,5\n" for day in days))
    return path


@pytest.mark.parametrize(("holder", "code"), [("trade", 2), ("paper", 2), ("record", 0), (None, 0)])
def test_import_refuses_the_day_a_running_session_tracks(runner: CliRunner, db_path: Path, tmp_path: Path,
                                                         holder: str | None, code: int) -> None:
    _session_store(db_path)
    with acquire(db_path, holder) if holder else nullcontext():
        result = runner.invoke(app, ["--db", str(db_path), "candles", "import", str(_file(tmp_path, "2026-01-05", "2026-01-06"))])
        earlier = runner.invoke(app, ["--db", str(db_path), "candles", "import", str(_file(tmp_path, "2026-01-05"))])
    assert result.exit_code == code, result.output
    closes = sql_rows(db_path, "SELECT close FROM candles WHERE ts = ?",
                      (int(datetime(2026, 1, 6, 14, 58, tzinfo=UTC).timestamp() * 1_000_000),))
    if code:
        assert result.stderr.startswith(f"Error: slob {holder} (pid ") and "is tracking 2026-01-06" in result.stderr
        assert "importing that day now would replace the candles it tracks under it" in result.stderr
        assert "import a file without its rows" in result.stderr and "Traceback" not in result.output
        assert closes == [(10.0,)]  # nothing written: the session's bar is as it was
    else:
        assert closes == [(20.0,)]
    assert earlier.exit_code == 0, earlier.output  # another day stays free to import


@pytest.mark.parametrize(("holder", "code"), [("run", 2), ("record", 0)])
def test_aggregate_refuses_the_day_a_running_session_tracks(runner: CliRunner, db_path: Path,
                                                            holder: str, code: int) -> None:
    with Store.open(db_path) as store:  # ticks of the day before, stored by no session
        store.insert_ticks([Tick("NQ", datetime(2026, 1, 5, 15, 0, 5, tzinfo=UTC), 30.0, 2.0)])
    _session_store(db_path)
    with acquire(db_path, holder):
        result = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate"])
        hinted = runner.invoke(app, ["--db", str(db_path), "candles", "aggregate", "--to", "2026-01-06T00:00-05:00"])
    assert result.exit_code == code, result.output
    if code:
        assert result.stderr.startswith(f"Error: slob {holder} (pid ") and "is tracking 2026-01-06" in result.stderr
        assert "(--to 2026-01-06T00:00-05:00)" in result.stderr
    assert hinted.exit_code == 0, hinted.output  # the way out it names works
    # refused: only the day before; else it too, and the session's minutes but its last (partial: it goes on)
    assert sql_rows(db_path, "SELECT count(*) FROM candles WHERE source = 'aggregate'") == [(1 if code else 6,)]
