"""`slob setups track|list|show` through CliRunner: output, exit codes, and a store left unchanged on bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.sim import worked_example
from slob_cli.sim.scenarios import build_scenario
from tests.sqlfile import sql_rows, sql_run

SHORT_DAY, LONG_DAY = date(2026, 3, 10), date(2026, 3, 11)
PIVOT = 25500.0  # the LONG day is the SHORT day mirrored around this price


@pytest.fixture
def db(db_path: Path) -> Path:
    """Return a store holding a completed-SHORT day and a completed-LONG day."""
    with Store.open(db_path) as store:
        store.upsert_candles(build_scenario("short_setup", SHORT_DAY) + build_scenario("long_setup", LONG_DAY))
    return db_path


def _invoke(runner: CliRunner, db: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["--db", str(db), "setups", *args], env=env)


def _track_json(runner: CliRunner, db: Path, *extra: str) -> list[dict[str, Any]]:
    result = _invoke(runner, db, "track", "--from", "2026-03-10", "--to", "2026-03-11", "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _snapshot(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with Store.open(db) as store:
        return (sql_rows(store.path, "SELECT * FROM setups ORDER BY id"),
                sql_rows(store.path, "SELECT * FROM setup_events ORDER BY id"))


def test_track_json_reports_worked_example_short_and_its_mirrored_long(runner: CliRunner, db: Path) -> None:
    rows = {row["id"]: row for row in _track_json(runner, db)}
    short, long = rows["NQ-20260310-S1"], rows["NQ-20260311-L1"]
    # §7: LIQ #1 at the open (14:30 CET = 13:30 UTC in this summer-time week), trigger 61 minutes later.
    assert short == {
        "id": "NQ-20260310-S1", "symbol": "NQ", "trading_date": "2026-03-10", "direction": "SHORT",
        "state": "SETUP_COMPLETE", "invalidation_reason": None,
        "liq1_time": "2026-03-10T13:30:00Z", "liq1_price": 25491.0,
        "high": 25587.0, "high_time": "2026-03-10T14:01:00Z", "low": 25542.0, "low_time": "2026-03-10T14:11:00Z",
        "nowick_time": "2026-03-10T14:25:00Z", "liq2_time": "2026-03-10T14:26:00Z", "liq2_price": 25592.0,
        "trigger_time": "2026-03-10T14:31:00Z", "entry_estimate": 25572.0, "stop": 25593.0, "target": 25501.0,
        "risk_reward": 71 / 21,
    }
    mirror = 2 * PIVOT
    assert long["direction"] == "LONG" and long["state"] == "SETUP_COMPLETE"
    assert (long["high"], long["low"]) == (mirror - short["low"], mirror - short["high"])
    assert (long["high_time"], long["low_time"]) == (short["low_time"].replace("-10T", "-11T"),
                                                     short["high_time"].replace("-10T", "-11T"))
    for key in ("liq1_price", "liq2_price", "entry_estimate", "stop", "target"):
        assert long[key] == mirror - short[key], key
    assert long["risk_reward"] == short["risk_reward"]
    assert short["liq1_price"] > worked_example.REFERENCE_HIGH
    assert long["liq1_price"] < mirror - worked_example.REFERENCE_LOW
    assert all(row["state"] in ("SETUP_COMPLETE", "INVALIDATED") for row in rows.values())  # both days ended


def test_track_twice_prints_the_same_json_and_writes_nothing_new(runner: CliRunner, db: Path) -> None:
    first = _track_json(runner, db)
    stored = _snapshot(db)
    assert _track_json(runner, db) == first
    assert _snapshot(db) == stored
    assert len(stored[0]) == len(first)


def test_a_rerun_over_unchanged_days_prints_the_same_bytes_from_a_read_only_open(
        runner: CliRunner, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("track", "--from", "2026-03-09", "--to", "2026-03-12", "--json")
    first = _invoke(runner, db, *args)
    table = _invoke(runner, db, *args[:-1])
    assert first.exit_code == 0 and table.exit_code == 0, first.stderr + table.stderr

    def no_writing_open(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a re-run over unchanged days opened the store for writing")

    from slob_cli.runtime import tracking

    monkeypatch.setattr(tracking, "track_range", no_writing_open)
    again = _invoke(runner, db, *args)
    assert again.exit_code == 0, again.stderr
    assert again.stdout == first.stdout
    assert _invoke(runner, db, *args[:-1]).stdout == table.stdout  # the table and its counts too
    assert "0 new events, 0 candidates written" in table.stdout


def test_a_candle_changed_by_a_sqlite3_shell_shows_in_the_next_track_as_on_a_fresh_store(
        runner: CliRunner, db: Path, tmp_path: Path) -> None:
    args = ("track", "--from", "2026-03-09", "--to", "2026-03-12", "--json")
    first = _invoke(runner, db, *args)
    assert first.exit_code == 0, first.stderr
    # The short setup's first liquidity grab is its session's high: pull that bar down by 50 points.
    sql_run(db, "UPDATE candles SET high = high - 50 WHERE ts = (SELECT ts FROM candles WHERE ts >= ? AND ts < ?"
                " ORDER BY high DESC LIMIT 1)", _session_us(SHORT_DAY))
    again = _invoke(runner, db, *args)
    fresh = tmp_path / "fresh.db"
    with Store.open(db) as source, Store.open(fresh) as store:
        store.upsert_candles(source.candles("NQ"))
    expected = _invoke(runner, fresh, *args)
    assert again.exit_code == 0 and expected.exit_code == 0, again.stderr + expected.stderr
    assert again.stdout == expected.stdout and again.stdout != first.stdout


def _session_us(day: date) -> tuple[int, int]:
    from slob_cli.adapters.store import to_us
    from slob_cli.core.sessions import TradingCalendar, session_for

    session = session_for(day, TradingCalendar())
    assert session is not None
    return to_us(session.session_start), to_us(session.session_end)


def test_list_json_returns_what_track_stored_filtered_by_state(runner: CliRunner, db: Path) -> None:
    tracked = _track_json(runner, db)
    result = _invoke(runner, db, "list", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == tracked
    complete = _invoke(runner, db, "list", "--state", "setup_complete", "--from", "2026-03-11", "--json")
    assert [row["id"] for row in json.loads(complete.stdout)] == [
        row["id"] for row in tracked if row["state"] == "SETUP_COMPLETE" and row["trading_date"] == "2026-03-11"]


def test_track_table_shows_times_in_the_display_zone(runner: CliRunner, db: Path) -> None:
    result = _invoke(runner, db, "track", "--from", "2026-03-10", "--to", "2026-03-10")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "NQ-20260310-S1" in line)
    assert "SHORT" in line and "SETUP_COMPLETE" in line and "14:30 25,491.00" in line and "3.38" in line
    assert "Europe/Stockholm" in result.stdout
    new_york = _invoke(runner, db, "list", "--state", "SETUP_COMPLETE", env={"SLOB_DISPLAY_TZ": "America/New_York"})
    line = next(line for line in new_york.stdout.splitlines() if "NQ-20260310-S1" in line)
    assert "09:30 25,491.00" in line and "10:31" in line


def test_show_prints_the_timeline_in_sequence(runner: CliRunner, db: Path) -> None:
    _track_json(runner, db)
    result = _invoke(runner, db, "show", "NQ-20260310-S1")
    assert result.exit_code == 0, result.stderr
    title, _, timeline = result.stdout.partition("LSE_LEVELS_FROZEN")
    assert "NQ-20260310-S1 SHORT SETUP_COMPLETE" in title and "│ 1 " in title.splitlines()[-1]
    kinds = ("LIQ1_DETECTED", " ARMED", "LIQ2_DETECTED", "SETUP_COMPLETE")
    positions = [timeline.find(kind) for kind in kinds]
    assert -1 not in positions and positions == sorted(positions)
    complete = next(line for line in timeline.splitlines() if "SETUP_COMPLETE" in line)
    assert "2026-03-10 15:31" in complete  # the 14:31 UTC trigger in Stockholm
    assert "tp=25,501.00" in timeline[timeline.index(complete):]  # its details fold onto the lines below
    as_json = json.loads(_invoke(runner, db, "show", "NQ-20260310-S1", "--json").stdout)
    assert as_json["setup"]["id"] == "NQ-20260310-S1"
    seqs = [event["seq"] for event in as_json["events"]]
    assert seqs == sorted(seqs) and as_json["events"][0]["type"] == "LSE_LEVELS_FROZEN"
    assert {event["setup_id"] for event in as_json["events"][1:]} == {"NQ-20260310-S1"}
    assert as_json["events"][-1]["payload"]["data"]["tp"] == 25501.0


def test_list_and_show_are_as_wide_as_their_numbers_need_never_a_fixed_220(runner: CliRunner, db: Path) -> None:
    tracked = _track_json(runner, db)
    listing = _invoke(runner, db, "list", env={"COLUMNS": "80"})
    lines = listing.stdout.splitlines()
    widths = {len(line) for line in lines if line.strip()}
    # The table's own width, never padded to a fixed 220: 14 whole columns (the id, four times with
    # prices, three prices and the 20-character CONSOL_RANGE_INVALID last) come to 201 with borders.
    assert max(widths) < 210, max(widths)
    # One line per setup (nothing folds onto a second line), every value on it whole, none cut to an ellipsis.
    assert len(lines) == len(tracked) + 5, listing.stdout  # title, three rules, header
    for row in tracked:
        line = next(line for line in lines if row["id"] in line)
        assert row["state"] in line and "…" not in line
        assert (row["invalidation_reason"] or "│") in line  # grep CONSOL_RANGE_INVALID finds its rows
        if row["entry_estimate"] is not None:
            assert f"{row['entry_estimate']:,.2f}" in line and f"{row['target']:,.2f}" in line
    shown = _invoke(runner, db, "show", "NQ-20260310-S1", env={"COLUMNS": "80"})
    assert shown.exit_code == 0
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80  # the details fold; seq, time, event whole
    assert "2026-03-10 15:31" in shown.stdout and "SETUP_COMPLETE" in shown.stdout
    assert json.loads(_invoke(runner, db, "list", "--json", env={"COLUMNS": "80"}).stdout) == tracked


def test_a_terminal_narrower_than_the_table_gets_a_block_per_setup_every_value_whole(
        runner: CliRunner, db: Path) -> None:
    import io
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from slob_cli.cli.setups import render_candidates

    tracked = _track_json(runner, db)
    zone = ZoneInfo("Europe/Stockholm")
    screens = {width: io.StringIO() for width in (80, 250)}
    for width, out in screens.items():
        render_candidates(tracked, zone, "setups", Console(file=out, width=width, force_terminal=True,
                                                           color_system=None))
    narrow, wide = screens[80].getvalue(), screens[250].getvalue()
    assert max(len(line) for line in narrow.splitlines()) <= 80 and "┃" not in narrow  # blocks, not a wrapped table
    assert "┃ id" in wide  # a terminal wide enough gets the table
    short = next(row for row in tracked if row["id"] == "NQ-20260310-S1")
    block = narrow[narrow.index("NQ-20260310-S1 SHORT SETUP_COMPLETE"):].split("\nNQ-")[0]
    for shown in ("LIQ1 14:30 25,491.00", "HIGH 15:01 25,587.00", "LOW 15:11 25,542.00", "no-wick 15:25",
                  "LIQ2 15:26 25,592.00", "trigger 15:31", f"entry {short['entry_estimate']:,.2f}",
                  f"stop {short['stop']:,.2f}", f"target {short['target']:,.2f}", "R:R 3.38"):
        assert shown in block, shown
    assert all(f"{row['id']} {row['direction']} {row['state']}" in narrow for row in tracked)


def test_show_plot_writes_a_png_chart(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    _track_json(runner, db)
    chart = tmp_path / "charts" / "short.png"
    result = _invoke(runner, db, "show", "NQ-20260310-S1", "--plot", str(chart))
    assert result.exit_code == 0, result.stderr
    assert "chart written" in result.stdout
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert 900 <= width <= 1400 and 500 <= height <= 800
    assert len(data) > 30_000  # candles, markers and lines, not an empty canvas


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["track", "--from", "2026-13-01"], "bad --from date '2026-13-01': expected YYYY-MM-DD"),
        (["track", "--to", "yesterday"], "bad --to date 'yesterday'"),
        (["track", "--from", "2026-03-11", "--to", "2026-03-10"], "--from 2026-03-11 is after --to 2026-03-10"),
        (["track", "--symbol", "ES"], "--symbol 'ES' is not a known symbol"),
        (["track", "--from", "2026-03-12"], "nothing to track from 2026-03-12 to 2026-03-11: stored NQ candles span"),
        (["list", "--state", "armed"], "unknown --state 'ARMED'"),
        (["list", "--from", "2026-03-02", "--to", "2026-03-01"], "is after --to"),
        (["show", "NQ-20990101-S1"], "unknown setup id 'NQ-20990101-S1'"),
        (["show", "NQ-20260310-S1", "--plot", "chart.jpg"], "must end in .png"),
    ],
)
def test_bad_flags_exit_2_with_one_line_and_store_unchanged(
        runner: CliRunner, db: Path, args: list[str], message: str) -> None:
    _track_json(runner, db)
    before = _snapshot(db)
    result = _invoke(runner, db, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert _snapshot(db) == before


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("unknown.toml", "min_rr = 1.0\nfoo = 2\n", "unknown strategy setting 'foo'"),
        ("bad.toml", "[strategy]\nentry_timeout_bars = 'soon'\n", "entry_timeout_bars = 'soon'"),
        ("bad.json", '{"min_depth_pct": -1}', "min_depth_pct = -1.0: must not be negative"),
        ("broken.json", "{min_rr: 1}", "is not valid"),
    ],
)
def test_bad_config_file_exits_3_naming_it_and_store_unchanged(
        runner: CliRunner, db: Path, tmp_path: Path, name: str, text: str, message: str) -> None:
    _track_json(runner, db)
    before = _snapshot(db)
    config = tmp_path / name
    config.write_text(text)
    result = _invoke(runner, db, "track", "--config", str(config))
    assert result.exit_code == 3
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert _snapshot(db) == before


def test_missing_config_file_exits_3(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    result = _invoke(runner, db, "track", "--config", str(tmp_path / "absent.toml"))
    assert result.exit_code == 3 and "absent.toml" in result.stderr and "not found" in result.stderr


def test_config_file_overrides_and_recomputes_the_day(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    _track_json(runner, db)
    config = tmp_path / "strict.toml"
    config.write_text("[strategy]\nmin_rr = 5.0\n")
    rows = {row["id"]: row for row in _track_json(runner, db, "--config", str(config))}
    assert (rows["NQ-20260310-S1"]["state"], rows["NQ-20260310-S1"]["invalidation_reason"]) == (
        "INVALIDATED", "NEGATIVE_RISK_REWARD")
    listed = json.loads(_invoke(runner, db, "list", "--json").stdout)
    assert listed == sorted(rows.values(), key=lambda row: (row["trading_date"], row["liq1_time"], row["id"]))
    from_env = _invoke(runner, db, "track", "--from", "2026-03-10", "--to", "2026-03-10", "--json",
                       env={"SLOB_STRATEGY_CONFIG": str(config)})
    assert json.loads(from_env.stdout)[0]["invalidation_reason"] == "NEGATIVE_RISK_REWARD"


def test_track_without_dates_covers_the_stored_span_and_empty_store_gives_empty_list(
        runner: CliRunner, db: Path, tmp_path: Path) -> None:
    ids = {row["id"][:11] for row in json.loads(_invoke(runner, db, "track", "--json").stdout)}
    assert ids == {"NQ-20260310", "NQ-20260311"}
    empty = tmp_path / "empty.db"
    Store.open(empty).close()
    result = _invoke(runner, empty, "track", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    future = _invoke(runner, db, "track", "--from", "2030-01-02", "--to", "2030-01-03", "--json")
    assert future.exit_code == 0 and json.loads(future.stdout) == []


def test_list_and_track_on_a_missing_store_exit_3_without_creating_it(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    for args in (["list"], ["track"], ["show", "X"]):
        result = _invoke(runner, missing, *args)
        assert result.exit_code == 3 and "does not exist" in result.stderr
    assert not missing.exists()


def test_every_setups_command_has_help_with_an_example(runner: CliRunner) -> None:
    for command in ("track", "list", "show"):
        result = runner.invoke(app, ["setups", command, "--help"])
        assert result.exit_code == 0 and "Example: slob setups " + command in result.stdout


def test_plot_without_stored_candles_or_writable_place_exits_2_and_writes_nothing(
        runner: CliRunner, db: Path, tmp_path: Path) -> None:
    _track_json(runner, db)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    unwritable = _invoke(runner, db, "show", "NQ-20260310-S1", "--plot", str(blocker / "chart.png"))
    assert unwritable.exit_code == 2 and "cannot write chart" in unwritable.stderr
    with Store.open(db) as store, store.transaction() as conn:
        conn.execute("DELETE FROM candles")
    chart = tmp_path / "chart.png"
    result = _invoke(runner, db, "show", "NQ-20260310-S1", "--plot", str(chart))
    assert result.exit_code == 2 and "no stored candles of NQ" in result.stderr
    assert not chart.exists() and result.stdout == ""


def test_candles_imported_without_tick_counts_are_tracked_as_the_bars_they_are(
    runner: CliRunner, db: Path, tmp_path: Path,
) -> None:
    """A file of bare OHLCV (tick_count -1: unknown) gives the setups the same bars with their counts give."""
    bare = tmp_path / "bare.csv"
    lines = ["timestamp,symbol,open,high,low,close,volume"]
    lines += [f"{c.ts:%Y-%m-%dT%H:%M:%SZ},{c.symbol},{c.open},{c.high},{c.low},{c.close},{c.volume}"
              for c in build_scenario("short_setup", SHORT_DAY) + build_scenario("long_setup", LONG_DAY)]
    bare.write_text("\n".join(lines) + "\n")
    imported = tmp_path / "imported.db"
    assert runner.invoke(app, ["--db", str(imported), "candles", "import", str(bare)]).exit_code == 0
    assert sql_rows(imported, "SELECT DISTINCT tick_count FROM candles") == [(-1,)]
    expected = {row["id"]: row["state"] for row in _track_json(runner, db)}
    got = {row["id"]: row["state"] for row in _track_json(runner, imported)}
    assert got == expected and expected["NQ-20260310-S1"] == "SETUP_COMPLETE"


def test_track_says_one_day_and_one_candle_in_the_singular(runner, db_path) -> None:  # noqa: ANN001
    from datetime import datetime, timezone

    from slob_cli.core.models import Candle
    from slob_cli.runtime.views import counted

    assert [counted(n, "day") for n in (0, 1, 2, 1204)] == ["0 days", "1 day", "2 days", "1,204 days"]
    with Store.open(db_path) as store:
        store.upsert_candles([Candle("NQ", datetime(2026, 1, 6, 15, 0, tzinfo=timezone.utc), 10, 11, 9, 10, 1, 1)])
    result = runner.invoke(app, ["--db", str(db_path), "setups", "track", "--from", "2026-01-06", "--to", "2026-01-06"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("1 day, 1 candle, 0 candidates;")  # was "1 days"


@pytest.mark.parametrize(("holder", "code"), [("trade", 2), ("run", 2), ("record", 0), (None, 0)])
def test_track_refuses_the_day_a_running_session_trades(runner, db_path, holder, code) -> None:  # noqa: ANN001
    from contextlib import nullcontext
    from datetime import datetime, timedelta, timezone

    from slob_cli.core.models import Candle, Tick
    from slob_cli.runtime.lock import acquire

    # `setups track` during `run --sim` wrote the day's events under the engine, which then stopped with
    # "setup event NQ 2026-01-06 seq 58 is already stored with a different payload" (exit 3).
    virtual_now = datetime(2026, 1, 6, 15, 0, tzinfo=timezone.utc)  # the sim run's clock: its day is 2026-01-06
    with Store.open(db_path) as store:
        run_id = store.start_run("run", {"sim": True}, virtual_now - timedelta(hours=7))
        store.upsert_candles([Candle("NQ", virtual_now - timedelta(minutes=m), 10, 11, 9, 10, 1, 1)
                              for m in range(1, 4)])
        store.upsert_candles([Candle("NQ", datetime(2026, 1, 5, 15, 0, tzinfo=timezone.utc), 10, 11, 9, 10, 1, 1)])
        store.insert_ticks([Tick("NQ", virtual_now, 10.0, 1.0)], run_id=run_id)
    with acquire(db_path, holder) if holder else nullcontext():
        result = runner.invoke(app, ["--db", str(db_path), "setups", "track", "--from", "2026-01-05"])
        earlier = runner.invoke(app, ["--db", str(db_path), "setups", "track", "--to", "2026-01-05"])
    assert result.exit_code == code, result.output
    if code:
        assert result.stderr.startswith(f"Error: slob {holder} (pid ") and "is tracking 2026-01-06" in result.stderr
        assert "(--to 2026-01-05)" in result.stderr
    assert earlier.exit_code == 0, earlier.output  # the other days stay free to track


def test_list_state_takes_the_states_a_stored_candidate_can_have_as_the_docs_list_them(runner: CliRunner,
                                                                                       db: Path) -> None:
    """WATCHING_LIQ1 was accepted (it is the per-side state before a candidate exists: nothing stored has it)."""
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "commands.md").read_text()
    sentence = docs[docs.index("`setups list --state` takes one of"):]
    documented = re.findall(r"`([A-Z_0-9]+)`", sentence[:sentence.index("(any case)")])
    for state in documented:
        result = runner.invoke(app, ["--db", str(db), "setups", "list", "--state", state.lower(), "--json"])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--db", str(db), "setups", "list", "--state", "WATCHING_LIQ1"])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: unknown --state 'WATCHING_LIQ1' (known: {', '.join(documented)})\n", result.stderr
