"""Lockstep gateway: a follower is never run ahead of, even IB's official client reading in its own thread."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.sim.gateway import SimGatewayThread
from slob_cli.sim.lockstep import Lockstep, next_grid_point
from tests.conftest import eventually

UTC = timezone.utc
START = datetime(2026, 1, 6, 14, 25, tzinfo=UTC)


def test_steps_end_on_the_grid_after_a_new_minute_or_one_second_after_a_fill() -> None:
    lockstep = Lockstep(None)
    assert next_grid_point(START, timedelta(seconds=2)) == START + timedelta(seconds=2)
    assert next_grid_point(START + timedelta(seconds=2), timedelta(seconds=2)) == START + timedelta(minutes=1, seconds=2)

    class Trade:
        def __init__(self, ts: datetime) -> None:
            self.ts = ts

    assert lockstep.cut(Trade(START + timedelta(seconds=10.5)), filled=False) is None  # the first minute seen
    assert lockstep.cut(Trade(START + timedelta(seconds=20.5)), filled=True) == START + timedelta(seconds=21)
    new_minute = START + timedelta(minutes=1, seconds=0.4)
    assert lockstep.cut(Trade(new_minute), filled=False) == START + timedelta(minutes=1, seconds=2)
    late_first = START + timedelta(minutes=2, seconds=7.2)
    assert lockstep.cut(Trade(late_first), filled=False) == START + timedelta(minutes=2, seconds=8)


def test_pacing_waits_for_real_time_only_below_max_speed() -> None:
    now = [100.0]
    paced = Lockstep(60.0, monotonic=lambda: now[0])
    assert paced.pause_for(START) == 0.0  # the first step anchors the pace
    assert paced.pause_for(START + timedelta(minutes=1)) == pytest.approx(1.0)
    now[0] += 5.0
    assert paced.pause_for(START + timedelta(minutes=2)) == 0.0  # behind schedule: no wait
    assert Lockstep(None).pause_for(START + timedelta(hours=1)) == 0.0


ibapi = pytest.importorskip("ibapi")


def test_official_client_draining_in_its_own_thread_is_never_run_ahead_of() -> None:
    from ibapi.client import EClient
    from ibapi.contract import Contract
    from ibapi.wrapper import EWrapper

    class Follower(EWrapper, EClient):
        """Reads in ibapi's reader thread, handles in its own thread, slowly, and asks for each step."""

        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)
            self.ticks: list[int] = []
            self.steps: list[tuple[int, int]] = []  # (answered epoch, ticks seen when it arrived)
            self.ready = threading.Event()

        def nextValidId(self, orderId: int) -> None:  # noqa: N802, N803 - ibapi's names
            contract = Contract()
            contract.symbol, contract.secType, contract.exchange, contract.currency = "NQ", "FUT", "CME", "USD"
            contract.lastTradeDateOrContractMonth = "202603"
            self.reqTickByTickData(1, contract, "AllLast", 0, False)
            self.reqCurrentTime()

        def tickByTickAllLast(self, reqId, tickType, time_, price, size, attrib, exchange, special) -> None:  # noqa: N802
            time.sleep(0.0005)  # a slow consumer: the gateway must not run ahead of it
            self.ticks.append(int(time_))

        def currentTime(self, time_: int) -> None:  # noqa: N802
            self.steps.append((int(time_), len(self.ticks)))
            if len(self.steps) < 25:
                self.reqCurrentTime()
            else:
                self.ready.set()

        def error(self, *args: object) -> None:
            pass

    with SimGatewayThread(seed=3, scenario="short_setup", start=START, speed="max", lockstep=True) as gateway:
        client = Follower()
        client.connect(gateway.host, gateway.port, clientId=7)
        worker = threading.Thread(target=client.run, daemon=True)
        worker.start()
        try:
            assert client.ready.wait(60), "the follower got its 25 steps"
            server = gateway.gateway.server
            # The first question made it a follower (answered at once); each later one bought one step.
            eventually(lambda: server.lockstep.steps == 24, timeout=10)
            assert gateway.clock.now() == datetime.fromtimestamp(client.steps[-1][0], UTC), \
                "the clock stands at the last answer: it never ran ahead of the follower"
            assert len(client.ticks) == server.served.count > 0, "every trade served was read, none later"
            for (answered, seen), (_, seen_next) in zip(client.steps, client.steps[1:], strict=False):
                assert all(ts < answered for ts in client.ticks[:seen])
                assert all(ts >= answered for ts in client.ticks[seen:seen_next])
        finally:
            client.disconnect()
            worker.join(10)
