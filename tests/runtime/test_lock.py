"""The run lock: one holder per store, holder described, released by a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from slob_cli.runtime.lock import AlreadyRunning, acquire, current_holder, lock_path_for, read_record, try_acquire

HOLD_SCRIPT = """
import sys
from slob_cli.runtime.lock import try_acquire
lock = try_acquire(sys.argv[1], "paper")
print("locked", flush=True)
sys.stdin.readline()
"""


def test_second_acquisition_raises_already_running_naming_holder(db_path: Path) -> None:
    with acquire(db_path, "paper") as lock:
        with pytest.raises(AlreadyRunning) as caught:
            try_acquire(db_path, "record")
        assert caught.value.holder == lock.holder
        assert caught.value.holder.command == "paper"
        assert caught.value.holder.pid == os.getpid()
        assert f"pid {os.getpid()}" in str(caught.value)
        assert current_holder(db_path) == lock.holder
    assert lock_path_for(db_path) == Path(f"{db_path}.lock")


def test_lock_is_free_again_after_release_and_record_is_cleared(db_path: Path) -> None:
    with acquire(db_path, "paper"):
        pass
    assert read_record(db_path) is None
    assert current_holder(db_path) is None
    with acquire(db_path, "trade") as lock:
        assert lock.held
        assert read_record(db_path).command == "trade"
    assert not lock.held


def test_sigkilled_holder_does_not_block_next_session(db_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(db_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunning) as caught:
            try_acquire(db_path, "paper")
        assert caught.value.holder.pid == child.pid
        assert current_holder(db_path).pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    # The record of the dead holder is still in the file, but it no longer counts.
    assert read_record(db_path).pid == child.pid
    assert current_holder(db_path) is None
    with acquire(db_path, "paper") as lock:
        assert lock.holder.pid == os.getpid()


def test_record_with_reused_pid_of_younger_process_is_not_a_holder(db_path: Path) -> None:
    lock_path_for(db_path).write_text(
        '{"pid": %d, "command": "paper", "started_at": "2000-01-01T00:00:00Z"}' % os.getpid()
    )
    assert read_record(db_path).command == "paper"
    assert current_holder(db_path) is None


def test_garbage_lock_file_is_ignored(db_path: Path) -> None:
    lock_path_for(db_path).write_text("not json")
    assert read_record(db_path) is None
    with acquire(db_path, "paper") as lock:
        assert read_record(db_path) == lock.holder
