"""A cron-safe run lock: flock on `<db>.lock`, so two long-running sessions never share a store.

The kernel drops an flock when its process dies, so a file left behind by a SIGKILLed run never
blocks the next one; the pid, command and start time written into the file only describe the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from slob_cli.errors import SlobError

UTC = timezone.utc


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the run lock."""

    pid: int
    command: str
    started_at: str  # UTC ISO-8601 ending in Z

    def describe(self) -> str:
        """Return a one-line description such as `slob paper (pid 42, since 2026-01-06T14:00:00Z)`."""
        return f"slob {self.command} (pid {self.pid}, since {self.started_at})"


class AlreadyRunning(SlobError):
    """Another slob session holds the run lock of this store."""

    def __init__(self, holder: LockHolder | None, lock_path: Path) -> None:
        self.holder = holder
        self.lock_path = lock_path
        who = holder.describe() if holder else "another slob session"
        super().__init__(f"{who} is already running on this store (lock {lock_path})")


def lock_path_for(db_path: str | os.PathLike[str]) -> Path:
    """Return the lock file that sits beside the database file."""
    return Path(f"{os.fspath(db_path)}.lock")


def _parse_holder(text: str) -> LockHolder | None:
    try:
        data = json.loads(text)
        return LockHolder(int(data["pid"]), str(data["command"]), str(data["started_at"]))
    except (ValueError, KeyError, TypeError):
        return None


class RunLock:
    """A held run lock; release it with `release()` or by leaving the `acquire` block."""

    def __init__(self, path: Path, fd: int, holder: LockHolder) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Return True until the lock is released."""
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder record and drop the flock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def try_acquire(db_path: str | os.PathLike[str], command: str, now: datetime | None = None) -> RunLock:
    """Take the run lock without waiting; raise AlreadyRunning naming the holder when it is taken."""
    path = lock_path_for(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # No O_TRUNC: the holder's record must survive a failed attempt.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AlreadyRunning(read_record(db_path), path) from None
    started = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    holder = LockHolder(os.getpid(), command, started)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        os.fsync(fd)
    except OSError:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise
    return RunLock(path, fd, holder)


@contextmanager
def acquire(db_path: str | os.PathLike[str], command: str, now: datetime | None = None) -> Iterator[RunLock]:
    """Hold the run lock for the block; raise AlreadyRunning when another session holds it."""
    lock = try_acquire(db_path, command, now)
    try:
        yield lock
    finally:
        lock.release()


def read_record(db_path: str | os.PathLike[str]) -> LockHolder | None:
    """Return the holder written in the lock file, alive or not, without locking anything."""
    try:
        text = lock_path_for(db_path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return None
    return _parse_holder(text) if text.strip() else None


def _process_alive(pid: int, started_at: str) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    try:
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    # A pid reused by a younger process is not our holder (2 s slack for clock granularity).
    return created <= started + 2.0


def current_holder(db_path: str | os.PathLike[str]) -> LockHolder | None:
    """Return the live holder of the run lock, or None; never takes the lock itself.

    The record names a pid; a record whose process is gone (or was reused by a newer process) is a
    leftover from a killed run and is reported as nobody.
    """
    holder = read_record(db_path)
    if holder is None or not _process_alive(holder.pid, holder.started_at):
        return None
    return holder
