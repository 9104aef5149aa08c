"""The minute timer closes each minute at its end plus the grace, and the bus hears of a close before the store."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from slob_cli.adapters.calendar import load_calendar
from slob_cli.adapters.ib.connection import GatewayConfig
from slob_cli.adapters.store import Store
from slob_cli.core.models import Tick
from slob_cli.core.risk import RiskManager
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.runtime.clock import ManualClock
from slob_cli.runtime.engine import Engine, EngineOptions
from slob_cli.runtime.events import EventType
from slob_cli.runtime.minute_timer import MinuteTimer, next_due

UTC = timezone.utc
START = datetime(2026, 3, 10, 15, 0, 30, tzinfo=UTC)
GRACE = timedelta(seconds=2)


class FastClock:
    """A clock running `speed` times real time from START."""

    def __init__(self, speed: float) -> None:
        self.speed, self.t0 = speed, time.monotonic()

    def now(self) -> datetime:
        return START + timedelta(seconds=(time.monotonic() - self.t0) * self.speed)


def test_next_due_is_the_first_minute_end_plus_grace_after_now() -> None:
    minute = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert next_due(minute, GRACE) == minute + GRACE
    assert next_due(minute + GRACE - timedelta(microseconds=1), GRACE) == minute + GRACE
    assert next_due(minute + GRACE, GRACE) == minute + timedelta(minutes=1) + GRACE
    assert next_due(minute + timedelta(seconds=59), GRACE) == minute + timedelta(minutes=1) + GRACE


def test_the_timer_fires_once_per_minute_never_before_its_instant() -> None:
    async def scenario() -> list[tuple[datetime, datetime]]:
        clock = FastClock(600.0)  # a minute is 0.1 s
        fired: list[tuple[datetime, datetime]] = []
        done = asyncio.Event()

        def fire(now: datetime) -> bool:
            fired.append((timer.due, now))  # type: ignore[arg-type]
            if len(fired) == 4:
                done.set()
            return True

        timer = MinuteTimer(clock, GRACE, clock.speed, fire)
        timer.aim()
        await asyncio.wait_for(done.wait(), 30)
        timer.stop()
        return fired

    fired = asyncio.run(scenario())
    first = datetime(2026, 3, 10, 15, 1, tzinfo=UTC) + GRACE
    assert [due for due, _ in fired] == [first + timedelta(minutes=n) for n in range(4)]
    assert all(now >= due for due, now in fired)


def test_a_refused_fire_is_retried_at_once_and_a_moved_clock_is_followed() -> None:
    async def scenario() -> list[datetime]:
        clock = ManualClock(START)
        calls: list[datetime] = []
        done = asyncio.Event()

        def fire(now: datetime) -> bool:
            calls.append(now)
            if len(calls) == 3:
                done.set()
            return len(calls) >= 3  # a backlog twice, then the close

        timer = MinuteTimer(clock, GRACE, 1.0, fire)
        timer.aim()  # armed about 31 real seconds ahead
        await asyncio.sleep(0.01)
        assert calls == []
        clock.set(START + timedelta(seconds=32))  # the clock jumps to the due instant
        timer.aim()
        await asyncio.wait_for(done.wait(), 10)
        assert timer.due == START + timedelta(seconds=92)  # re-armed for the next minute
        timer.stop()
        return calls

    assert asyncio.run(scenario()) == [START + timedelta(seconds=32)] * 3


def test_a_quiet_minute_closes_on_the_timer_and_reaches_the_bus_before_the_store(tmp_path: Path) -> None:
    async def scenario(store: Store) -> tuple[list[bool], int]:
        clock = FastClock(120.0)  # the minute ends 0.25 real seconds after START
        calendar = load_calendar(date(2026, 3, 1), date(2026, 3, 31))
        engine = Engine(store, GatewayConfig(port=9), StrategyConfig(), RiskManager(), calendar,
                        EngineOptions(grace_seconds=2.0, clock_speed=clock.speed), clock=clock)
        engine._started = True
        stored_when_heard: list[bool] = []
        heard = asyncio.Event()

        def on_candle(event: object) -> None:
            candle = event.payload  # type: ignore[attr-defined]
            assert clock.now() >= candle.end + GRACE
            stored_when_heard.append(store.latest_candle("NQ") is not None)
            heard.set()

        engine.bus.subscribe(EventType.CANDLE_COMPLETED, on_candle)
        async with engine.bus:
            timers = asyncio.ensure_future(engine._timers())
            engine._process_tick(Tick("NQ", START, 24_500.0, 1.0))
            await asyncio.wait_for(heard.wait(), 30)
            await engine.bus.drain()
            engine.stop()
            await timers
        return stored_when_heard, engine.stats.candles

    with Store.open(tmp_path / "timer.db") as store:
        stored_when_heard, candles = asyncio.run(scenario(store))
        latest = store.latest_candle("NQ")
    assert stored_when_heard == [False] and candles == 1
    assert latest is not None and latest.ts == START.replace(second=0)
