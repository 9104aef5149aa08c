"""The stored CME session table equals what exchange_calendars computes (the simulator needs no pandas)."""

from __future__ import annotations

import subprocess
import sys

from slob_cli.sim.contracts import _session_closes, library_session_closes


def test_stored_cme_sessions_equal_the_library() -> None:
    assert _session_closes() == library_session_closes()


def test_contract_sessions_import_no_pandas() -> None:
    code = ("import sys; from datetime import date; from slob_cli.sim.contracts import _session; "
            "_session(date(2026, 1, 6)); print('pandas' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "False"
