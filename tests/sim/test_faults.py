"""Fault injection gives the wire behaviour IB gives, seen through the real ib_async client."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from ib_async import IB, ContFuture, Future, LimitOrder, MarketOrder

from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run, wait_for


async def _future(ib: IB) -> Future:
    [cont] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
    [future] = await ib.qualifyContractsAsync(Future(conId=cont.conId, exchange="CME"))
    return future


@pytest.mark.parametrize("rst", [False, True])
def test_dropping_connections_fires_disconnected_event_without_error_event(rst: bool) -> None:
    async def body() -> tuple[list[str], list[int], bool]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            api_errors: list[str] = []
            codes: list[int] = []
            disconnected = asyncio.Event()
            ib.client.apiError += api_errors.append
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            ib.disconnectedEvent += disconnected.set
            gateway.drop_connections(rst=rst)
            await asyncio.wait_for(disconnected.wait(), 5)
            return api_errors, codes, ib.isConnected()

    api_errors, codes, connected = run(body())
    assert not connected and codes == []
    if rst:
        assert api_errors and api_errors[0] != "Peer closed connection."  # the OS error text of the reset
    else:
        assert api_errors == ["Peer closed connection."]


def test_a_silent_gateway_keeps_the_socket_but_answers_nothing_until_it_speaks_again() -> None:
    async def body() -> tuple[bool, bool]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            gateway.set_silent(True)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ib.reqCurrentTimeAsync(), 0.3)
            newcomer = IB()
            with pytest.raises((asyncio.TimeoutError, TimeoutError)):
                await newcomer.connectAsync(gateway.host, gateway.port, clientId=2, timeout=0.3)
            still_connected = ib.isConnected()
            gateway.set_silent(False)
            answered = (await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2)) is not None
            ib.disconnect()
            return still_connected, answered

    assert run(body()) == (True, True)


def test_a_muted_gateway_answers_but_streams_nothing_while_the_market_goes_on_printing() -> None:
    async def body() -> tuple[int, int, bool, int, int]:
        async with SimGateway(start=BUSY_START, speed=1.0) as gateway:
            ib = await connect(gateway.host, gateway.port)
            trades: list[float] = []
            ticker = ib.reqTickByTickData(await _future(ib), "AllLast")
            ticker.updateEvent += lambda line: trades.extend(tick.price for tick in line.tickByTicks)
            await wait_for(lambda: len(trades) >= 3)
            gateway.set_muted(True)
            muted_from = gateway.clock.now()
            await wait_for(lambda: gateway.clock.now() >= muted_from + timedelta(seconds=0.5))  # in flight: read
            before = len(trades)
            await wait_for(lambda: gateway.clock.now() >= muted_from + timedelta(seconds=2))
            during = len(trades) - before
            printed = len(gateway.market.ticks_between(muted_from + timedelta(seconds=0.5), gateway.clock.now()))
            answered = (await asyncio.wait_for(ib.reqCurrentTimeAsync(), 2)) is not None
            gateway.set_muted(False)
            resumed_at = len(trades)
            await wait_for(lambda: len(trades) > resumed_at)
            ib.disconnect()
            return before, during, answered, printed, len(trades) - resumed_at

    before, during, answered, printed, after = run(body())
    assert before >= 3 and during == 0 and answered and printed > 0 and after > 0


def test_connectivity_notices_1100_1101_1102_behave_as_ib_describes() -> None:
    async def body() -> tuple[list[int], bool, int, int, bool]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            ib.reqMktData(await _future(ib))
            gateway.send_error(1100)
            await wait_for(lambda: 1100 in codes)
            connected_after_1100 = ib.isConnected()
            gateway.send_error(1101)
            await wait_for(lambda: 1101 in codes)
            lines_after_1101 = sum(len(session.quotes) for session in gateway.server.sessions)
            gateway.send_error(1102)
            await wait_for(lambda: 1102 in codes and len(ib.wrapper.acctSummary) > 0)
            summary_tags = {value.tag for value in ib.wrapper.acctSummary.values()}
            ib.disconnect()
            return codes, connected_after_1100, lines_after_1101, len(summary_tags), "NetLiquidation" in summary_tags

    codes, connected, lines, tag_count, has_net_liquidation = run(body())
    assert codes == [1100, 1101, 1102]
    assert connected and lines == 0  # 1100 keeps the socket; 1101 means the lines are gone
    assert tag_count > 3 and has_net_liquidation  # ib_async's own reqAccountSummary on 1102 was answered


@pytest.mark.parametrize(("code", "request_id"), [(2103, -1), (2104, -1), (2105, -1), (2106, -1), (2158, -1),
                                                  (321, 42), (354, 42), (10167, 42), (10197, 42)])
def test_injected_errors_and_farm_notices_reach_the_client_with_their_request_id(code: int, request_id: int) -> None:
    async def body() -> list[tuple[int, int]]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            seen: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, error_code, text, contract: seen.append((req_id, error_code))
            gateway.send_error(code, req_id=request_id)
            gateway.send_error(1102, message="marker")
            await wait_for(lambda: (-1, 1102) in seen)
            ib.disconnect()
            return seen

    assert run(body()) == [(request_id, code), (-1, 1102)]


def test_injected_326_closes_every_client() -> None:
    async def body() -> bool:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            gone = asyncio.Event()
            ib.disconnectedEvent += gone.set
            gateway.send_error(326)
            await asyncio.wait_for(gone.wait(), 5)
            return gateway.client_count == 0

    assert run(body())


def test_pause_stops_ticks_and_fills_and_resume_restarts_them() -> None:
    async def body() -> tuple[int, int, str]:
        async with SimGateway(start=BUSY_START, speed="max", seed=6) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            ticker = ib.reqTickByTickData(contract, "AllLast")
            count = [0]
            ticker.updateEvent += lambda t: count.__setitem__(0, count[0] + len(t.tickByTicks))
            await wait_for(lambda: count[0] > 10)
            gateway.pause_market()
            frozen_at = gateway.clock.now()
            await ib.reqCurrentTimeAsync()  # a full round trip: anything in flight has arrived
            before = count[0]
            for _ in range(5):
                await ib.reqCurrentTimeAsync()
            after_pause = count[0]
            assert gateway.clock.now() == frozen_at
            gateway.resume_market()
            await wait_for(lambda: count[0] > after_pause + 10)
            ib.disconnect()
            return before, after_pause, "resumed"

    before, after_pause, _ = run(body())
    assert before == after_pause


def test_jump_price_moves_the_market_by_the_given_points() -> None:
    async def body() -> tuple[float, float]:
        async with SimGateway(start=BUSY_START, speed="max", seed=6) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            gateway.pause_market()
            ticker = ib.reqMktData(contract)
            await wait_for(lambda: ticker.last > 0)
            before = ticker.last
            gateway.jump_price(500)
            gateway.resume_market()
            await wait_for(lambda: ticker.last > before + 400)
            ib.disconnect()
            return before, ticker.last

    before, after = run(body())
    assert after - before > 400


def test_restart_refuses_connections_then_accepts_with_orders_and_positions_kept() -> None:
    async def body() -> tuple[bool, list, list]:
        async with SimGateway(start=BUSY_START, speed="max", seed=8) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            filled = ib.placeOrder(contract, MarketOrder("BUY", 1))
            await wait_for(lambda: filled.orderStatus.status == "Filled")
            working = ib.placeOrder(contract, LimitOrder("SELL", 1, filled.orderStatus.avgFillPrice + 900))
            await wait_for(lambda: working.orderStatus.status == "Submitted")
            restart = asyncio.ensure_future(gateway.restart(0.5))
            await wait_for(lambda: not gateway.server.listening)
            refused = False
            try:
                _, writer = await asyncio.open_connection(gateway.host, gateway.port)
                writer.close()
            except OSError:
                refused = True
            await restart
            again = await connect(gateway.host, gateway.port)
            result = refused, again.positions(), [t.order.orderId for t in again.openTrades()]
            again.disconnect()
            assert result[2] == [working.order.orderId]
            return result

    refused, positions, open_ids = run(body())
    assert refused
    assert [p.position for p in positions] == [1.0] and len(open_ids) == 1


def test_control_port_is_closed_with_the_gateway() -> None:
    async def body() -> int:
        async with SimGateway(ctrl_port=0) as gateway:
            assert gateway.ctrl_port
            return gateway.ctrl_port

    port = run(body())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_the_subprocess_harness_serves_clients_and_injects_faults_over_its_control_channel() -> None:
    from slob_cli.sim.process import SimGatewayProcess

    async def body(gateway: SimGatewayProcess) -> tuple[list[int], dict]:
        ib = await connect(gateway.host, gateway.port)
        codes: list[int] = []
        ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
        gateway.send_error(10197, req_id=9)
        await wait_for(lambda: codes == [10197])
        gateway.mute_between(BUSY_START + timedelta(hours=1), BUSY_START + timedelta(hours=2))
        status = gateway.status()
        gone = asyncio.Event()
        ib.disconnectedEvent += gone.set
        gateway.drop_connections(rst=True)
        await asyncio.wait_for(gone.wait(), 5)
        return codes, status

    with SimGatewayProcess(start=BUSY_START, speed="max") as gateway:
        codes, status = run(body(gateway))
        assert gateway.stop() == 0
    assert codes == [10197] and status["clients"] == 1 and status["listening"] is True
    assert status["mute_between"] == ["2026-03-10T14:25:00+00:00", "2026-03-10T15:25:00+00:00"]


def test_the_thread_harness_restart_refuses_then_accepts_again() -> None:
    from slob_cli.sim.gateway import SimGatewayThread
    from tests.conftest import eventually

    with SimGatewayThread(start=BUSY_START, speed="max") as gateway:
        gateway.restart(0.3, wait=False)
        with pytest.raises(OSError):
            socket.create_connection((gateway.host, gateway.port), timeout=1).close()

        def accepts() -> bool:
            try:
                socket.create_connection((gateway.host, gateway.port), timeout=1).close()
            except OSError:
                return False
            return True

        eventually(accepts, timeout=5)


def test_advance_runs_the_market_while_no_client_drives_a_lockstep_clock_and_orders_fill_meanwhile() -> None:
    from datetime import timedelta

    from slob_cli.sim.control import send_command

    async def body() -> None:
        async with SimGateway(start=BUSY_START, speed="max", seed=8, lockstep=True, ctrl_port=0) as gateway:
            ib = await connect(gateway.host, gateway.port)
            contract = await _future(ib)
            price = gateway.market.last_tick_before(gateway.clock.now()).price
            working = ib.placeOrder(contract, LimitOrder("BUY", 1, price - 5.0))
            await wait_for(lambda: working.orderStatus.status == "Submitted")
            await ib.reqCurrentTimeAsync()  # a follower now: time is its to drive
            with pytest.raises(ValueError, match="drives the clock"):
                await gateway.advance_market(BUSY_START + timedelta(hours=1))
            ib.disconnect()
            await wait_for(lambda: gateway.server.lockstep.followers == 0)
            assert gateway.clock.now() == BUSY_START, "no follower: the lockstep clock stands still"
            reached = await gateway.advance_market(BUSY_START + timedelta(minutes=30))
            assert reached == BUSY_START + timedelta(minutes=30)
            [execution] = gateway.broker.executions()
            assert BUSY_START < execution.time < reached and execution.price <= price - 5.0
            assert [p[2] for p in gateway.broker.positions()] == [1.0]
            to = (BUSY_START + timedelta(minutes=45)).isoformat()
            reply = await send_command(gateway.host, gateway.ctrl_port, {"cmd": "advance", "to": to})
            assert reply == {"ok": True, "time": to}
            naive = await send_command(gateway.host, gateway.ctrl_port, {"cmd": "advance", "to": "2026-03-10T15:00"})
            assert naive["ok"] is False and "no time zone" in naive["error"]
            again = await connect(gateway.host, gateway.port, client_id=2)
            assert [p.position for p in again.positions()] == [1.0]
            again.disconnect()

    run(body())


def test_mute_between_over_the_control_port_streams_no_trade_printed_in_the_span() -> None:
    from slob_cli.adapters.ib.hooks import on_tick_by_tick_trade
    from slob_cli.sim.control import send_command

    start, end = BUSY_START + timedelta(minutes=1), BUSY_START + timedelta(minutes=2, seconds=30)

    async def body() -> tuple[list[int], dict, dict, dict, int]:
        async with SimGateway(start=BUSY_START, speed="max", ctrl_port=0) as gateway:
            ask = {"cmd": "mute_between", "from": start.isoformat(), "to": end.isoformat().replace("+00:00", "Z")}
            reply = await send_command(gateway.host, gateway.ctrl_port, ask)
            backwards = await send_command(gateway.host, gateway.ctrl_port, {**ask, "from": ask["to"], "to": ask["from"]})
            status = await send_command(gateway.host, gateway.ctrl_port, {"cmd": "status"})
            ib = await connect(gateway.host, gateway.port)
            epochs: list[int] = []  # the wire's exchange seconds (ib_async stamps arrival time)
            on_tick_by_tick_trade(ib, lambda req_id, epoch, price, size: epochs.append(epoch))
            ib.reqTickByTickData(await _future(ib), "AllLast")
            await wait_for(lambda: bool(epochs) and epochs[-1] >= (end + timedelta(minutes=1)).timestamp())
            printed = len(gateway.market.ticks_between(start, end))
            ib.disconnect()
            return epochs, reply, backwards, status, printed

    epochs, reply, backwards, status, printed = run(body())
    assert reply == {"ok": True, "mute_between": [start.isoformat(), end.isoformat()]}
    assert status["mute_between"] == reply["mute_between"] and status["muted"] is False
    assert backwards["ok"] is False and "before it starts" in backwards["error"]
    assert printed > 0, "the market printed on through the span"
    assert [epoch for epoch in epochs if start.timestamp() <= epoch < end.timestamp()] == [], "nothing streamed in it"
    assert min(epochs) < start.timestamp() and max(epochs) >= end.timestamp(), "streamed before and after it"
