"""`run_guard`: what every long-running command (record, trade, run, paper) does around its work.

It takes the run lock (a second session exits 0 with a one-line notice, or 1 with
`--fail-if-running`), logs to a rotating file in the log dir, and records the run with its exit code.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import ClickException as TyperClickException

from slob_cli.cli.plain_params import click_errors
from slob_cli.errors import ExitCode, GatewayGone, SlobError, Terminated, first_error

if TYPE_CHECKING:
    from datetime import datetime

    from slob_cli.adapters.alerts import Notifier
    from slob_cli.adapters.store import Store
    from slob_cli.runtime.clock import Clock
    from slob_cli.runtime.lock import RunLock
    from slob_cli.settings import Settings

log = logging.getLogger("slob.guard")

# The sessions that show life on their lock record every few real seconds (lock.pulse), whatever their clock.
PULSING_COMMANDS = frozenset({"record", "trade", "run", "paper"})

FAIL_IF_RUNNING_HELP = "Exit 1 instead of 0 when another slob session already holds this store's lock."
FailIfRunningOption = Annotated[bool, typer.Option("--fail-if-running", help=FAIL_IF_RUNNING_HELP)]


@dataclass
class GuardedRun:
    """What a guarded command gets: settings, the open store, its run id, alerts and stats to record."""

    settings: Settings
    store: Store
    run_id: int
    lock: RunLock
    notifier: Notifier
    stats: dict[str, Any] = field(default_factory=dict)
    data_mode: str | None = None
    ended_at: datetime | None = None  # the run's end when known better than the clock's now (a run cut short)


def exit_code_of(error: BaseException | None) -> int:
    """Return the process exit code a command ends with when `error` escapes it (None: success)."""
    if error is None:
        return int(ExitCode.OK)
    error = first_error(error)  # a task group's failure ends the command with the code of the error inside
    if isinstance(error, click_errors("Exit", typer.Exit)):
        return int(error.exit_code)
    if isinstance(error, SystemExit):
        code = error.code
        return code if isinstance(code, int) else (0 if code is None else int(ExitCode.UNEXPECTED))
    if isinstance(error, SlobError):
        return int(error.exit_code)
    if isinstance(error, Terminated):
        return int(ExitCode.TERMINATED)
    if isinstance(error, (KeyboardInterrupt, *click_errors("Abort", typer.Abort))):
        return int(ExitCode.INTERRUPTED)
    if isinstance(error, click_errors("ClickException", TyperClickException)):
        return int(error.exit_code)
    return int(ExitCode.UNEXPECTED)


def alert_secrets(settings: Settings) -> list[str]:
    """Return the parts of alert URLs that carry tokens, for log redaction."""
    return [url.split("://", 1)[-1] for url in settings.alert_urls]


def _terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """For the block, SIGTERM raises Terminated in the main thread, as SIGINT raises KeyboardInterrupt.

    So a SIGTERM the engine's loop does not handle (while the store is created or the run sums up) ends a
    session as Ctrl-C does: its runs row closed with 143, a new store that holds nothing removed, one line.
    """
    try:
        previous = signal.signal(signal.SIGTERM, _terminated)
    except ValueError:  # not the main thread: the signal is not ours to take
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def take_lock(ctx: typer.Context, command: str, fail_if_running: bool = False) -> RunLock:
    """Take the store's run lock before anything else starts; a second session exits 0 (or 1)."""
    from slob_cli.cli.context import app_context
    from slob_cli.runtime.lock import AlreadyRunning, try_acquire

    try:
        # Wall-clock start on purpose: status checks it against the process's real start time.
        return try_acquire(app_context(ctx).settings.db_path, command, pulses=command in PULSING_COMMANDS)
    except AlreadyRunning as exc:
        if fail_if_running:
            raise
        typer.echo(f"Not started: {exc}.")
        raise typer.Exit(int(ExitCode.OK)) from None


def release_lock(lock: RunLock, failed: bool) -> None:
    """Release the run lock; a failed session first removes the store it created if it stored nothing in it.

    So a start that fails (bad flags or config, an unreachable broker) leaves no new store file (nor
    directory) behind. A store that existed before keeps the failed run's row.
    """
    try:
        if failed and lock.held and lock.created and _nothing_stored(lock.created[0]):
            lock.discard_created()
    finally:
        lock.release()


def _nothing_stored(path: Any) -> bool:
    from slob_cli.adapters.store import Store
    from slob_cli.errors import StoreError, StoreNeedsMigration

    if not path.is_file():
        return False
    if path.stat().st_size == 0:  # the lock made it; the session never opened it
        return True
    try:
        with Store.open(path, readonly=True) as store:
            return store.holds_only_bookkeeping()
    except StoreNeedsMigration:
        return True  # the session made it and stopped while writing its schema: nothing can be in it
    except StoreError:
        return False  # unreadable: keep it for the user to look at


@contextmanager
def session_lock(ctx: typer.Context, command: str, fail_if_running: bool = False) -> Iterator[RunLock]:
    """Hold the store's run lock around a whole session (taken before anything else starts).

    A session that fails before it stored anything leaves no new store behind (release_lock).
    """
    with sigterm_raises():
        lock = take_lock(ctx, command, fail_if_running)
        error: BaseException | None = None
        try:
            yield lock
        except BaseException as exc:
            error = exc
            raise
        finally:
            release_lock(lock, exit_code_of(error) != 0)


@contextmanager
def start_failure_recorded(ctx: typer.Context, command: str, lock: RunLock) -> Iterator[None]:
    """Record a session that fails while it is wired (no account, live refused, a bad --date) as a run.

    A store that existed keeps the failed run's row with its exit code, as `status` shows (quietly:
    the error stays the command's one line); a new store gets nothing, and is removed again.
    """
    try:
        yield
    except SlobError as exc:
        if not lock.created:
            from datetime import datetime, timezone

            from slob_cli.cli.context import app_context

            now = datetime.now(timezone.utc)
            try:
                with app_context(ctx).open_store() as store:
                    store.end_run(store.start_run(command, {}, now), exit_code_of(exc), now)
            except SlobError:  # a store that cannot take the row: the first error is the one to tell
                log.debug("the failed start of %s was not recorded", command, exc_info=True)
        raise


@contextmanager
def run_guard(
    ctx: typer.Context,
    command: str,
    fail_if_running: bool = False,
    args: dict[str, Any] | None = None,
    clock: Clock | None = None,
    lock: RunLock | None = None,
) -> Iterator[GuardedRun]:
    """Run a block under the store's run lock, with file logging and a `runs` row.

    Without `lock` the block is the whole session and takes it through session_lock (SIGTERM raising
    Terminated, a new store that holds nothing removed on failure). A given lock (session_lock's) stays held
    when the block ends: its owner releases it, once, after the rest of the session (an embedded gateway)
    has stopped, so no other session starts in between.

    Example: `with run_guard(ctx, "paper", fail_if_running=flag, args={...}) as run: ...`
    """
    from slob_cli.adapters.alerts import AlertKind, AlertLevel, Notifier
    from slob_cli.cli.context import app_context
    from slob_cli.runtime.clock import SystemClock, on_clock_footing
    from slob_cli.runtime.lock import keep_pulsing
    from slob_cli.runtime.logging import setup_logging

    if lock is None:  # the block is the whole session: its lock is taken (and released) as session_lock takes it
        with session_lock(ctx, command, fail_if_running) as held, \
                run_guard(ctx, command, args=args, clock=clock, lock=held) as run:
            yield run
        return
    clock = clock or SystemClock()
    settings = app_context(ctx).settings
    setup_logging(
        settings.log_level, settings.log_json, log_dir=settings.log_dir, log_file_name=f"{command}.log",
        secrets=alert_secrets(settings),
    )
    # Its own upgrade of an older store pulses for as long as it runs, as `slob migrate` (no start pulse limit).
    store = app_context(ctx).open_store(migrating=(lambda: keep_pulsing(lock)) if lock.holder.pulses else None)
    run = GuardedRun(settings, store, 0, lock, Notifier(settings.alert_urls))
    error: BaseException | None = None
    try:
        started, shifted = clock.now(), getattr(clock, "shifted", None)
        run.run_id = store.start_run(command, args, started)
        lock.note_run(run.run_id)  # readers tell its run by id: a restarted container gives the same pid again
        log.info("run %d: slob %s started (pid %d)", run.run_id, command, lock.holder.pid)
        run.notifier.notify(AlertKind.START, f"{command} started", f"run {run.run_id}, pid {lock.holder.pid}")
        yield run
    except BaseException as exc:
        error = exc
        raise
    finally:
        code = exit_code_of(error)
        try:
            if run.run_id:
                moved = shifted is not None and clock.shifted != shifted  # type: ignore[attr-defined]
                store.end_run(run.run_id, code, run.ended_at or clock.now(), run.stats, run.data_mode,
                              on_clock_footing(clock, started, shifted) if moved and shifted is not None else None)
                if code == ExitCode.BROKER_UNREACHABLE and not isinstance(error and first_error(error), GatewayGone):
                    store.set_run_mode(run.run_id, None)  # never connected: no data came, live or otherwise
            log.info("run %d: slob %s ended with exit code %d", run.run_id, command, code)
            run.notifier.notify(AlertKind.STOP, f"{command} stopped", f"run {run.run_id}, exit code {code}",
                                AlertLevel.INFO if code == 0 else AlertLevel.FAILURE)
        finally:
            run.notifier.close(timeout=10.0)
            store.close()
