"""The stored NYSE closures table equals what exchange_calendars computes, so using it changes nothing."""

from __future__ import annotations

import sys
from datetime import date

import pytest

from slob_cli.adapters import nyse_closures
from slob_cli.adapters.calendar import library_calendar, load_calendar, stored_closed_weekdays, stored_early_closes


def test_stored_closures_equal_the_library_over_the_whole_table() -> None:
    library = library_calendar(nyse_closures.FIRST, nyse_closures.LAST)
    assert stored_closed_weekdays() == library.holidays
    assert stored_early_closes() == dict(library.early_closes)


@pytest.mark.parametrize(("start", "end"), [
    (date(2026, 1, 6), date(2026, 1, 6)),     # one day
    (date(2025, 12, 20), date(2026, 1, 5)),   # Christmas, an early close, New Year
    (date(2001, 9, 1), date(2001, 9, 30)),    # the September 2001 closure
    (date(2000, 1, 1), date(2000, 1, 31)),    # the table's first month
])
def test_a_range_within_the_table_is_the_library_calendar(start: date, end: date) -> None:
    assert load_calendar(start, end) == library_calendar(start, end)


def test_a_range_beyond_the_table_still_comes_from_the_library() -> None:
    start, end = date(1999, 12, 1), date(2000, 1, 31)
    assert load_calendar(start, end) == library_calendar(start, end)
    assert date(1999, 12, 24) in load_calendar(start, end).holidays


def test_tracking_days_within_the_table_imports_no_pandas() -> None:
    import subprocess

    code = ("import sys; from datetime import date; from slob_cli.adapters.calendar import load_calendar; "
            "load_calendar(date(2026, 1, 1), date(2026, 12, 31)); print('pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"
