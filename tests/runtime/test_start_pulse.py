"""A session shows life from the moment it takes the lock, before its heartbeat loop runs.

`slob run`/`trade`/`paper`/`record` do work before their heartbeat loop starts: open the store (and
upgrade an older one: bench/migrate_v6.py measured 1.35 s per 400,000 rows here, so a year's
4 million heartbeats and events take tens of seconds, more on a loaded machine), start an embedded
gateway, build the engine. A small thread started with the lock pulses the lock record meanwhile
and stops once the session's own heartbeat pulses (lock.pulse). While a session upgrades the store,
nothing in it can be read: `status --check` judges the session by that pulse and says what it does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.adapters.store.schema import SCHEMA_VERSION
from slob_cli.cli.main import app
from slob_cli.runtime import lock
from slob_cli.runtime.lock import acquire, last_pulse, lock_path_for, pulse, try_acquire
from slob_cli.runtime.status import StoreBeingMade, open_for_reading
from tests.adapters.test_store_migration_v6 import _v5_store
from tests.conftest import eventually

UTC = timezone.utc


def _backdate(db_path: Path, seconds: float) -> None:
    moment = datetime.now(UTC).timestamp() - seconds
    os.utime(lock_path_for(db_path), (moment, moment))


def _pulse_age(db_path: Path) -> float:
    moment = last_pulse(db_path)
    assert moment is not None
    return (datetime.now(UTC) - moment).total_seconds()


def _start_pulses() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "slob-start-pulse"]


def test_a_pulsing_session_shows_life_from_its_lock_until_its_heartbeat_takes_over(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "PULSE_INTERVAL", 0.05)
    Store.open(db_path).close()
    held = try_acquire(db_path, "run", pulses=True)
    try:
        _backdate(db_path, 120)  # as if its start (a long store upgrade) had lasted two minutes
        eventually(lambda: _pulse_age(db_path) < 30, timeout=10)  # the start pulse touched it since
        assert len(_start_pulses()) == 1
        pulse(db_path)  # the session's heartbeat loop runs: it shows life itself from now on
        assert _start_pulses() == [] and _pulse_age(db_path) < 30
    finally:
        held.release()


def test_a_start_pulse_ends_with_the_lock_and_a_short_command_has_none(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "PULSE_INTERVAL", 0.05)
    Store.open(db_path).close()
    with acquire(db_path, "run", pulses=True):
        assert len(_start_pulses()) == 1
    assert _start_pulses() == []  # a session that ends before its heartbeat ran leaves no thread
    with acquire(db_path, "setups track"):
        assert _start_pulses() == []


def test_status_check_judges_a_session_upgrading_the_store_by_its_pulse(
        db_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _v5_store(db_path, monkeypatch, {})
    args = ["--db", str(db_path), "status", "--check"]
    nobody = runner.invoke(app, args)
    assert nobody.exit_code == 3 and "needs a migration" in nobody.stderr, nobody.output  # nobody upgrades it
    with acquire(db_path, "run", pulses=True):
        pid = os.getpid()
        healthy = runner.invoke(app, args)
        assert healthy.exit_code == 0, healthy.output
        assert healthy.stdout.startswith(f"healthy: slob run (pid {pid}, since "), healthy.stdout
        assert f"is upgrading the store (schema v5 to v{SCHEMA_VERSION}), alive " in healthy.stdout
        assert "(real time), no heartbeat yet, started " in healthy.stdout
        table = runner.invoke(app, ["--db", str(db_path), "status"])
        assert table.exit_code == 3 and "is upgrading the store" in table.stderr, table.output
        assert "nothing in it can be read until it has finished" in table.stderr
        pulse(db_path)  # its start pulse stops (as a hung upgrade's would show no life)
        _backdate(db_path, 120)
        stale = runner.invoke(app, args)
    assert stale.exit_code == 1, stale.output
    assert stale.stdout.startswith(f"unhealthy: slob run (pid {pid}, since "), stale.stdout
    assert "is upgrading the store" in stale.stdout, stale.stdout
    assert re.search(r"its last pulse 2 min( 1?\d s)? ago \(limit 1 min\)$", stale.stdout.strip()), stale.stdout


def test_status_names_the_session_creating_a_new_store(db_path: Path, runner: CliRunner) -> None:
    """A session's lock makes the store file empty; the session creates the store a moment later.

    `status --check` judges it by its pulse; `status`, `dashboard` and `web`, which can read nothing
    yet, exit 3 naming it (not `does not exist`).
    """
    check = ["--db", str(db_path), "status", "--check"]
    missing = runner.invoke(app, check)
    assert missing.exit_code == 3 and "does not exist" in missing.stderr, missing.output
    with acquire(db_path, "paper", pulses=True):
        assert db_path.is_file() and db_path.stat().st_size == 0
        pid = os.getpid()
        healthy = runner.invoke(app, check)
        assert healthy.exit_code == 0, healthy.output
        assert healthy.stdout.startswith(f"healthy: slob paper (pid {pid}, since "), healthy.stdout
        assert "is creating the store, alive " in healthy.stdout and "no heartbeat yet, started " in healthy.stdout
        with pytest.raises(StoreBeingMade) as made:  # nothing to read: judged by its pulse, on the wall clock
            open_for_reading(db_path)
        judged = made.value.liveness
        assert (judged.state, judged.sign, judged.heartbeat_clock, judged.note) == ("fresh", "pulse", "wall", None)
        listing = runner.invoke(app, ["--db", str(db_path), "status", "--json"])
        assert listing.exit_code == 3 and f"slob paper (pid {pid}, since " in listing.stderr, listing.output
        assert "is creating the store" in listing.stderr and "does not exist" not in listing.stderr
        frame = runner.invoke(app, ["--db", str(db_path), "dashboard", "--once", "--wait", "0"])  # no wait: at once
        assert frame.exit_code == 3 and frame.stderr.startswith(f"Error: slob paper (pid {pid}, since "), frame.output
        assert "is creating the store" in frame.stderr and len(frame.stderr.splitlines()) == 1
        # It waits (--wait) while the store is made, saying so once; a store still not ready then: exit 3.
        web = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), "web", "--port", "0",
                              "--wait", "0.5"], capture_output=True, text=True, timeout=60)
        lines = web.stderr.strip().splitlines()
        assert len(lines) == 2, (web.returncode, web.stderr)  # seen once under load with one line: say which
        notice, error = lines
        assert web.returncode == 3 and notice.startswith(f"slob web: slob paper (pid {pid}, since "), web.stderr
        assert notice.endswith(": waiting up to 0.5 s for it to finish"), notice
        assert error.startswith(f"Error: slob paper (pid {pid}, since "), web.stderr
        assert "is creating the store, alive " in error and error.endswith("until it has finished"), web.stderr
    with acquire(db_path, "setups track"):  # a command that never pulses: nothing says it creates a store
        assert "does not exist" in runner.invoke(app, check).stderr


def test_a_start_that_never_ends_stops_pulsing_at_its_limit(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread shows the process alive, not busy: a start hung past START_PULSE_LIMIT goes stale."""
    monkeypatch.setattr(lock, "PULSE_INTERVAL", 0.05)
    monkeypatch.setattr(lock, "START_PULSE_LIMIT", 0.3)
    Store.open(db_path).close()
    with acquire(db_path, "run", pulses=True):
        eventually(lambda: _start_pulses() == [], timeout=10)  # it ended by itself; the lock is still held
        _backdate(db_path, 120)
        assert _pulse_age(db_path) > 100


def test_status_in_another_process_names_a_migration_under_way(
        db_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """`slob migrate` holds the lock while it upgrades; it pulses like a starting session, so `status` names it
    (`slob migrate (pid N, since ...) is upgrading the store`) instead of saying the store needs a migration."""
    from slob_cli.adapters.store import migrate as store_migrate

    _v5_store(db_path, monkeypatch, {})
    real_migrate_store = store_migrate.migrate_store
    seen: dict[str, subprocess.CompletedProcess[str]] = {}

    def watched(path: Path) -> object:
        # The migration is under way (its lock taken): what `status` in another process says meanwhile.
        for args in (["status", "--json"], ["status", "--check"]):
            seen[args[-1]] = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), *args],
                                            capture_output=True, text=True, timeout=120)
        return real_migrate_store(path)

    monkeypatch.setattr(store_migrate, "migrate_store", watched)
    migrated = runner.invoke(app, ["--db", str(db_path), "migrate"])
    assert migrated.exit_code == 0, migrated.output
    pid, upgrading = os.getpid(), f"is upgrading the store (schema v5 to v{SCHEMA_VERSION})"
    listing, check = seen["--json"], seen["--check"]
    assert listing.returncode == 3 and "needs a migration" not in listing.stderr, listing.stderr
    assert listing.stderr.startswith(f"Error: slob migrate (pid {pid}, since "), listing.stderr
    assert upgrading in listing.stderr and "nothing in it can be read until it has finished" in listing.stderr
    assert check.returncode == 0 and check.stdout.startswith(f"healthy: slob migrate (pid {pid}, since "), check
    assert f"{upgrading}, alive " in check.stdout and "(real time), started " in check.stdout, check.stdout
    assert "heartbeat" not in check.stdout + listing.stderr  # a migration writes none: it waits for none
    assert _start_pulses() == []  # its pulse ended with the lock
    assert lock.read_record(db_path) is None


def _slob_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("slob-")]


def _pulsing_past_the_start_pulse_limit(db_path: Path) -> dict[str, object]:
    """In a migration that lasts: wait until the lock pulsed thrice past twice START_PULSE_LIMIT; return what
    `status --check` in another process says then (`check`) and the slob threads running (`threads`)."""
    import time

    began = time.monotonic()
    pulses_past_the_limit = 0
    while pulses_past_the_limit < 3:  # each pulse counted shows life the limit would have stopped
        _backdate(db_path, 120)
        eventually(lambda: _pulse_age(db_path) < 30, timeout=10)
        if time.monotonic() - began > 2 * lock.START_PULSE_LIMIT:
            pulses_past_the_limit += 1
    _backdate(db_path, 120)
    eventually(lambda: _pulse_age(db_path) < 30, timeout=10)
    check = subprocess.run([sys.executable, "-m", "slob_cli", "--db", str(db_path), "status", "--check"],
                           capture_output=True, text=True, timeout=120)
    return {"check": check, "threads": _slob_threads()}


def test_a_migration_goes_on_pulsing_past_the_start_pulse_limit(
        db_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big store's `slob migrate` may take longer than START_PULSE_LIMIT: it pulses for as long as it runs,
    so `status --check` in another process still says `healthy: slob migrate ...` past the limit."""
    from slob_cli.adapters.store import migrate as store_migrate

    _v5_store(db_path, monkeypatch, {})
    monkeypatch.setattr(lock, "PULSE_INTERVAL", 0.05)
    monkeypatch.setattr(lock, "START_PULSE_LIMIT", 0.3)
    real_migrate_store = store_migrate.migrate_store
    seen: dict[str, object] = {}

    def long_migration(path: Path) -> object:
        seen.update(_pulsing_past_the_start_pulse_limit(db_path))
        return real_migrate_store(path)

    monkeypatch.setattr(store_migrate, "migrate_store", long_migration)
    migrated = runner.invoke(app, ["--db", str(db_path), "migrate"])
    assert migrated.exit_code == 0, migrated.output
    check = seen["check"]
    assert isinstance(check, subprocess.CompletedProcess)
    assert check.returncode == 0 and check.stdout.startswith(f"healthy: slob migrate (pid {os.getpid()}, "), check
    assert seen["threads"] == ["slob-pulse"]  # its steady pulse, no start pulse beside it
    assert _slob_threads() == []  # ended with it
    assert lock.read_record(db_path) is None


def test_a_sessions_own_upgrade_at_start_goes_on_pulsing_past_the_start_pulse_limit(
        db_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """`slob record`/`run`/`trade`/`paper` upgrade an older store at start: like `slob migrate`, the session pulses
    for as long as its upgrade runs, so `status --check` in another process says it is healthy past the limit."""
    from slob_cli.adapters.store import schema
    from tests.cli.test_exit_codes import _closed_port

    _v5_store(db_path, monkeypatch, {})
    monkeypatch.setattr(lock, "PULSE_INTERVAL", 0.05)
    monkeypatch.setattr(lock, "START_PULSE_LIMIT", 0.3)
    real_step = schema.MIGRATIONS[5]  # v5 to v6, inside Store.open of the session's start
    seen: dict[str, object] = {}

    def long_step(conn: object) -> object:
        seen.update(_pulsing_past_the_start_pulse_limit(db_path))
        return real_step(conn)  # type: ignore[arg-type]

    monkeypatch.setitem(schema.MIGRATIONS, 5, long_step)
    recorded = runner.invoke(app, ["--db", str(db_path), "record", "--port", str(_closed_port()),
                                   "--connect-timeout", "1", "--duration", "5s", "--no-warm-up"])
    assert recorded.exit_code == 4, recorded.output  # upgraded, then no broker to record from
    check = seen["check"]
    assert isinstance(check, subprocess.CompletedProcess)
    assert check.returncode == 0 and check.stdout.startswith(f"healthy: slob record (pid {os.getpid()}, "), check
    assert f"is upgrading the store (schema v5 to v{SCHEMA_VERSION}), alive " in check.stdout, check.stdout
    assert seen["threads"] == ["slob-pulse"]  # its steady pulse in place of the start pulse
    assert _slob_threads() == [] and lock.read_record(db_path) is None  # ended with the session
    with Store.open(db_path, readonly=True) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_the_start_pulse_goes_on_after_an_upgrade_for_the_rest_of_the_start(db_path: Path) -> None:
    """After its upgrade a session still starts (an embedded gateway, its engine) before its heartbeat runs."""
    Store.open(db_path).close()
    with acquire(db_path, "run", pulses=True) as held:
        with lock.keep_pulsing(held):
            assert _slob_threads() == ["slob-pulse"]
        assert _slob_threads() == ["slob-start-pulse"]  # with a START_PULSE_LIMIT of its own
        pulse(db_path)  # its heartbeat loop takes over
        assert _slob_threads() == []
    with acquire(db_path, "setups track") as held, lock.keep_pulsing(held):
        pass
    assert _slob_threads() == []  # a lock with no start pulse gets none after it


def test_a_reader_waits_for_no_hung_session_making_the_store(db_path: Path) -> None:
    """`web` and `dashboard` wait while a live session makes the store; one that shows no life (stale) is not
    waited for: its exit 3 line comes at once, with no notice of a wait."""
    from slob_cli.runtime.status import open_when_ready

    notices: list[str] = []
    with acquire(db_path, "paper", pulses=True):
        pulse(db_path)  # its start pulse stops, as a hung start's would show no life
        _backdate(db_path, 120)
        with pytest.raises(StoreBeingMade) as made:
            open_when_ready(db_path, 60, notices.append)
    assert made.value.liveness.stale and notices == [], notices
    assert "is creating the store" in str(made.value)


def test_a_reader_says_it_waits_however_long_its_first_look_took(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded machine the first look at the store may outlast a short wait: the reader still says once whom it
    waits for, looks a last time, and raises (was: no notice when the first look took longer than wait - 0.2 s)."""
    import time

    from slob_cli.runtime import status

    real_open_for_reading = status.open_for_reading
    looks: list[float] = []

    def slow_first_look(path: Path, limit: float) -> object:
        began = time.monotonic()
        try:
            return real_open_for_reading(path, limit)
        finally:
            if not looks:  # the first look ends after the whole wait (0.3 s) has gone
                eventually(lambda: time.monotonic() > began + 0.4, timeout=10)
            looks.append(time.monotonic())

    monkeypatch.setattr(status, "open_for_reading", slow_first_look)
    notices: list[str] = []
    with acquire(db_path, "paper", pulses=True), pytest.raises(StoreBeingMade) as made:
        status.open_when_ready(db_path, 0.3, notices.append)
    assert len(notices) == 1 and notices[0].endswith(": waiting up to 0.3 s for it to finish"), notices
    assert len(looks) == 2 and not made.value.liveness.stale  # a last look once the wait is over, then the error
    with acquire(db_path, "paper", pulses=True), pytest.raises(StoreBeingMade):
        status.open_when_ready(db_path, 0, notices.append)  # no wait (dashboard --wait 0): at once, nothing said
    assert len(notices) == 1 and len(looks) == 3
