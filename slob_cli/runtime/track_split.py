"""Track the later days of a long range in a second process while this one tracks and writes the earlier ones.

`slob setups track` over hundreds of days is CPU-bound Python, and the trading days are independent
(each runs on a tracker of its own, runtime.tracking), so on a machine with a second core a forked
helper computes the range's later days from a read-only connection of its own while this process
computes the earlier days and writes every day, in order, through the store's write-behind thread.
The helper writes nothing: it sends its days' outcomes (`DayOutcome`) back pickled, once, when all
are done. The stored rows and the output are the same bytes as one process makes (tests hold them
equal), because every day is computed by the same `day_outcome` from the same inputs.

The helper is forked, so it shares this process's imports, calendar and configuration without
pickling them. A fork is only safe where nothing else runs: `start_helper` forks only on Linux,
only while this process has a single thread and no open store connection (the caller starts it
between its read-only look and its writing open), and only when the range is long enough to pay.
Anything that goes wrong in the helper (an error, a kill, a lost pipe) costs only time: this process
then computes the helper's days itself, and a real fault (a damaged store) is met and reported there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from slob_cli.runtime.tracking import DayOutcome, day_outcome, trading_dates

if TYPE_CHECKING:
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig

log = logging.getLogger("slob.tracking")

MIN_SPLIT_DAYS = 40  # session days in a range below which the fork, pickling and read-only open cost more than they save
HELPER_SHARE = 0.55  # of the range's session days, the later ones the helper takes: this process also writes every day


@dataclass
class DayHelper:
    """A forked process computing the days from `first` to the range's end; `outcomes()` takes them."""

    first: date
    pid: int
    reader: int  # the pipe's read end
    _taken: bool = False

    def outcomes(self) -> list[DayOutcome] | None:
        """Wait for the helper's days, in order; None when it has none to give (it failed or died).

        Taken once: the helper has ended (and is reaped) when this returns.
        """
        if self._taken:
            return None
        self._taken = True
        try:
            with os.fdopen(self.reader, "rb", closefd=True) as pipe:
                self.reader = -1
                sent = pickle.load(pipe)
        except Exception as exc:  # noqa: BLE001 - EOF, a cut pipe, a half-sent pickle: compute the days here
            log.debug("the tracking helper gave nothing (%s: %s); computing its days here", type(exc).__name__, exc)
            sent = None
        finally:
            self.close()
        if isinstance(sent, str):  # the helper's own error, as text
            log.debug("the tracking helper failed (%s); computing its days here", sent)
            return None
        return sent if isinstance(sent, list) else None

    def close(self) -> None:
        """End the helper if it still runs and reap it; safe to call more than once."""
        if self.reader >= 0:
            with contextlib.suppress(OSError):
                os.close(self.reader)
            self.reader = -1
        if self.pid:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)  # it has sent all it will, or is not wanted any more
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0


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
    reader, writer = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(reader)
        os.close(writer)
        log.debug("no tracking helper: %s", exc)
        return None
    if pid == 0:  # the helper: compute, send, and leave without running anything of the parent's
        os.close(reader)
        _serve(writer, path, symbol, first, end_date, config, calendar, now)
    os.close(writer)
    log.debug("a helper process (pid %d) tracks the days from %s", pid, first)
    return DayHelper(first, pid, reader)


def _serve(
    writer: int, path: Path, symbol: str, first: date, end_date: date, config: StrategyConfig,
    calendar: TradingCalendar, now: datetime,
) -> None:
    """In the helper: compute the days and write their outcomes (or the error, as text) to the pipe; never return."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides, and ends this
        with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
            os.dup2(null_in.fileno(), 0)
            os.dup2(null_out.fileno(), 1)  # the parent's output is the parent's alone
        import gc

        gc.disable()  # as track_range: no reference cycles among the hundred thousand objects made here
        from slob_cli.adapters.store import Store
        from slob_cli.runtime.tracking import _stored_days

        try:
            with Store.open(path, readonly=True) as store:
                sent: object = [day_outcome(symbol, stored) for stored in
                                _stored_days(store, symbol, first, end_date, config, calendar, now)]
        except Exception as exc:  # noqa: BLE001 - the parent computes these days itself and meets any real fault
            sent = f"{type(exc).__name__}: {exc}"
        data = pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(writer, view):]
    except BaseException:  # noqa: BLE001 - a cut pipe (the parent is gone) or anything else: nothing to add
        code = 1
    finally:
        os._exit(code)
