"""`slob web` JSON API over a real `slob web` process: the same status as `slob status --json`,
a day's chart data, history, reports, the event stream, read-only behaviour and security headers."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store, to_iso, to_us
from slob_cli.cli.main import app
from slob_cli.core.models import Candle
from slob_cli.runtime.lock import acquire
from tests.conftest import eventually
from tests.opsdata import add_health
from tests.sqlfile import damage_root_page, sql_run
from tests.web.seeding import SeededDay, seed_day

UTC = timezone.utc


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Return (status, headers, body) of one request, errors included."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = get(url, headers)
    assert status == 200, (status, body[:300])
    return json.loads(body)


@pytest.fixture
def seeded(store: Store) -> SeededDay:
    return seed_day(store, datetime.now(UTC))


def test_api_status_equals_slob_status_json(seeded: SeededDay, db_path: Path, web_server, runner: CliRunner) -> None:
    server = web_server()
    from_web = get_json(server.url + "/api/status")
    result = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    # Only the moment of reading differs between two calls.
    moment = {"now", "health_age_seconds"}
    for data in (from_web, from_cli):
        data["clock"].pop("now")
    assert {k: v for k, v in from_web.items() if k not in moment} == {
        k: v for k, v in from_cli.items() if k not in moment}
    assert abs(from_web["health_age_seconds"] - from_cli["health_age_seconds"]) < 5
    assert from_web["today"]["pnl_money"] == seeded.today_pnl and from_web["today"]["closed_trades"] == 1


def test_api_candles_returns_the_day_with_levels_setups_and_fills(seeded: SeededDay, web_server) -> None:
    server = web_server()
    data = get_json(server.url + "/api/candles")
    assert data["symbol"] == "NQ" and data["trading_date"] == seeded.day.isoformat()
    assert len(data["candles"]) == seeded.candles
    assert data["candles"][0][0] == int(seeded.first_candle.timestamp())
    assert data["candles"][-1][4] == seeded.last_close
    assert (data["levels"]["high"], data["levels"]["low"]) == (25_480.0, 25_410.0)
    by_id = {setup["id"]: setup for setup in data["setups"]}
    assert by_id[seeded.open_setup]["liq1_price"] == 25_482.25 and by_id[seeded.open_setup]["high"] == 25_491.0
    assert by_id[seeded.position_setup]["stop"] == 25_470.0 and by_id[seeded.position_setup]["trade_exit_time"] is None
    assert [(fill["side"], fill["price"]) for fill in data["fills"]] == [
        ("BOT", 25_400.0), ("SLD", 25_420.0), ("SLD", 25_449.5)]
    later = get_json(server.url + f"/api/candles?symbol=nq&date={seeded.day}&since={data['candles'][-2][0]}")
    assert [row[0] for row in later["candles"]] == [row[0] for row in data["candles"][-2:]]
    empty = get_json(server.url + "/api/candles?date=2001-01-02")
    assert empty["candles"] == [] and empty["fills"] == []


def test_api_history_positions_setups_and_reports(seeded: SeededDay, web_server) -> None:
    server = web_server()
    trades = get_json(server.url + "/api/trades")
    assert len(trades["trades"]) == trades["total"] == seeded.trades and trades["closed"] == seeded.trades - 1
    assert trades["pnl_money"] == seeded.all_time_pnl and trades["equity"][-1][1] == seeded.all_time_pnl
    assert [point[1] for point in trades["equity"]] == [200.0, 50.0, 445.5]
    positions = get_json(server.url + "/api/positions")["positions"]
    assert len(positions) == 1
    position = positions[0]
    assert position["setup_id"] == seeded.position_setup and position["last_price"] == seeded.last_close
    expected_points = round(25_449.5 - seeded.last_close, 2)  # a SHORT gains when the price falls
    assert position["unrealized_points"] == expected_points and position["unrealized_money"] == expected_points * 20
    assert (position["stop"], position["target"]) == (25_470.0, 25_405.0)
    assert position["to_stop"] == 25_470.0 - seeded.last_close and position["to_target"] == seeded.last_close - 25_405.0
    status = get_json(server.url + "/api/status")
    assert status["positions"] == positions  # the same marks as `slob status`
    setups = get_json(server.url + "/api/setups")
    assert setups["by_state"] == {"setup_complete": 4, "watching_liq2": 1, "invalidated": 1}
    assert [setup["id"] for setup in setups["open"]] == [seeded.open_setup]
    reports = get_json(server.url + "/api/reports")["reports"]
    assert [(r["run"], r["passed"], r["verdict"]) for r in reports] == [(seeded.report_run, True, "PASSED")]
    report = get_json(server.url + f"/api/reports/{seeded.report_run}")
    assert [c["name"] for c in report["criteria"]] == ["uptime", "data"]
    assert get(server.url + "/api/reports/999")[0] == 404
    header = get_json(server.url + "/api/header")
    assert header["running"] is None and header["data_mode"] == "live" and header["clock"]["simulated"] is False
    assert header["run_id"] == seeded.report_run and header["zone"] == "Europe/Stockholm"


def test_bad_query_gets_400_with_one_line(seeded: SeededDay, web_server) -> None:
    server = web_server()
    status, _, body = get(server.url + "/api/candles?date=yesterday")
    assert status == 400 and json.loads(body) == {"error": "date must be YYYY-MM-DD, not 'yesterday'"}
    assert get(server.url + "/api/candles?symbol=NQ;DROP")[0] == 400
    assert get(server.url + "/api/candles?since=noon")[0] == 400
    assert get(server.url + "/api/trades?limit=-1")[0] == 400
    assert len(get_json(server.url + "/api/trades?limit=1")["trades"]) == 1
    assert get(server.url + "/static/../../etc/passwd")[0] == 404


def test_no_endpoint_writes_and_the_store_file_is_unchanged(seeded: SeededDay, store: Store, db_path: Path,
                                                            web_server) -> None:
    sql_run(store.path, "PRAGMA wal_checkpoint(TRUNCATE)")
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    server = web_server()
    for path in ("/", "/api/status", "/api/header", "/api/candles", "/api/setups", "/api/trades", "/api/positions",
                 "/api/reports", f"/api/reports/{seeded.report_run}", "/static/app.js", "/static/style.css",
                 "/static/lightweight-charts.js"):
        assert get(server.url + path)[0] == 200, path
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/status", "/api/candles", "/api/trades", "/"):
            assert get(server.url + path, method=method)[0] == 405, (method, path)
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert not Path(f"{db_path}-wal").exists() or Path(f"{db_path}-wal").stat().st_size == 0


def test_every_response_carries_security_headers(seeded: SeededDay, web_server) -> None:
    server = web_server()
    for path in ("/", "/api/status", "/static/app.js", "/api/nothing"):
        _, headers, _ = get(server.url + path)
        headers = {key.lower(): value for key, value in headers.items()}
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert "server" not in headers


def read_events(url: str, headers: dict[str, str] | None = None) -> tuple[queue.Queue[str], Any]:
    """Open the event stream; return a queue of `event:` names and data, and the response to close."""
    response = urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        try:
            for raw in response:
                lines.put(raw.decode().rstrip("\n"))
        except Exception:  # noqa: BLE001 - the test closed the stream
            return

    threading.Thread(target=pump, daemon=True).start()
    return lines, response


def wait_for_change(lines: queue.Queue[str], topic: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while True:
        remaining = (deadline - datetime.now(UTC)).total_seconds()
        if remaining <= 0:
            raise AssertionError(f"no change of {topic!r} within {timeout}s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line.startswith("data: ") and topic in line:
            return json.loads(line[6:])


def test_event_stream_names_what_changed_when_a_session_writes(seeded: SeededDay, store: Store, web_server) -> None:
    server = web_server()
    lines, response = read_events(server.url + "/api/events")
    try:
        assert lines.get(timeout=10) == "retry: 1000"
        assert lines.get(timeout=10) == "event: hello"
        new_minute = seeded.first_candle + timedelta(minutes=seeded.candles)
        store.upsert_candles([Candle("NQ", new_minute, 1, 2, 0.5, 1.5, 3, 3)])
        assert "candles" in wait_for_change(lines, "candles")["topics"]
        sql_run(store.path, "UPDATE trades SET exit_time = ?, pnl_money = 10 WHERE exit_time IS NULL",
                (to_us(datetime(2030, 1, 1, tzinfo=timezone.utc)),))
        assert "trades" in wait_for_change(lines, "trades")["topics"]
    finally:
        response.close()
    server.stop(signal.SIGTERM)  # as docker stop does: a clean exit 0, even with a stream open a moment ago
    assert server.process.returncode == 0


def test_header_names_the_lock_holder_and_a_simulated_clock(store: Store, db_path: Path, web_server) -> None:
    run_id = store.start_run("run", {"sim": True}, datetime(2026, 1, 6, 14, 0, tzinfo=UTC))
    store.end_run(run_id, 0, datetime(2026, 1, 6, 21, 0, tzinfo=UTC), data_mode="sim")
    add_health(store, "2026-01-06T15:30:00Z", run_id=run_id)
    server = web_server()
    lines, response = read_events(server.url + "/api/events")
    try:
        header = get_json(server.url + "/api/header")
        assert header["running"] is None and header["connected"] is None  # nothing runs: nothing is "connected"
        # "now" of an ended sim run is never before its end, stamped on the same clock (views.store_clock).
        assert header["clock"] == {"now": "2026-01-06T21:00:00Z", "simulated": True, "run_id": run_id,
                                   "run_ended": True, "label": f"simulated clock of sim run {run_id} (ended)"}
        assert header["heartbeat_age_seconds"] == 5.5 * 3600 and header["data_mode"] == "sim"
        assert lines.get(timeout=10) == "retry: 1000"
        with acquire(db_path, "paper"):
            assert "lock" in wait_for_change(lines, "lock")["topics"]
            header = get_json(server.url + "/api/header")
            # The ended run's heartbeat is not the holder's: nothing is shown as its link or heartbeat.
            assert header["running"].startswith(f"slob paper (pid {os.getpid()}") and header["connected"] is None
            assert header["heartbeat_age_seconds"] is None
            assert header["heartbeat_of"] == {"run_id": None, "of_running_session": True, "written": False}
            own = store.start_run("paper", {}, datetime.now(UTC))  # its pid is this process's: the holder's run
            add_health(store, to_iso(datetime.now(UTC)), run_id=own)
            header = get_json(server.url + "/api/header")
            assert header["connected"] is True and (header["run_id"], header["run_command"]) == (own, "paper")
    finally:
        response.close()


def test_an_empty_store_answers_every_endpoint(store: Store, web_server) -> None:
    server = web_server()
    assert get_json(server.url + "/api/candles")["candles"] == []
    assert get_json(server.url + "/api/trades") == {"trades": [], "total": 0, "equity": [], "closed": 0, "wins": 0,
                                                   "pnl_money": 0.0, "pnl_money_text": "$+0.00"}
    assert get_json(server.url + "/api/setups") == {"by_state": {}, "total": 0, "open": []}
    assert get_json(server.url + "/api/positions") == {"positions": [], "working_orders": []}
    assert get_json(server.url + "/api/reports") == {"reports": []}
    header = get_json(server.url + "/api/header")
    assert header["data_mode"] is None and header["run_id"] is None and header["symbol"] is None
    assert get_json(server.url + "/api/status")["today"]["closed_trades"] == 0


def test_a_damaged_store_gets_a_json_503_naming_it_and_no_traceback(seeded: SeededDay, db_path: Path,
                                                                    web_server) -> None:
    server = web_server()
    damage_root_page(db_path, "candles")  # its commit after the garbage: no page the server read before hides it
    for endpoint in ("/api/candles", "/api/header"):  # both read candles: was a text 500 and a logged traceback
        status, headers, body = get(server.url + endpoint)
        assert status == 503 and headers["content-type"] == "application/json", (endpoint, status, body[:200])
        assert json.loads(body)["error"].startswith(f"database {str(db_path)!r} is damaged (database disk image")
    # The change poller reads candles too: it says so in one line, once (was a traceback every poll).
    said = f"could not read the store for changes: database {str(db_path)!r} is damaged (database disk image"
    eventually(lambda: said in "".join(server.errors), timeout=30)
    lines, response = read_events(server.url + "/api/events")
    try:  # its stream lives on: a clock tick comes after some ten more polls (0.5 s apart) met the damage
        assert wait_for_change(lines, "clock", timeout=30)["topics"] == ["clock"]
    finally:
        response.close()
    _, errors = server.stop()
    assert "Traceback" not in errors and errors.count(said) == 1, errors


def test_an_unknown_api_path_gets_a_json_404(seeded: SeededDay, web_server) -> None:
    server = web_server()
    for path in ("/api/reports/abc", "/api/nothing"):
        status, _, body = get(server.url + path)
        assert status == 404 and json.loads(body) == {"error": "not found"}, (path, body[:200])
