"""Track the later days of a long range in a second process while this one tracks and writes the earlier ones.

`slob setups track` over hundreds of days is CPU-bound Python, and the trading days are independent
(each runs on a tracker of its own, runtime.tracking), so on a machine with a second core a forked
helper computes the range's later days from a read-only connection of its own while this process
computes the earlier days and writes every day, in order, through the store's write-behind thread.
The helper writes nothing to the store: it sends its days' outcomes (`DayOutcome`) back pickled, a
chunk of days at a time, through an unnamed temporary file (see `DayHelper`). The stored rows and
the output are the same bytes as one process makes (tests hold them equal), because every day is
computed by the same `day_outcome` from the same inputs.

The helper is forked, so it shares this process's imports, calendar and configuration without
pickling them. A fork is only safe where nothing else runs: `start_helper` forks only on Linux,
only while this process has a single thread and no open store connection (the caller starts it
between its read-only look and its writing open), and only when the range is long enough to pay.
Anything that goes wrong in the helper (an error, a kill, a lost pipe) costs only time: this process
then computes the days the helper did not give, and a real fault (a damaged store) is met and
reported there.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.setups import ComputedDay, EventRow
from slob_cli.runtime.tracking import DayOutcome, day_outcome, trading_dates

if TYPE_CHECKING:
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig

log = logging.getLogger("slob.tracking")

MIN_SPLIT_DAYS = 40  # session days in a range below which the fork, pickling and read-only open cost more than they save
HELPER_SHARE = 0.55  # of the range's session days, the later ones the helper takes: this process also writes every day
CHUNK_DAYS = 20  # days the helper pickles at a time: memory on both sides stays a few days' worth


@dataclass(eq=False)
class DayHelper:
    """A forked process computing the days from `first` to the range's end; `outcomes()` takes them.

    The helper appends each chunk of days, pickled, to an unnamed temporary file the two share, and
    then says so on a pipe (`C <bytes>`; `D` when all are sent, `E <error>` when it failed), so it
    never waits for this process to read, and neither side holds more than a chunk.
    """

    first: date
    pid: int
    notices: int  # the pipe's read end
    chunks: int  # the shared temporary file
    complete: bool = False  # every day of the helper's was taken

    def outcomes(self) -> Iterator[DayOutcome]:
        """Yield the helper's days in order, as it sends them; then `complete` says whether that was all.

        Anything that goes wrong (the helper's error, its death, a cut pipe, a half-written chunk)
        ends the iteration early with `complete` False: the caller computes the remaining days. The
        helper has ended (and is reaped) when the iteration ends.
        """
        offset = 0
        try:
            with os.fdopen(self.notices, "rb", closefd=False) as pipe:  # close() lets go of the descriptor
                for line in pipe:
                    kind, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
                    if kind == "C":
                        size = int(rest)
                        data = os.pread(self.chunks, size, offset)
                        offset += size
                        yield from map(_unpack, pickle.loads(data))
                    elif kind == "D":
                        self.complete = True
                        return
                    else:
                        log.debug("the tracking helper failed (%s); computing its other days here", rest)
                        return
            log.debug("the tracking helper ended without its last days; computing them here")
        except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
            log.debug("the tracking helper's days could not be read (%s: %s); computing them here",
                      type(exc).__name__, exc)
        finally:
            self.close()

    def close(self) -> None:
        """End the helper if it still runs, reap it and let go of the pipe and file; safe to call again.

        A Ctrl-C meanwhile is held back until the helper is reaped, then raised.
        """
        with _signals_held():
            if self.pid:
                with contextlib.suppress(OSError):
                    os.kill(self.pid, signal.SIGKILL)  # it has sent all it will, or is not wanted any more
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
                self.pid = 0
            for fd in (self.notices, self.chunks):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self.notices = self.chunks = -1
            _running.discard(self)


_running: set[DayHelper] = set()  # helpers not closed yet: ended at exit, whatever way this process leaves


@atexit.register
def _end_helpers() -> None:
    for helper in list(_running):
        helper.close()


@contextlib.contextmanager
def _signals_held() -> Iterator[set[int | signal.Signals]]:
    """Hold SIGINT and SIGTERM back for the block (yielding the mask before it); raise them after it."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield held
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a signal held back is raised here


def split_day(days: Sequence[date]) -> date | None:
    """Return the first of the session days the helper should take, or None when the range is too short to split."""
    if len(days) < MIN_SPLIT_DAYS:
        return None
    return days[len(days) - round(len(days) * HELPER_SHARE)]


def can_fork() -> bool:
    """Return True where a helper may be forked: Linux, a second usable core, and no other thread running."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return cores >= 2 and threading.active_count() == 1


def start_helper(
    path: Path, symbol: str, start_date: date, end_date: date, config: StrategyConfig, calendar: TradingCalendar,
    now: datetime, processes: int = 2,
) -> DayHelper | None:
    """Fork a helper computing the later part of [start_date, end_date]; None when this range or machine gains nothing.

    `processes` is the setting SLOB_TRACK_PROCESSES: 1 keeps every day in this process.

    Call it with no store connection open in this process (a forked child must not inherit one);
    `track_range(..., helper=...)` then takes its days, and `close()` ends it in any case.
    """
    from slob_cli.core.sessions import trading_date_of

    last = min(end_date, trading_date_of(now))
    first = split_day([day for day in trading_dates(start_date, last) if calendar.is_session(day)])
    if processes < 2 or first is None or not can_fork():
        return None
    try:
        chunks = _unnamed_file()
    except OSError as exc:
        log.debug("no tracking helper: no temporary file (%s)", exc)
        return None
    reader, writer = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    # A signal during the fork would reach Python inside an at-fork hook, which only reports it as
    # "Exception ignored": Ctrl-C would be lost. Held back until the helper is known to be ended at exit.
    with _signals_held() as held:
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (reader, writer, chunks):
                os.close(fd)
            log.debug("no tracking helper: %s", exc)
            return None
        if pid == 0:  # the helper: compute, send, and leave without running anything of the parent's
            os.close(reader)
            _serve(writer, chunks, held, path, symbol, first, end_date, config, calendar, now)
        os.close(writer)
        helper = DayHelper(first, pid, reader, chunks)
        _running.add(helper)
    log.debug("a helper process (pid %d) tracks the days from %s", pid, first)
    return helper


def _unnamed_file() -> int:
    """Return the descriptor of a new temporary file that has no name (gone when both processes close it)."""
    import tempfile

    handle = tempfile.TemporaryFile()  # noqa: SIM115 - only its descriptor is kept, closed by DayHelper.close
    try:
        return os.dup(handle.fileno())
    finally:
        handle.close()


def _serve(
    writer: int, chunks: int, held: set[int | signal.Signals], path: Path, symbol: str, first: date, end_date: date,
    config: StrategyConfig, calendar: TradingCalendar, now: datetime,
) -> None:
    """In the helper: compute the days, append them chunk by chunk to the file and say so on the pipe; never return."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides, and ends this
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
            os.dup2(null_in.fileno(), 0)
            os.dup2(null_out.fileno(), 1)  # the parent's output is the parent's alone
        from slob_cli.adapters.store import Store
        from slob_cli.runtime.tracking import _collection_paused, _stored_days

        def send(chunk: list[DayOutcome]) -> None:
            data = pickle.dumps(list(map(_pack, chunk)), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(chunks, data)  # the file first: a notice always names bytes that are there
            _write_all(writer, b"C %d\n" % len(data))

        try:
            with _collection_paused(), Store.open(path, readonly=True) as store:
                chunk: list[DayOutcome] = []
                for stored in _stored_days(store, symbol, first, end_date, config, calendar, now):
                    chunk.append(day_outcome(symbol, stored))
                    if len(chunk) == CHUNK_DAYS:
                        send(chunk)
                        chunk = []
                if chunk:
                    send(chunk)
            _write_all(writer, b"D\n")
        except Exception as exc:  # noqa: BLE001 - the parent computes the other days itself and meets any real fault
            _write_all(writer, f"E {type(exc).__name__}: {exc}".replace("\n", " ").encode() + b"\n")
    except BaseException:  # noqa: BLE001 - a cut pipe (the parent is gone) or anything else: nothing to add
        code = 1
    finally:
        os._exit(code)


# A day as sent: (day, final_us, rows, None or (events as plain tuples, inputs)). Plain tuples pickle
# in C; named ones go through copyreg in Python, which made pickling 3.5x slower.
_Packed = tuple[date, int, list[dict[str, Any]], tuple[list[tuple[Any, ...]], Any] | None]
_tuple_new = tuple.__new__


def _pack(outcome: DayOutcome) -> _Packed:
    computed = outcome.computed
    return (outcome.day, outcome.final_us, outcome.rows,
            None if computed is None else ([tuple(event.row()) for event in computed.events], computed.inputs))


def _unpack(packed: _Packed) -> DayOutcome:
    day, final_us, rows, computed = packed
    if computed is None:
        return DayOutcome(day, final_us, rows, None)
    events, inputs = computed
    return DayOutcome(day, final_us, rows, ComputedDay(day, [_tuple_new(EventRow, event) for event in events], rows, inputs))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
