"""The one loop that shows a session's life (trade/run/paper's engine and record's recorder share it).

It pulses the lock record at once (which ends the lock's start pulse), then every interval a pulse
followed by a beat (the health row), and a last pulse and beat, marked stopping, once asked to stop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from slob_cli.runtime import lock
from slob_cli.runtime.supervision import Supervised
from tests.conftest import eventually_async


def test_the_loop_pulses_at_once_then_pulses_and_beats_until_its_last_beat_says_stopping(
        db_path: Path, monkeypatch) -> None:  # noqa: ANN001
    said: list[str] = []
    monkeypatch.setattr(lock, "_start_pulses", {})
    held = lock.try_acquire(db_path, "run", pulses=True)
    assert lock.lock_path_for(db_path) in lock._start_pulses  # the start pulse shows life until the loop runs

    def pulsed(path: Path) -> None:
        said.append("pulse")
        original(path)

    original = lock.pulse
    monkeypatch.setattr("slob_cli.runtime.supervision.pulse", pulsed)

    async def scenario() -> None:
        session = Supervised()
        task = asyncio.create_task(session._show_life(db_path, 0.01, lambda stopping: said.append(f"beat {stopping}")))
        await eventually_async(lambda: said.count("beat False") >= 2, timeout=10)
        session.stop()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        held.release()
    assert said[0] == "pulse" and lock.lock_path_for(db_path) not in lock._start_pulses
    assert said[-2:] == ["pulse", "beat True"] and said.count("beat True") == 1, said
    assert all(said[i] == "pulse" for i in range(1, len(said), 2)), said  # every beat follows its pulse
