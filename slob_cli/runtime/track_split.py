"""Track a long range's days in two processes: this one and a forked helper take blocks of days in turn.

`slob setups track` over hundreds of days is CPU-bound Python, and the trading days are independent
(each runs on a tracker of its own, runtime.tracking), so on a machine with a second core a forked
helper computes some of the range's days from a read-only connection of its own while this process
computes the others and writes every day, in order, through the store's write-behind thread.

The range's session days are cut into blocks of a few days, and each block is claimed by whichever
process asks first (a pipe holds the block numbers: reading one is claiming it), so the work divides
itself by how fast each side goes: this process, which also writes, claims fewer. The helper writes
nothing to the store: it sends each block's outcomes (`DayOutcome`) back marshalled through an unnamed
temporary file (see `DayHelper`). The stored rows and the output are the same bytes as one process
makes (tests hold them equal), because every day is computed by the same `day_outcome` from the same
inputs and written in the range's order.

The helper is forked, so it shares this process's imports, calendar and configuration without
pickling them. A fork is only safe where nothing else runs: `start_helper` forks only on Linux,
only while this process has a single thread and no open store connection (the caller starts it
between its read-only look and its writing open), and only when the range is long enough to pay.
Anything that goes wrong in the helper (an error, a kill, a lost pipe) costs only time: this process
then computes the blocks the helper claimed and did not give, and a real fault (a damaged store) is
met and reported there.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import marshal
import os
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.setups import ComputedDay, DayInputs, EventRow
from slob_cli.runtime.tracking import DayOutcome, day_outcome, trading_dates

Compute = Callable[[date, date], Iterator[DayOutcome]]  # the outcomes of the session days from first to last, in order

if TYPE_CHECKING:
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig

log = logging.getLogger("slob.tracking")

MIN_SPLIT_DAYS = 40  # session days in a range below which the fork, marshalling and read-only open cost more than they save
BLOCK_DAYS = 5  # session days per block: small enough that neither process waits long for the other at the end
MAX_BLOCKS = 4096  # a longer range gets longer blocks: every block number fits in the pipe before the fork
_TOKEN = struct.Struct(">H")  # a block number in the claims pipe


@dataclass(eq=False)
class DayHelper:
    """A forked process taking blocks of the range's session days; `outcomes()` gives every day of the range in order.

    `blocks` are the (first, last) session days of each block. A block is claimed by reading its
    number from the `claims` pipe (two bytes; the pipe has no writer left, so an empty one reads as
    the end). The helper appends each claimed block's outcomes, marshalled, to an unnamed temporary file
    the two share and then says so on the `notices` pipe (`C <block> <bytes>`; `D` when it has
    claimed the last, `E <error>` when it failed), so it never waits for this process to read.
    """

    blocks: list[tuple[date, date]]
    pid: int
    notices: int  # the pipe's read end
    chunks: int  # the shared temporary file
    claims: int  # the block numbers not claimed yet
    given: int = 0  # days the helper gave
    _offset: int = 0  # bytes of `chunks` read
    _pipe: Any = None  # `notices` as a file, while the helper may still send
    _failed: bool = False  # the helper will send nothing more: this process computes every block left

    def outcomes(self, compute: Compute) -> Iterator[DayOutcome]:
        """Yield every day of the blocks in order: those of the blocks this process claims from `compute`, the helper's as it sends them.

        This process claims a block, computes it, then yields the helper's blocks before it (waiting
        for them if need be) and its own. Anything that goes wrong on the helper's side (its error,
        its death, a cut pipe, a half-written chunk) leaves this process computing each block the
        helper claimed and did not give. The helper has ended (and is reaped) when the iteration ends.
        """
        try:
            self._pipe = os.fdopen(self.notices, "rb", closefd=False)  # close() lets go of the descriptor
            following = 0  # the next block to yield
            while (claimed := claim(self.claims)) is not None:
                own = list(compute(*self.blocks[claimed]))
                for block in range(following, claimed):  # claimed by the helper meanwhile
                    yield from self._taken(block, compute)
                yield from own
                following = claimed + 1
            for block in range(following, len(self.blocks)):
                yield from self._taken(block, compute)
        finally:
            self.close()

    def _taken(self, block: int, compute: Compute) -> Iterator[DayOutcome]:
        """Yield a block the helper claimed: as it sends it, or computed here when it cannot."""
        outcomes = None if self._failed else self._receive(block)
        if outcomes is None:
            self._failed = True  # it will send nothing more that can be taken: every block left is computed here
            yield from compute(*self.blocks[block])
            return
        self.given += len(outcomes)
        yield from outcomes

    def _receive(self, block: int) -> list[DayOutcome] | None:
        """Return the helper's days of a block, waiting for them; None when it will not give them."""
        try:
            for line in self._pipe:
                kind, _, rest = line.decode("utf-8", "replace").strip().partition(" ")
                if kind == "C":
                    number, size = map(int, rest.split())
                    data = os.pread(self.chunks, size, self._offset)
                    self._offset += size
                    if number == block and len(data) == size:
                        return list(map(_unpack, marshal.loads(data)))
                    log.debug("the tracking helper sent block %d while %d was due; computing the rest here", number, block)
                elif kind == "E":
                    log.debug("the tracking helper failed (%s); computing its other days here", rest)
                break  # "D" (it claimed no more), an error, or a block out of turn
            else:
                log.debug("the tracking helper ended without its last days; computing them here")
        except (OSError, ValueError, EOFError, TypeError) as exc:
            log.debug("the tracking helper's days could not be read (%s: %s); computing them here",
                      type(exc).__name__, exc)
        return None

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
            if self._pipe is not None:
                self._pipe.close()  # the file object only: its descriptor is closed below
                self._pipe = None
            for fd in (self.notices, self.chunks, self.claims):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self.notices = self.chunks = self.claims = -1
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


def claim(claims: int) -> int | None:
    """Claim the next block (read its number from the claims pipe); None when every block is claimed."""
    data = os.read(claims, _TOKEN.size)
    return _TOKEN.unpack(data)[0] if len(data) == _TOKEN.size else None


def day_blocks(days: Sequence[date]) -> list[tuple[date, date]]:
    """Return the (first, last) session days of each block of `days`; [] when the range is too short to share."""
    if len(days) < MIN_SPLIT_DAYS:
        return []
    size = max(BLOCK_DAYS, -(-len(days) // MAX_BLOCKS))
    return [(days[index], days[min(index + size, len(days)) - 1]) for index in range(0, len(days), size)]


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
    """Fork a helper sharing the blocks of [start_date, end_date] with this process; None when this range or machine gains nothing.

    `processes` is the setting SLOB_TRACK_PROCESSES: 1 keeps every day in this process.

    Call it with no store connection open in this process (a forked child must not inherit one);
    `track_range(..., helper=...)` then takes the days, and `close()` ends it in any case.
    """
    from slob_cli.core.sessions import trading_date_of

    last = min(end_date, trading_date_of(now))
    blocks = day_blocks([day for day in trading_dates(start_date, last) if calendar.is_session(day)])
    if processes < 2 or not blocks or not can_fork():
        return None
    try:
        chunks = _unnamed_file()
    except OSError as exc:
        log.debug("no tracking helper: no temporary file (%s)", exc)
        return None
    claims, numbers = os.pipe()
    _write_all(numbers, b"".join(map(_TOKEN.pack, range(len(blocks)))))  # MAX_BLOCKS of them fit in a pipe
    os.close(numbers)  # no writer left: a pipe emptied by the claims reads as the end
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
            for fd in (reader, writer, chunks, claims):
                os.close(fd)
            log.debug("no tracking helper: %s", exc)
            return None
        if pid == 0:  # the helper: compute, send, and leave without running anything of the parent's
            os.close(reader)
            _serve(writer, chunks, claims, held, path, symbol, blocks, config, calendar, now)
        os.close(writer)
        helper = DayHelper(blocks, pid, reader, chunks, claims)
        _running.add(helper)
    log.debug("a helper process (pid %d) shares %d blocks of days with this one", pid, len(blocks))
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
    writer: int, chunks: int, claims: int, held: set[int | signal.Signals], path: Path, symbol: str,
    blocks: list[tuple[date, date]], config: StrategyConfig, calendar: TradingCalendar, now: datetime,
) -> None:
    """In the helper: claim blocks, append each one's outcomes to the file and say so on the pipe; never return."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides, and ends this
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
            os.dup2(null_in.fileno(), 0)
            os.dup2(null_out.fileno(), 1)  # the parent's output is the parent's alone
        from slob_cli.adapters.store import Store
        from slob_cli.runtime.tracking import _collection_paused, _stored_days

        try:
            with _collection_paused(), Store.open(path, readonly=True) as store:
                while (block := claim(claims)) is not None:
                    first, last = blocks[block]
                    outcomes = [day_outcome(symbol, stored)
                                for stored in _stored_days(store, symbol, first, last, config, calendar, now)]
                    data = marshal.dumps(list(map(_pack, outcomes)))
                    _write_all(chunks, data)  # the file first: a notice always names bytes that are there
                    _write_all(writer, b"C %d %d\n" % (block, len(data)))
            _write_all(writer, b"D\n")
        except Exception as exc:  # noqa: BLE001 - the parent computes the other days itself and meets any real fault
            _write_all(writer, f"E {type(exc).__name__}: {exc}".replace("\n", " ").encode() + b"\n")
    except BaseException:  # noqa: BLE001 - a cut pipe (the parent is gone) or anything else: nothing to add
        code = 1
    finally:
        os._exit(code)


# A day as sent: (day's ordinal, final_us, rows, None or (events as plain tuples, None or inputs as a tuple)):
# plain values only, which `marshal` writes and reads in C, about twice as fast as pickle (named tuples,
# dates and dataclasses would go through copyreg in Python).
_Packed = tuple[int, int, list[dict[str, Any]], tuple[list[tuple[Any, ...]], tuple[str, int, int] | None] | None]
_tuple_new = tuple.__new__


def _pack(outcome: DayOutcome) -> _Packed:
    """Return a day's outcome as plain values `marshal` takes (the day as its ordinal, the inputs as a tuple)."""
    computed = outcome.computed
    if computed is None:
        return (outcome.day.toordinal(), outcome.final_us, outcome.rows, None)
    inputs = computed.inputs
    return (outcome.day.toordinal(), outcome.final_us, outcome.rows,
            ([tuple(event.row()) for event in computed.events],
             None if inputs is None else (inputs.digest, inputs.events, inputs.setups)))


def _unpack(packed: _Packed) -> DayOutcome:
    ordinal, final_us, rows, computed = packed
    day = date.fromordinal(ordinal)
    if computed is None:
        return DayOutcome(day, final_us, rows, None)
    events, inputs = computed
    return DayOutcome(day, final_us, rows, ComputedDay(day, [_tuple_new(EventRow, event) for event in events], rows,
                                                       None if inputs is None else DayInputs(*inputs)))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
