"""Run `track_range` as `slob setups track` does, with or without a helper process, in a process of its own.

Usage: python -m tests.runtime.split_driver DB FIRST LAST MODE, MODE one of:
`sequential` (no helper), `split` (a helper shares the days), `raises` (the helper's reads fail),
`dies` (the helper exits abruptly before sending), `dies-late` (after sending two blocks of two days), `busy` (this
process is held up after claiming its first block until the helper has claimed all the others). Prints the
TrackResult as JSON, and on stderr `helper <pid> of <n> blocks` when one was forked and `given <n>`, the days it gave
(and `own <n>`, the days computed here). A forked helper needs a process with one thread: pytest's may have more.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from slob_cli.adapters.store import Store
from slob_cli.core.sessions import TradingCalendar
from slob_cli.core.strategy import StrategyConfig
from slob_cli.runtime import track_split, tracking
from tests.conftest import eventually

LATER = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _let_the_helper_claim(helper: track_split.DayHelper, blocks: int) -> None:
    """Wait (up to 60 s) until the helper has claimed `blocks` blocks or has ended: how many it gets is then known.

    This process has claimed one block when it first computes; the rest of the claims pipe is read
    by its size (FIONREAD), so nothing is taken from it.
    """
    import fcntl
    import struct
    import termios

    def claimed() -> bool:
        left = struct.unpack("i", fcntl.ioctl(helper.claims, termios.FIONREAD, b"\0" * 4))[0] // 2
        return len(helper.blocks) - 1 - left >= blocks or _ended(helper.pid)

    eventually(claimed, timeout=60, interval=0.001)


def _ended(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def main() -> None:
    db, first, last, mode = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]), sys.argv[4]
    track_split.MIN_SPLIT_DAYS, track_split.BLOCK_DAYS = 4, 2
    parent = os.getpid()
    if mode == "raises":
        reads = tracking._stored_days

        def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
            if os.getpid() != parent:
                raise OSError("the helper's disk went away")
            return reads(*args, **kwargs)

        tracking._stored_days = failing  # type: ignore[assignment]
    elif mode in ("dies", "dies-late"):  # at once, or after two blocks of two days
        made = []
        outcome = track_split.day_outcome

        def dying(symbol, stored):  # type: ignore[no-untyped-def]
            made.append(stored.day)
            if mode == "dies" or len(made) > 4:
                os._exit(9)
            return outcome(symbol, stored)

        track_split.day_outcome = dying  # type: ignore[assignment]
    taken = track_split.DayHelper.outcomes

    def counted(helper, compute):  # type: ignore[no-untyped-def]
        own: list[date] = []

        def computing(first, last):  # type: ignore[no-untyped-def]
            if not own:  # "busy": this process is held up until the helper has claimed every other block
                _let_the_helper_claim(helper, len(helper.blocks) - 1 if mode == "busy" else 3)
            for outcome in compute(first, last):
                own.append(outcome.day)
                yield outcome

        yield from taken(helper, computing)
        print(f"given {helper.given}\nown {len(own)}", file=sys.stderr)

    track_split.DayHelper.outcomes = counted  # type: ignore[method-assign]
    calendar, config = TradingCalendar(), StrategyConfig()
    helper = None if mode == "sequential" else track_split.start_helper(db, "NQ", first, last, config, calendar, LATER)
    if helper is not None:
        print(f"helper {helper.pid} of {len(helper.blocks)} blocks", file=sys.stderr)
    try:
        with Store.open(db) as store:
            result = tracking.track_range(store, "NQ", first, last, config, calendar, LATER, helper=helper)
    finally:
        if helper is not None:
            helper.close()
    print(json.dumps(dataclasses.asdict(result), default=str, sort_keys=True))


if __name__ == "__main__":
    main()
