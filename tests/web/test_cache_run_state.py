"""`slob web` answers an unchanged store from memory, but never past a change of who holds the lock.

A run is `died` once its process holds no lock, which writes nothing to the store: the memo of
`/api/status` and `/api/positions` must see it at once, so a killed `--sim` run's orders are never
shown as working beside a run that says `died`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from slob_cli.adapters.store import Store
from tests.web.test_api import get_json

ROOT = Path(__file__).resolve().parents[2]  # the session script imports tests.opsdata

# A `run --sim` as the store sees it: it holds the lock, its run row and a stop and target working.
SESSION = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from slob_cli.adapters.store import Store
    from slob_cli.runtime.lock import try_acquire
    from tests.opsdata import add_order

    lock = try_acquire(sys.argv[1], "run")
    with Store.open(sys.argv[1]) as store:
        run_id = store.start_run("run", {"sim": True}, datetime(2026, 1, 6, 14, 30, tzinfo=timezone.utc))
        store.set_run_mode(run_id, "sim")
        for role, kind in (("stop", "STP"), ("target", "LMT")):
            add_order(store, f"slob:NQ-20260106-S1:{role}", role, "WORKING", "NQ-20260106-S1", action="BUY",
                      order_type=kind, run_id=run_id)
    print("ready", flush=True)
    sys.stdin.read()
""")


def _book(url: str) -> tuple[str, list[bool], list[bool]]:
    status = get_json(url + "/api/status")
    positions = get_json(url + "/api/positions")
    return (status["runs"][0]["state"], [o["ended_sim_run"] for o in status["working_orders"]],
            [o["ended_sim_run"] for o in positions["working_orders"]])


def test_a_killed_sim_runs_orders_are_ended_at_once_though_the_store_did_not_change(
        db_path: Path, web_server) -> None:  # noqa: ANN001
    Store.open(db_path).close()
    session = subprocess.Popen([sys.executable, "-c", SESSION, str(db_path)], stdin=subprocess.PIPE, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert session.stdout is not None and session.stdout.readline().strip() == "ready", session.stderr
        server = web_server()
        assert _book(server.url) == ("running", [False, False], [False, False])
        assert _book(server.url) == ("running", [False, False], [False, False])  # now answered from memory
        session.send_signal(signal.SIGKILL)
        session.wait(30)
        # Nothing was written since (the session wrote before "ready"): only the lock holder changed.
        assert _book(server.url) == ("died", [True, True], [True, True])
    finally:
        if session.poll() is None:
            session.kill()
        session.communicate(timeout=30)
