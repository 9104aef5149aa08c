"""The shared asyncio helpers: the first of several awaitables wins, nothing outlives the wait."""

from __future__ import annotations

import asyncio

import pytest

from slob_cli.aio import cancel_until_done, first_of


def test_first_of_returns_the_winner_and_cancels_the_rest() -> None:
    async def scenario() -> tuple[asyncio.Future[object], ...]:
        gate = asyncio.Event()
        never = asyncio.Event()

        async def answer() -> int:
            await gate.wait()
            return 42

        gate.set()
        return await first_of(answer(), never.wait())

    winner, loser = asyncio.run(scenario())
    assert winner.result() == 42
    assert loser.cancelled()


def test_first_of_being_cancelled_cancels_every_awaitable() -> None:
    async def scenario() -> list[asyncio.Future[object]]:
        started: list[asyncio.Future[object]] = []
        loop = asyncio.get_running_loop()
        futures = [loop.create_future(), loop.create_future()]
        started.extend(futures)
        waiting = asyncio.ensure_future(first_of(*futures))
        await asyncio.sleep(0)
        await cancel_until_done(waiting)
        assert waiting.cancelled()
        return started

    futures = asyncio.run(scenario())
    assert all(future.cancelled() for future in futures)


def test_first_of_keeps_a_failure_for_the_caller() -> None:
    async def scenario() -> asyncio.Future[object]:
        async def broken() -> None:
            raise ValueError("boom")

        failed, _other = await first_of(broken(), asyncio.Event().wait())
        return failed

    failed = asyncio.run(scenario())
    with pytest.raises(ValueError, match="boom"):
        failed.result()
