"""Asyncio helpers every layer but core/ may use (stdlib only, imports nothing of ours)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any


async def cancel_until_done(task: asyncio.Future[Any], poll: float = 0.05) -> None:
    """Cancel a task and wait until it has finished.

    Python 3.11's `asyncio.wait_for` swallows a cancellation that arrives just as its inner
    future completes, so one `cancel()` is not always enough: repeat it until the task is done.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=poll)
    with contextlib.suppress(BaseException):
        task.result()


async def first_of(*awaitables: Awaitable[Any]) -> tuple[asyncio.Future[Any], ...]:
    """Wait for the first of several awaitables to finish, then cancel the rest and wait for them.

    Returns their futures in argument order: the ones that finished on their own are done and
    not cancelled. The rest are cancelled and awaited too when this call itself is cancelled, so
    nothing outlives it.
    """
    futures = tuple(asyncio.ensure_future(awaitable) for awaitable in awaitables)
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        pending = [future for future in futures if not future.done()]
        for future in pending:
            future.cancel()
        for future in pending:
            await cancel_until_done(future)
    return futures


@contextlib.contextmanager
def on_signals(signums: Iterable[signal.Signals], callback: Callable[[signal.Signals], None]) -> Iterator[None]:
    """Have the running loop call `callback(signum)` on each of the signals for the block (main thread only).

    After the block the handlers from before it are back: the loop's own removal leaves the defaults, under
    which a SIGTERM in a session's last steps (its summary, its runs row) would kill it silently.
    """
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}
    for signum in signums:
        handler = signal.getsignal(signum)
        try:
            loop.add_signal_handler(signum, callback, signum)
        except (RuntimeError, ValueError):
            continue  # not the main thread (tests drive engines from worker threads)
        previous[signum] = handler
    try:
        yield
    finally:
        for signum, handler in previous.items():
            loop.remove_signal_handler(signum)
            if handler is not None:
                signal.signal(signum, handler)
