"""Shared fixtures: a fresh store file, a CLI runner, and `eventually` for waiting without sleeps."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's SLOB_* variables and .env out of every test."""
    import os

    for key in list(os.environ):
        if key.startswith("SLOB_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a path for a new SQLite store in the test's own directory."""
    return tmp_path / "test.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """Return an open, migrated store on a real file."""
    with Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def runner() -> CliRunner:
    """Return a CliRunner that keeps stdout and stderr apart."""
    return CliRunner()


def eventually(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> None:
    """Wait until predicate() is true, or fail after timeout seconds (polling, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


async def eventually_async(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, interval: float = 0.005
) -> None:
    """Async variant of eventually(): poll the predicate on the running loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


_DECODE_PROBLEM_MARKERS = ("Error handling fields", "Error for ")


class _DecodeProblemHandler(logging.Handler):
    """Collect what ib_async logs when it cannot decode a message from the gateway."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "ib_async.Decoder" or message.startswith(_DECODE_PROBLEM_MARKERS):
            self.problems.append(f"{record.name}: {message[:300]}")


@pytest.fixture
def ib_decode_problems() -> list[str]:
    """Return the decode problems ib_async logged so far in this test (clear it to accept them)."""
    return _decode_handler.problems


_decode_handler = _DecodeProblemHandler()


@pytest.fixture(autouse=True)
def _fail_on_ib_decode_problems() -> Iterator[None]:
    """Fail any test during which ib_async logs a decode problem ("Error handling fields", ...)."""
    logger = logging.getLogger("ib_async")
    _decode_handler.problems.clear()
    logger.addHandler(_decode_handler)
    try:
        yield
    finally:
        logger.removeHandler(_decode_handler)
    if _decode_handler.problems:
        problems = list(_decode_handler.problems)
        _decode_handler.problems.clear()
        pytest.fail("ib_async could not decode messages from the gateway:\n" + "\n".join(problems), pytrace=False)
