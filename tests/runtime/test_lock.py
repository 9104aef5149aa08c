"""The run lock: one holder per store, holder described, released by a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.errors import ConfigError
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


def test_the_record_says_whether_its_session_pulses_and_an_older_record_says_nothing(db_path: Path) -> None:
    with acquire(db_path, "record", pulses=True) as lock:
        assert read_record(db_path) == lock.holder and lock.holder.pulses is True
    with acquire(db_path, "demo") as lock:
        assert read_record(db_path).pulses is False  # a short command that never pulses
        lock_path_for(db_path).write_text(  # as an older slob writes it
            '{"pid": %d, "command": "run", "started_at": "%s"}' % (os.getpid(), lock.holder.started_at))
        assert read_record(db_path).pulses is None and current_holder(db_path).command == "run"


def test_garbage_lock_file_is_ignored(db_path: Path) -> None:
    lock_path_for(db_path).write_text("not json")
    assert read_record(db_path) is None
    with acquire(db_path, "paper") as lock:
        assert read_record(db_path) == lock.holder


@contextmanager
def held_by_another_process(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Hold the run lock of db_path in a child process for the block."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(db_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)


def _other_name(db_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    if how == "symlink":
        other = db_path.parent / "elsewhere" / "link.db"
        other.parent.mkdir()
        other.symlink_to(db_path)
        return other
    if how == "hard link":
        other = db_path.parent / "hard.db"
        os.link(db_path, other)
        return other
    monkeypatch.chdir(db_path.parent.parent)
    return Path(db_path.parent.name) / ".." / db_path.parent.name / db_path.name


@pytest.mark.parametrize("how", ["symlink", "hard link", "relative path"])
def test_the_same_store_under_another_name_is_the_same_lock(db_path: Path, how: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with held_by_another_process(db_path) as child:
        other = _other_name(db_path, how, monkeypatch)
        with pytest.raises(AlreadyRunning) as caught:
            try_acquire(other, "trade")
        assert caught.value.holder is not None and caught.value.holder.pid == child.pid
        assert current_holder(other) is not None and current_holder(other).pid == child.pid


def test_a_deleted_lock_record_neither_frees_the_lock_nor_hides_the_holder(db_path: Path) -> None:
    with held_by_another_process(db_path) as child:
        lock_path_for(db_path).unlink()
        with pytest.raises(AlreadyRunning) as caught:
            try_acquire(db_path, "trade")
        assert caught.value.holder is not None and caught.value.holder.pid == child.pid
        assert current_holder(db_path).pid == child.pid
    with acquire(db_path, "trade") as lock:
        assert lock.held


def test_one_process_cannot_take_the_lock_twice_under_two_names(db_path: Path) -> None:
    link = db_path.parent / "link.db"
    link.symlink_to(db_path)
    with acquire(db_path, "paper"), pytest.raises(AlreadyRunning):
        try_acquire(link, "trade")


def test_a_lock_record_that_is_a_directory_is_one_config_error(db_path: Path) -> None:
    lock_path_for(db_path).mkdir(parents=True)
    with pytest.raises(ConfigError, match="is a directory"):
        try_acquire(db_path, "trade")


def test_a_store_path_that_is_a_directory_is_one_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        try_acquire(tmp_path, "trade")


def test_the_store_lock_does_not_disturb_sqlite(db_path: Path) -> None:
    with acquire(db_path, "record"):
        with Store.open(db_path) as store:
            store.put_state("probe", {"ok": True}, datetime(2026, 1, 6, tzinfo=timezone.utc))
    with Store.open(db_path) as store:
        assert store.get_state("probe") == {"ok": True}
