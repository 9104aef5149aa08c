"""Output cut off by its reader (`slob candles export | head -1`) ends quietly with exit 141, as SIGPIPE would.

A broken pipe that is not stdout (a gateway socket) stays an error; a reader that takes everything
sees the whole output and exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.cli.main import stdout_closed
from slob_cli.core.models import Candle

T0 = datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc)


def _store(path: Path, count: int) -> None:
    with Store.open(path) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=i), 1.0, 2.0, 0.5, 1.5, 3.0, 2) for i in range(count)])


def _export(db: Path, fmt: str = "csv") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-m", "slob_cli", "--db", str(db), "candles", "export", "--format", fmt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@pytest.mark.parametrize(("fmt", "first"), [("csv", b"timestamp,symbol,"), ("jsonl", b'{"timestamp":')])
def test_an_export_whose_reader_stops_early_exits_141_without_a_word(tmp_path: Path, fmt: str, first: bytes) -> None:
    db = tmp_path / "s.db"
    _store(db, 50_000)  # far more than a pipe holds
    process = _export(db, fmt)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(first)
    process.stdout.close()  # `| head -1`
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 141
    assert stderr == b""


def test_a_reader_that_takes_everything_gets_every_row_and_exit_0(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _store(db, 5_000)
    process = _export(db)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.count(b"\n") == 5_001 and err == b""


def test_stdout_closed_is_false_while_the_reader_is_there() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        assert stdout_closed(stream) is False  # a broken pipe elsewhere is not ours to silence
        os.close(read)
        assert stdout_closed(stream) is True
        stream.write("x" * 100_000)  # muted: the descriptor now points at /dev/null
        stream.flush()


def test_a_table_printed_by_rich_to_a_closed_pipe_exits_141_too(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _store(db, 10)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the table is printed: rich's Console meets a broken pipe
    try:
        process = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db), "status"], stdout=write,
                                 stderr=subprocess.PIPE, env=env, timeout=60)
    finally:
        os.close(write)
    assert (process.returncode, process.stderr) == (141, b"")
