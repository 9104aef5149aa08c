"""Task helpers for structured shutdown."""

from __future__ import annotations

import asyncio
import contextlib
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
