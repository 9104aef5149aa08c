"""A cron-safe run lock on the store file itself, so two long-running sessions never share a store.

The lock is an flock on the database file: whatever path names it (a symlink, a hard link, a
relative path), the kernel sees one file, and no lock file can be deleted from under a holder.
SQLite itself locks with fcntl (POSIX) locks, which are independent of flock on Linux. Closing any
descriptor of the database file would drop this process's POSIX locks, so the descriptor is kept
open for the life of the process and reused by the next session of the same process.

The kernel drops an flock when its process dies, so a SIGKILLed run never blocks the next one.
The pid, command and start time written to `<store>.lock` beside the real file only describe the
holder; when that record is missing, /proc/locks still names the holding pid. A session that shows
life on it (`pulse`: trade, run, paper, record) says so in the record (`pulses`); a record written
by an older slob has no such field, so readers know not to wait for a pulse from it. From the moment
such a session takes the lock, a small thread pulses for it (every PULSE_INTERVAL real seconds)
until its own heartbeat loop takes over (its first `pulse`): whatever it does first (open and
upgrade the store, start an embedded gateway, build its engine) never makes it look stale, up to
START_PULSE_LIMIT (a start that long is taken for hung). `slob migrate`, which writes no heartbeat and
may take longer on a big store, pulses with no limit for as long as it migrates (`keep_pulsing`), and
so does a session's own upgrade of the store at its start (its start pulse goes on after it).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from slob_cli.errors import ConfigError, SlobError

UTC = timezone.utc
PULSE_INTERVAL = 8.0  # real seconds between a starting session's pulses, as its heartbeat's
# Real seconds a start pulse lasts at most: a start still not done by then (a year's store upgrades in
# well under a minute) is taken for hung, and goes stale (the thread shows the process alive, not busy).
START_PULSE_LIMIT = 900.0


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the run lock."""

    pid: int
    command: str
    started_at: str  # UTC ISO-8601 ending in Z
    # True: it touches the record every few real seconds (`pulse`); False: a short command that never does;
    # None: the record does not say (written by an older slob, or no record: only /proc/locks names the pid).
    pulses: bool | None = None
    # The session's run (its `runs` row), noted once it exists; None before. `names_run` is False in a
    # record written by an older slob (or by a short command before it noted a run), whose runs are told
    # by their pid only (a pid a restarted container gives again, so a died run may share it).
    run_id: int | None = None
    names_run: bool = False

    def owns(self, run_id: int | None, pid: int | None) -> bool:
        """Return True when a run (its id and pid) is this holder's: by the run its record names, else by pid."""
        if self.names_run:
            return self.run_id is not None and self.run_id == run_id
        return pid is not None and self.pid == pid

    def describe(self, zone: tzinfo | None = None, clock: str | None = None) -> str:
        """Return a one-line description such as `slob paper (pid 42, since 2026-01-06T14:00:00Z)`.

        With a zone (a screen that names its display zone once), the start is shown in it, without a label.
        The start is the wall clock's: beside a simulated "now", `clock="wall"` says so (`... on the wall clock)`).
        """
        since = self.started_at
        if zone is not None:
            try:
                since = datetime.fromisoformat(since.replace("Z", "+00:00")).astimezone(zone).strftime(
                    "%Y-%m-%d %H:%M:%S")
            except ValueError:  # a holder record written by hand: shown as it is
                pass
        return f"slob {self.command} (pid {self.pid}, since {since}{f' on the {clock} clock' if clock else ''})"


def holds_run(holder: LockHolder | None, run_id: int | None, pid: int | None) -> bool:
    """Return True when a run (its id and pid) is the live lock holder's: a run not ended and not held has died."""
    return holder is not None and holder.owns(run_id, pid)


class AlreadyRunning(SlobError):
    """Another slob session holds the run lock of this store."""

    def __init__(self, holder: LockHolder | None, lock_path: Path) -> None:
        self.holder = holder
        self.lock_path = lock_path
        who = holder.describe() if holder else "another slob session"
        super().__init__(f"{who} is already running on this store (lock {lock_path})")


def lock_path_for(db_path: str | os.PathLike[str]) -> Path:
    """Return the holder record that sits beside the real database file (symlinks resolved)."""
    return Path(f"{os.path.realpath(os.fspath(db_path))}.lock")


# (st_dev, st_ino) -> the open descriptor of a store file; kept open for the life of the process.
_descriptors: dict[tuple[int, int], int] = {}
_held: set[tuple[int, int]] = set()


def _store_descriptor(db_path: str | os.PathLike[str]) -> tuple[tuple[int, int], int, list[Path]]:
    """Open (creating it empty if needed) the store file; return its identity, a descriptor and what it made.

    What it made: the file, if it did not exist, then the directories it created for it, deepest first.
    """
    path = Path(db_path)
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            made.insert(0, path)
        except FileExistsError:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except IsADirectoryError:
        raise ConfigError(f"store {path} is a directory, not a database file") from None
    except OSError as exc:
        raise ConfigError(f"cannot open store {path}: {exc.strerror or exc}") from None
    stat = os.fstat(fd)
    key = (stat.st_dev, stat.st_ino)
    kept = _descriptors.get(key)
    if kept is not None:
        os.close(fd)  # safe: nothing was locked through it, and the kept one stays open
        return key, kept, made
    _descriptors[key] = fd
    return key, fd, made


def _flock_pid(key: tuple[int, int]) -> int | None:
    """Return the pid /proc/locks names as the flock holder of a file, if any (Linux)."""
    device = f"{os.major(key[0]):02x}:{os.minor(key[0]):02x}:{key[1]}"
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == device and parts[4].isdigit():
            return int(parts[4])
    return None


def _parse_holder(text: str) -> LockHolder | None:
    try:
        data = json.loads(text)
        pulses, run_id = data.get("pulses"), data.get("run_id")
        return LockHolder(int(data["pid"]), str(data["command"]), str(data["started_at"]),
                          None if pulses is None else bool(pulses), None if run_id is None else int(run_id),
                          bool(data.get("names_run", False)))
    except (ValueError, KeyError, TypeError):
        return None


class _StartPulse:
    """Pulses a starting session's lock record from a daemon thread until stopped (its heartbeat took over).

    With no limit (`keep_pulsing`) it pulses until stopped, however long that is.
    """

    def __init__(self, record: Path, interval: float, limit: float | None, name: str = "slob-start-pulse") -> None:
        self.record = record
        self.interval = interval
        self.limit = limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        ends = None if self.limit is None else time.monotonic() + self.limit
        while not self._stop.wait(self.interval) and (ends is None or time.monotonic() < ends):
            try:
                os.utime(self.record)
            except OSError:
                pass  # the record only describes the holder

    def stop(self) -> None:
        """Stop pulsing (idempotent); waits for the thread, which only sleeps or touches a file."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


_start_pulses: dict[Path, _StartPulse] = {}  # lock record -> the start pulse of a session of this process


class RunLock:
    """A held run lock; release it with `release()` or by leaving the `acquire` block."""

    def __init__(self, path: Path, fd: int, holder: LockHolder, key: tuple[int, int] = (0, 0),
                 created: list[Path] | None = None) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = fd
        self._key = key
        self.created = list(created or [])  # the store file and directories taking this lock made
        self._discarded: list[Path] | None = None  # the made directories, once the made file is removed

    def discard_created(self) -> None:
        """Remove the store file (with its SQLite side files) and directories this lock made, before release.

        Only while the lock is held, so no other session can have started on the file meanwhile.
        """
        if self._fd is None or not self.created:
            return
        made, self.created = self.created, []
        if made[0].is_dir():  # another process made the file in the directories made here: not ours
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{made[0]}{suffix}").unlink(missing_ok=True)
        self._discarded = made[1:]  # removed by release(), once the holder record beside the file is gone

    def note_run(self, run_id: int) -> None:
        """Name the session's run in the holder record, so readers tell its run from a died one with the same pid."""
        if self._fd is None:
            return
        holder = replace(self.holder, run_id=run_id, names_run=True)
        try:
            _write_record(self.path, holder)
        except OSError:
            return  # the record only describes the holder: readers fall back on the pid
        self.holder = holder

    @property
    def held(self) -> bool:
        """Return True until the lock is released."""
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder record and drop the flock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        starting = _start_pulses.pop(self.path, None)
        if starting is not None:
            starting.stop()
        try:
            if read_record(self.path.with_suffix("")) == self.holder:
                self.path.unlink(missing_ok=True)
        except OSError:
            pass  # the record only describes the holder
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)  # the descriptor stays open: see the module docstring
            _held.discard(self._key)
            if self._discarded is not None:  # the file is gone: nothing can be opened through the descriptor again
                _descriptors.pop(self._key, None)
                os.close(fd)
                _remove_empty(self._discarded)


def _remove_empty(folders: list[Path]) -> None:
    """Remove directories, deepest first, stopping at the first that holds something else now."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def try_acquire(db_path: str | os.PathLike[str], command: str, now: datetime | None = None,
                pulses: bool = False) -> RunLock:
    """Take the run lock without waiting; raise AlreadyRunning naming the holder when it is taken.

    `pulses`: the session will show life with `pulse` (its record says so, for `status` to wait for it);
    until its first `pulse`, a start pulse (a thread) shows life for it every PULSE_INTERVAL seconds.
    """
    path = lock_path_for(db_path)
    if path.is_dir():
        raise ConfigError(f"lock record {path} is a directory: remove it")
    key, fd, made = _store_descriptor(db_path)
    if key in _held:
        raise AlreadyRunning(_describe(db_path, key), path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AlreadyRunning(_describe(db_path, key), path) from None
    _held.add(key)
    started = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    # A session that pulses names its run as soon as it has one (RunLock.note_run): none is its before.
    holder = LockHolder(os.getpid(), command, started, pulses, names_run=pulses)
    lock = RunLock(path, fd, holder, key, made)
    try:
        _write_record(path, holder)
    except OSError as exc:
        lock.release()
        raise ConfigError(f"cannot write the lock record {path}: {exc.strerror or exc}") from None
    except BaseException:  # a signal while it is taken: the store file it made goes again, as after a failed start
        lock.discard_created()
        lock.release()
        raise
    if pulses:
        _start_pulses[path] = _StartPulse(path, PULSE_INTERVAL, START_PULSE_LIMIT)
    return lock


def _write_record(path: Path, holder: LockHolder) -> None:
    """Write the holder record atomically (a reader never sees half of it)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(asdict(holder)), encoding="utf-8")
    os.replace(temporary, path)


def _describe(db_path: str | os.PathLike[str], key: tuple[int, int]) -> LockHolder | None:
    """Return who holds the lock: the record when it names a live process, else the pid of /proc/locks."""
    record = read_record(db_path)
    pid = _flock_pid(key)
    if record is not None and (pid is None or record.pid == pid):
        return record
    if pid is not None:
        return LockHolder(pid, "session", "unknown")
    return record


@contextmanager
def acquire(db_path: str | os.PathLike[str], command: str, now: datetime | None = None,
            pulses: bool = False) -> Iterator[RunLock]:
    """Hold the run lock for the block; raise AlreadyRunning when another session holds it."""
    lock = try_acquire(db_path, command, now, pulses)
    try:
        yield lock
    finally:
        lock.release()


@contextmanager
def keep_pulsing(held: RunLock) -> Iterator[None]:
    """Pulse a held lock's record every PULSE_INTERVAL real seconds for the block, with no START_PULSE_LIMIT.

    For work that writes no heartbeat and may rightly take longer than any start (`slob migrate` of a big
    store, a session's own upgrade of one): it replaces the lock's start pulse, and ends with the block (or
    the lock's release). A start pulse it replaced starts again after it, with a START_PULSE_LIMIT of its own,
    for the rest of the session's start (its heartbeat loop not running yet).
    """
    starting = _start_pulses.pop(held.path, None)
    if starting is not None:
        starting.stop()
    steady = _StartPulse(held.path, PULSE_INTERVAL, None, "slob-pulse")
    _start_pulses[held.path] = steady  # release() and the heartbeat's first pulse stop it too
    try:
        yield
    finally:
        ours = _start_pulses.get(held.path) is steady
        if ours:
            del _start_pulses[held.path]
        steady.stop()
        if ours and starting is not None and held.held:
            _start_pulses[held.path] = _StartPulse(held.path, PULSE_INTERVAL, START_PULSE_LIMIT)


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


def process_stopped(pid: int) -> bool:
    """Return True when a process is stopped (SIGSTOP, a debugger): alive, holding its locks, doing nothing."""
    import psutil

    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def current_holder(db_path: str | os.PathLike[str]) -> LockHolder | None:
    """Return the live holder of the run lock, or None; never takes the lock itself.

    The kernel's lock table decides (Linux): the record describes the pid that holds the flock on
    the store file; a record without such a holder is a leftover of a killed run. Without a lock
    table to read, a record naming a live process (not a younger one with a reused pid) counts.
    """
    holder = read_record(db_path)
    try:
        stat = os.stat(db_path)  # never open the store file here: see the module docstring
    except OSError:
        stat = None
    pid = _flock_pid((stat.st_dev, stat.st_ino)) if stat is not None else None
    if pid is not None and (holder is None or holder.pid != pid):
        return LockHolder(pid, "session", "unknown") if _process_alive(pid, "") else None
    if holder is None or not _process_alive(holder.pid, holder.started_at):
        return None
    if pid is None and stat is not None and _lock_table_readable():
        return None  # the record's process lives but holds no lock on this store
    return holder


def pulse(db_path: str | os.PathLike[str]) -> None:
    """Mark the holder record of this process as alive now (its mtime, on the wall clock); else do nothing.

    A run on a simulated clock writes its health rows on virtual time (the same rows at any speed),
    so they cannot say whether it is alive now: readers take this real-time mark instead (`last_pulse`).
    The first call stops the session's start pulse: from then on its heartbeat loop shows life.
    """
    starting = _start_pulses.pop(lock_path_for(db_path), None)
    if starting is not None:  # the session's own heartbeat loop takes over from its start pulse
        starting.stop()
    record = read_record(db_path)
    if record is None or record.pid != os.getpid():
        return
    try:
        os.utime(lock_path_for(db_path))
    except OSError:
        pass  # the record only describes the holder


def last_pulse(db_path: str | os.PathLike[str]) -> datetime | None:
    """Return when the holder last marked itself alive (`pulse`, or the lock's taking), on the wall clock."""
    try:
        return datetime.fromtimestamp(lock_path_for(db_path).stat().st_mtime, tz=UTC)
    except OSError:
        return None


def _lock_table_readable() -> bool:
    return os.access("/proc/locks", os.R_OK)
