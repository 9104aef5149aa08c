"""VirtualClock: wall, scaled and max speed, pause/resume/jump, and sleep_until, on a fake time source."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.sim.clock import VirtualClock

UTC = timezone.utc
START = datetime(2026, 3, 10, 13, 25, tzinfo=UTC)


class FakeTime:
    """A controllable epoch-seconds source and an async sleep that advances it."""

    def __init__(self, now: float = 1_773_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def _never(seconds: float) -> None:
    await asyncio.get_running_loop().create_future()


def test_clock_without_start_follows_the_time_source() -> None:
    fake = FakeTime()
    clock = VirtualClock(time_source=fake)
    assert clock.now() == datetime.fromtimestamp(fake.now, UTC)
    fake.now += 42.5
    assert clock.now() == datetime.fromtimestamp(fake.now, UTC)


def test_clock_with_speed_runs_that_many_times_faster() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=10, time_source=fake)
    assert clock.now() == START
    fake.now += 3
    assert clock.now() == START + timedelta(seconds=30)


def test_max_speed_clock_moves_only_by_advance_to_and_never_backwards() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=None, time_source=fake)
    fake.now += 1000
    assert clock.now() == START
    clock.advance_to(START + timedelta(minutes=5))
    assert clock.now() == START + timedelta(minutes=5)
    clock.advance_to(START + timedelta(minutes=1))
    assert clock.now() == START + timedelta(minutes=5)


def test_pause_freezes_and_resume_continues_without_a_jump() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=2, time_source=fake)
    fake.now += 10
    clock.pause()
    assert clock.paused
    fake.now += 100
    assert clock.now() == START + timedelta(seconds=20)
    clock.resume()
    assert not clock.paused
    fake.now += 5
    assert clock.now() == START + timedelta(seconds=30)


def test_jump_moves_the_clock_either_way_and_it_keeps_running() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=1, time_source=fake)
    clock.jump(START - timedelta(hours=1))
    fake.now += 60
    assert clock.now() == START - timedelta(minutes=59)
    clock.jump(START + timedelta(days=1))
    assert clock.now() == START + timedelta(days=1)


def test_speed_change_applies_from_now_on_and_max_speed_stops_the_clock() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=1, time_source=fake)
    fake.now += 10
    clock.set_speed(6)
    fake.now += 10
    assert clock.now() == START + timedelta(seconds=70)
    clock.set_speed(None)
    fake.now += 10
    assert clock.is_max_speed and clock.now() == START + timedelta(seconds=70)


def test_invalid_clock_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="wall clock"):
        VirtualClock(None, speed=5)
    with pytest.raises(ValueError, match="time zone"):
        VirtualClock(datetime(2026, 3, 10, 13, 25), speed=1)
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(START, speed=0)


def test_sleep_until_waits_real_time_scaled_by_speed() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=60, time_source=fake, sleep=fake.sleep)
    target = START + timedelta(minutes=2)
    asyncio.run(clock.sleep_until(target))
    assert clock.now() >= target
    assert sum(fake.sleeps) == pytest.approx(2.0)


def test_sleep_until_returns_at_once_under_max_speed_and_for_past_times() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=None, time_source=fake, sleep=fake.sleep)
    asyncio.run(clock.sleep_until(START + timedelta(hours=3)))
    scaled = VirtualClock(START, speed=1, time_source=fake, sleep=fake.sleep)
    asyncio.run(scaled.sleep_until(START - timedelta(seconds=1)))
    assert fake.sleeps == []


def test_paused_clock_holds_sleepers_until_resumed() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=None, time_source=fake, sleep=fake.sleep)

    async def scenario() -> bool:
        clock.pause()
        sleeper = asyncio.create_task(clock.sleep_until(START))
        for _ in range(20):
            await asyncio.sleep(0)  # yield to the sleeper; no time passes
        held = not sleeper.done()
        clock.resume()
        await asyncio.wait_for(sleeper, timeout=5)
        return held

    assert asyncio.run(scenario()) is True


def test_jump_wakes_a_sleeper_whose_time_has_come() -> None:
    fake = FakeTime()
    clock = VirtualClock(START, speed=1, time_source=fake, sleep=_never)
    target = START + timedelta(hours=1)

    async def scenario() -> datetime:
        sleeper = asyncio.create_task(clock.sleep_until(target))
        await asyncio.sleep(0)
        clock.jump(target)
        await asyncio.wait_for(sleeper, timeout=5)
        return clock.now()

    assert asyncio.run(scenario()) == target
