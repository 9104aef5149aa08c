"""One error tree for the whole package; only the CLI root turns it into an exit code."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Named process exit codes, documented in `slob --help` and docs/commands.md."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    BROKER_UNREACHABLE = 4
    VALIDATION_FAILED = 5
    INTERRUPTED = 130  # SIGINT (Ctrl-C), as a shell reports it
    TERMINATED = 143  # SIGTERM, as a shell reports it


class SlobError(Exception):
    """Base of every expected failure; its message is one line meant for the user."""

    exit_code: ExitCode = ExitCode.UNEXPECTED


class UsageError(SlobError):
    """A flag or argument is wrong."""

    exit_code = ExitCode.USAGE


class ConfigError(SlobError):
    """A setting, a config file or start-up precondition is wrong."""

    exit_code = ExitCode.CONFIG


class StoreError(ConfigError):
    """The SQLite store cannot be opened, migrated or written."""


class StoreMissing(StoreError):
    """A read-only open found no store: no file, or an empty one (a session took its lock and is creating it)."""

    def __init__(self, message: str, empty: bool) -> None:
        super().__init__(message)
        self.empty = empty


class StoreNeedsMigration(StoreError):
    """A store at an older schema version cannot be read without writing (a read-only open)."""

    def __init__(self, message: str, version: int, target: int) -> None:
        super().__init__(message)
        self.version = version
        self.target = target


class InputError(UsageError):
    """An input file or value is malformed; nothing was written."""


class BrokerUnavailable(SlobError):
    """The gateway cannot be reached or refused the connection."""

    exit_code = ExitCode.BROKER_UNREACHABLE


class GatewayGone(BrokerUnavailable):
    """A record/trade/run whose period ended while its gateway was away: cut short, never exit 0 (exit 4)."""

    def __init__(self, command: str, since: str, period: str) -> None:
        when = since[:19].replace("T", " ")  # UTC ISO (store.to_iso), to the second
        super().__init__(f"{command} was cut short: the gateway went away at {when} UTC and was not back when "
                         f"its {period} ended")


class BrokerError(SlobError):
    """The gateway answered, but with an error we cannot work around."""

    exit_code = ExitCode.VALIDATION_FAILED


class ValidationFailed(SlobError):
    """A check or validation run did not pass."""

    exit_code = ExitCode.VALIDATION_FAILED


class RiskRejected(SlobError):
    """The risk manager refused an order."""

    exit_code = ExitCode.VALIDATION_FAILED


class LiveTradingRefused(ConfigError):
    """Live trading was asked for without both explicit opt-ins."""


class RunCutShort(SlobError):
    """A run against the simulated gateway ended before its period (exit 1; `paper` exits 5)."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str, stats: Any = None, at: Any = None) -> None:
        super().__init__(message)
        self.stats = stats  # the engine's counters when it stopped (runtime.engine.EngineStats), to store
        # The virtual time it got to (a datetime): the run's end. The embedded gateway may serve the step in
        # flight after the engine stopped reading, moving its clock past what the run took in.
        self.at = at


def first_error(error: BaseException) -> BaseException:
    """Return the error a user should read from a (nested) exception group.

    A task group wraps whatever its tasks raised: the first expected failure (`SlobError`) wins,
    then the first interruption, then the first error of any kind. Anything else comes back as is.
    """
    if not isinstance(error, BaseExceptionGroup):
        return error
    leaves = list(_leaves(error))
    for wanted in (SlobError, KeyboardInterrupt):
        for leaf in leaves:
            if isinstance(leaf, wanted):
                return leaf
    return leaves[0] if leaves else error


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for inner in group.exceptions:
        found.extend(_leaves(inner) if isinstance(inner, BaseExceptionGroup) else [inner])
    return found


class Terminated(KeyboardInterrupt):
    """SIGTERM where no loop handles it (a session's start or end): ends it as Ctrl-C does, exit 143."""


class StoppedEarly(SlobError):
    """A signal ended a run with a period (--duration/--until) before that period: cut short, never exit 0.

    The exit code is the shell's for the signal: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signal_name: str, message: str) -> None:
        super().__init__(message)
        self.exit_code = ExitCode.TERMINATED if signal_name == "SIGTERM" else ExitCode.INTERRUPTED
