"""A session learns its calendar without pandas and without a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

from slob_cli.adapters.calendar import load_calendar_isolated


def test_a_range_beyond_the_table_still_comes_from_the_library_in_this_process() -> None:
    calendar = load_calendar_isolated(date(2036, 1, 1), date(2036, 1, 31))
    assert date(2036, 1, 1) in calendar.holidays and date(2036, 1, 21) in calendar.holidays


def test_loading_the_session_calendar_imports_no_pandas_and_starts_no_process() -> None:
    code = ("import sys, multiprocessing; from datetime import date;"
            "from slob_cli.adapters.calendar import load_calendar_isolated;"
            "c = load_calendar_isolated(date(2025, 12, 4), date(2027, 12, 4));"
            "assert date(2026, 12, 25) in c.holidays;"
            "assert 'pandas' not in sys.modules, 'pandas imported';"
            "assert not multiprocessing.active_children(), 'a child process'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=60)
    assert done.returncode == 0, done.stderr
