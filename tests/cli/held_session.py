"""Run a slob command in a process of its own, held at one moment of its life until a signal ends it.

Usage: python -m tests.cli.held_session WHERE SLOB-ARGUMENTS... with WHERE one of
- `lock`: while the session takes its run lock (the store file made, its holder record being written);
- `create`: while the session creates (or upgrades) its store, the run lock taken;
- `summary`: after the engine has stopped, while the session sums up what it did (its runs row still open).
Once there it prints `held` on stdout and waits for a line on stdin (a signal meanwhile ends it), then goes
on as the command does. The moments a user's Ctrl-C or a service manager's SIGTERM can meet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slob_cli.cli.main import app
from slob_cli.runtime import lock, session


def _hold() -> None:
    print("held", flush=True)
    sys.stdin.readline()


def _held_pulsing(real: Callable[..., Any]) -> Callable[..., Any]:
    @contextmanager
    def held(*args: Any) -> Iterator[None]:
        _hold()
        with real(*args):
            yield
    return held


def _held_once(real: Callable[..., Any]) -> Callable[..., Any]:
    calls = []

    def held(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            _hold()
        return real(*args, **kwargs)
    return held


def _held_summary(real: Callable[..., Any]) -> Callable[..., Any]:
    def held(*args: Any, **kwargs: Any) -> Any:
        _hold()
        return real(*args, **kwargs)
    return held


def main(where: str, arguments: list[str]) -> None:
    """Run `slob ARGUMENTS`, held at `where` until a line comes on stdin."""
    if where == "lock":
        lock._write_record = _held_once(lock._write_record)  # type: ignore[attr-defined]
    elif where == "create":
        lock.keep_pulsing = _held_pulsing(lock.keep_pulsing)  # type: ignore[assignment]
    elif where == "summary":
        session.summarize = _held_summary(session.summarize)  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown moment {where!r}")
    app(arguments, prog_name="slob")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
