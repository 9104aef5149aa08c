"""Run `track_range` as `slob setups track` does, with or without a helper process, in a process of its own.

Usage: python -m tests.runtime.split_driver DB FIRST LAST MODE, MODE one of:
`sequential` (no helper), `split` (a helper takes the later days), `raises` (the helper's reads fail),
`dies` (the helper exits abruptly before sending), `dies-late` (after sending four days). Prints the TrackResult as JSON, and on stderr
`helper <pid> from <day>` when one was forked and `given <n>`, the days it gave. A forked helper needs a process with one thread: pytest's may have more.
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

LATER = datetime(2026, 12, 1, tzinfo=timezone.utc)


def main() -> None:
    db, first, last, mode = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]), sys.argv[4]
    track_split.MIN_SPLIT_DAYS = 4
    parent = os.getpid()
    if mode == "raises":
        reads = tracking._stored_days

        def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
            if os.getpid() != parent:
                raise OSError("the helper's disk went away")
            return reads(*args, **kwargs)

        tracking._stored_days = failing  # type: ignore[assignment]
    elif mode in ("dies", "dies-late"):  # at once, or after two chunks of two days
        track_split.CHUNK_DAYS = 2
        made = []
        outcome = track_split.day_outcome

        def dying(symbol, stored):  # type: ignore[no-untyped-def]
            made.append(stored.day)
            if mode == "dies" or len(made) > 4:
                os._exit(9)
            return outcome(symbol, stored)

        track_split.day_outcome = dying  # type: ignore[assignment]
    taken = track_split.DayHelper.outcomes

    def counted(helper):  # type: ignore[no-untyped-def]
        given = 0
        for given, day in enumerate(taken(helper), 1):  # noqa: B007 - the count is printed after the loop
            yield day
        print(f"given {given}", file=sys.stderr)

    track_split.DayHelper.outcomes = counted  # type: ignore[method-assign]
    calendar, config = TradingCalendar(), StrategyConfig()
    helper = None if mode == "sequential" else track_split.start_helper(db, "NQ", first, last, config, calendar, LATER)
    if helper is not None:
        print(f"helper {helper.pid} from {helper.first}", file=sys.stderr)
    try:
        with Store.open(db) as store:
            result = tracking.track_range(store, "NQ", first, last, config, calendar, LATER, helper=helper)
    finally:
        if helper is not None:
            helper.close()
    print(json.dumps(dataclasses.asdict(result), default=str, sort_keys=True))


if __name__ == "__main__":
    main()
