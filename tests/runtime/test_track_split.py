"""A helper process tracks a long range's later days: the store and the output are what one process makes.

The helper is forked, so each run is a process of its own (tests/runtime/split_driver.py, or the
`slob` command itself): pytest's process may run threads, and a fork is only taken with one.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.runtime import track_split
from tests.conftest import eventually
from tests.runtime.seeding import seed_weekdays
from tests.sqlfile import sql_rows, sql_run

ROOT = Path(__file__).resolve().parents[2]
FIRST, LAST = date(2026, 3, 2), date(2026, 3, 20)  # 15 trading days


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed_weekdays(tmp_path_factory.mktemp("split") / "seeded.db", FIRST, LAST)


def _copy(seeded: Path, to: Path) -> Path:
    to.write_bytes(seeded.read_bytes())
    return to


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **extra}


def _drive(db: Path, mode: str, first: date = FIRST, last: date = LAST) -> tuple[dict[str, Any], str]:
    done = subprocess.run([sys.executable, "-m", "tests.runtime.split_driver", str(db), first.isoformat(),
                           last.isoformat(), mode], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def _tables(db: Path) -> tuple[list[Any], ...]:
    """The stored result, without the clock of the run (updated_at)."""
    return (sql_rows(db, "SELECT id, trading_date, state, state_json FROM setups ORDER BY trading_date, rowid"),
            sql_rows(db, "SELECT * FROM setup_events ORDER BY trading_date, seq"),
            sql_rows(db, "SELECT symbol, trading_date, config_hash, input_digest, event_count, setup_count "
                         "FROM tracked_days ORDER BY trading_date"))


@pytest.fixture(scope="module")
def one_process(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    db = _copy(seeded, tmp_path_factory.mktemp("one") / "s.db")
    result, log = _drive(db, "sequential")
    assert "helper" not in log
    return result, db


@pytest.mark.parametrize(("mode", "given"), [
    ("split", range(6, 15)), ("raises", [0]), ("dies", [0]), ("dies-late", [4]),
    ("busy", [13]),  # this process held up after its first block of two days: the helper claims all the others
])
def test_a_helper_or_its_failure_leaves_the_store_and_result_of_one_process(
    mode: str, given: range | list[int], seeded: Path, one_process: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    expected, expected_db = one_process
    db = _copy(seeded, tmp_path / "s.db")
    result, log = _drive(db, mode)
    counts = dict(re.findall(r"^(given|own) (\d+)$", log, re.MULTILINE))
    assert "helper " in log and int(counts["given"]) in given  # the days it did not give were computed here
    assert int(counts["given"]) + int(counts["own"]) == 15  # every trading day once
    assert result == expected
    assert result["new_events"] > 100 and len(result["candidates"]) > 10
    assert _tables(db) == _tables(expected_db)


def test_days_already_tracked_on_both_sides_of_the_split_are_kept_and_a_changed_one_recomputed(
    seeded: Path, one_process: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    full, _ = one_process
    db = _copy(seeded, tmp_path / "s.db")
    _drive(db, "sequential", date(2026, 3, 4), date(2026, 3, 17))  # days in this process's part and the helper's
    changed_us = int(datetime(2026, 3, 16, 14, 0, tzinfo=timezone.utc).timestamp()) * 1_000_000  # 10:00 New York
    versions = "SELECT * FROM candle_versions ORDER BY utc_day"
    before = sql_rows(db, versions)
    sql_run(db, "UPDATE candles SET high = high + 5, close = high + 5 WHERE symbol='NQ' AND ts=?", (changed_us,))
    assert len(set(sql_rows(db, versions)) - set(before)) == 1  # that day's candles changed
    twin = _copy(db, tmp_path / "twin.db")
    expected, _ = _drive(twin, "sequential")
    result, log = _drive(db, "split")
    assert "helper " in log
    assert result == expected and _tables(db) == _tables(twin)
    assert result["candidates"] == full["candidates"] or "2026-03-16" in {row["trading_date"] for row in result["candidates"]}
    assert 0 < result["new_events"] < full["new_events"]  # the days tracked before were not written again


def test_day_blocks_cover_a_long_range_once_in_order_and_leave_a_short_one_whole() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(101)]
    assert track_split.day_blocks(days[: track_split.MIN_SPLIT_DAYS - 1]) == []
    blocks = track_split.day_blocks(days)
    assert blocks[0][0] == days[0] and blocks[-1][1] == days[-1]
    covered = [day for first, last in blocks for day in days[days.index(first): days.index(last) + 1]]
    assert covered == days and len(blocks) == -(-101 // track_split.BLOCK_DAYS)
    years = [date(2000, 1, 1) + timedelta(days=n) for n in range(30 * track_split.MAX_BLOCKS)]
    assert len(track_split.day_blocks(years)) <= track_split.MAX_BLOCKS  # every number fits in the claims pipe


def _week_days(first: date, weeks: int) -> date:
    return first + timedelta(weeks=weeks) - timedelta(days=3)


@pytest.fixture(scope="module")
def nine_weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date, date]:
    first = date(2026, 1, 5)
    last = _week_days(first, 9)  # a Friday: 43 trading days (two holidays), enough for the command to split
    return seed_weekdays(tmp_path_factory.mktemp("weeks") / "weeks.db", first, last), first, last


def _slob(db: Path, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db), "--log-level", "debug", *args],
                          env=_env(**env), capture_output=True, timeout=300)


def test_the_command_prints_and_stores_the_same_bytes_with_a_helper_as_in_one_process(
    nine_weeks: tuple[Path, date, date], tmp_path: Path
) -> None:
    seeded, first, last = nine_weeks
    argv = ("setups", "track", "--symbol", "NQ", "--from", first.isoformat(), "--to", last.isoformat(), "--json")
    alone = _copy(seeded, tmp_path / "alone.db")
    split = _copy(seeded, tmp_path / "split.db")
    one = _slob(alone, *argv, SLOB_TRACK_PROCESSES="1")
    two = _slob(split, *argv)
    assert one.returncode == two.returncode == 0, (one.stderr, two.stderr)
    assert b"helper process" not in one.stderr and b"helper process" in two.stderr
    assert two.stdout == one.stdout and len(json.loads(two.stdout)) > 30
    assert _tables(split) == _tables(alone)


def test_an_interrupted_command_ends_its_helper_and_keeps_whole_days(
    nine_weeks: tuple[Path, date, date], tmp_path: Path
) -> None:
    seeded, first, last = nine_weeks
    db = _copy(seeded, tmp_path / "s.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db), "setups", "track", "--symbol", "NQ", "--from",
         first.isoformat(), "--to", last.isoformat(), "--json"],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    helpers: list[int] = []

    def forked() -> bool:
        helpers[:] = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        return bool(helpers) or process.poll() is not None

    eventually(forked, timeout=60, interval=0.001)
    assert helpers, "the command ended before its helper could be seen"
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C on a terminal reaches the whole group
    _, error = process.communicate(timeout=60)
    assert process.returncode == 130, error
    assert b"Traceback" not in error
    assert not Path(f"/proc/{helpers[0]}").exists()  # reaped: no orphan computing on, no zombie
    tracked = sql_rows(db, "SELECT trading_date, event_count, setup_count FROM tracked_days")
    events = dict(sql_rows(db, "SELECT trading_date, count(*) FROM setup_events GROUP BY trading_date"))
    for day, event_count, _ in tracked:  # whole days only
        assert events.get(day, 0) == event_count


def test_the_closing_line_counts_with_thousands_separators_like_the_candles(
    nine_weeks: tuple[Path, date, date], tmp_path: Path
) -> None:
    seeded, first, last = nine_weeks
    done = _slob(_copy(seeded, tmp_path / "s.db"), "setups", "track", "--symbol", "NQ", "--from", first.isoformat(),
                 "--to", last.isoformat())
    assert done.returncode == 0, done.stderr
    line = done.stdout.decode().strip().splitlines()[-1]
    counts = re.fullmatch(r"(\d+) days, ([\d,]+) candles, ([\d,]+) candidates; ([\d,]+) new events, "
                          r"([\d,]+) candidates written", line)
    assert counts is not None, line
    numbers = [int(text.replace(",", "")) for text in counts.groups()]
    assert numbers[0] == 43 and numbers[3] >= 1000  # 45 weekdays less MLK and Presidents Day; a count of four digits or more is written 1,234
    assert [f"{number:,}" for number in numbers] == list(counts.groups())
