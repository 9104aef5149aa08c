"""Handshake, startApi and the connectAsync startup sync, per server version, with the real ib_async."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from ib_async import IB

from slob_cli.sim.gateway import SimGateway, SimGatewayThread
from tests.sim.helpers import connect, run, wait_for


@pytest.mark.parametrize("version", [157, 163, 170, 176, 178])
def test_connect_negotiates_the_version_and_every_sync_request_gets_its_end_marker(version: int) -> None:
    async def body() -> tuple[int, list[str], list[tuple[int, str]]]:
        async with SimGateway(server_version=version) as gateway:
            ib = IB()
            notices: list[tuple[int, str]] = []
            ib.errorEvent += lambda req_id, code, text, contract: notices.append((code, text))
            # raiseSyncErrors: a sync request without its end marker times out and fails the connect.
            await ib.connectAsync(gateway.host, gateway.port, clientId=7, timeout=10, raiseSyncErrors=True)
            negotiated = ib.client.serverVersion()
            accounts = ib.managedAccounts()
            ib.disconnect()
            return negotiated, accounts, notices

    negotiated, accounts, _ = run(body())
    assert negotiated == version
    assert accounts == ["DU1234567"]


def test_farm_notices_follow_the_start_of_the_api() -> None:
    async def body() -> list[int]:
        async with SimGateway() as gateway:
            ib = IB()
            codes: list[int] = []
            ib.client.apiStart += lambda: None
            original = ib.wrapper.error

            def record(req_id: int, code: int, text: str, advanced: str) -> None:
                codes.append(code)
                original(req_id, code, text, advanced)

            ib.wrapper.error = record  # type: ignore[method-assign]
            await ib.connectAsync(gateway.host, gateway.port, clientId=1, timeout=2)
            ib.disconnect()
            return codes

    assert run(body()) == [2104, 2106, 2158]


def test_a_duplicate_client_id_gets_326_and_is_closed_while_the_first_client_carries_on() -> None:
    async def body() -> tuple[bool, bool, list[str]]:
        async with SimGateway() as gateway:
            first = await connect(gateway.host, gateway.port, client_id=5)
            second = IB()
            api_errors: list[str] = []
            second.client.apiError += api_errors.append
            with pytest.raises((TimeoutError, asyncio.TimeoutError, ConnectionError)):
                await second.connectAsync(gateway.host, gateway.port, clientId=5, timeout=1)
            still_there = first.isConnected() and (await first.reqCurrentTimeAsync()) is not None
            first.disconnect()
            return still_there, second.isConnected(), api_errors

    still_there, second_connected, api_errors = run(body())
    assert still_there and not second_connected
    assert any("already in use" in message for message in api_errors)


def test_two_clients_with_distinct_ids_are_served_at_once() -> None:
    async def body() -> tuple[int, list[int]]:
        async with SimGateway() as gateway:
            clients = [await connect(gateway.host, gateway.port, client_id=cid) for cid in (1, 2)]
            count = gateway.client_count
            times = [int((await ib.reqCurrentTimeAsync()).timestamp()) for ib in clients]
            for ib in clients:
                ib.disconnect()
            return count, times

    count, times = run(body())
    assert count == 2 and len(times) == 2


def test_malformed_input_closes_or_answers_only_that_client_and_the_gateway_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    handshake = b"API\0" + struct.pack(">I", 9) + b"v157..178"
    start_api = b"71\x002\x009\x00\x00"
    cases = [
        (b"HELLO", True),  # not the API prefix
        (handshake + struct.pack(">I", 0xFFFFFFF), False),  # an absurd message length
        # an unreadable field: IB's error 320, the connection stays open until the client hangs up
        (handshake + struct.pack(">I", len(start_api)) + start_api + struct.pack(">I", 5) + b"49\x00x\x00", True),
        (handshake + struct.pack(">I", len(start_api)) + start_api + struct.pack(">I", 40) + b"1\x00", True),
    ]

    async def body() -> tuple[list[bytes], bool]:
        async with SimGateway() as gateway:
            good = await connect(gateway.host, gateway.port, client_id=1)
            received: list[bytes] = []
            for payload, then_hang_up in cases:
                reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
                writer.write(payload)
                if then_hang_up:
                    writer.write_eof()  # truncated: the rest of the message never comes
                received.append(await asyncio.wait_for(reader.read(), 5))  # returns at the gateway's close
                writer.close()
            await wait_for(lambda: gateway.client_count == 1)
            alive = (await good.reqCurrentTimeAsync()) is not None
            good.disconnect()
            return received, alive

    received, alive = run(body())
    assert alive
    assert received[0] == b""
    assert all(answer.startswith(b"\0\0\0") for answer in received[1:])  # the handshake reply, then a close
    assert b"\x00320\x00Error reading request. Message id 49." in received[2]
    malformed = [record.getMessage() for record in caplog.records if "malformed input" in record.getMessage()]
    assert len(malformed) == 2  # the truncated one is a plain disconnect, the unreadable one an error 320


def test_unknown_requests_get_a_tws_error_instead_of_a_hang() -> None:
    async def body() -> list[tuple[int, int]]:
        async with SimGateway() as gateway:
            ib = await connect(gateway.host, gateway.port)
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
            result = await asyncio.wait_for(ib.reqHistogramDataAsync(  # a hang would time out here
                __import__("ib_async").Future(conId=0, symbol="NQ", exchange="CME"), True, "1 day"), 30)
            assert result == []
            families = await asyncio.wait_for(ib.reqMktDepthExchangesAsync(), 30)
            assert families == []
            ib.disconnect()
            return errors

    errors = run(body())
    assert any(code == 322 for _, code in errors)


def test_the_thread_harness_serves_a_sync_caller_and_a_foreign_loop() -> None:
    with SimGatewayThread() as gateway:
        ib = IB()
        ib.connect(gateway.host, gateway.port, clientId=3, timeout=3)
        try:
            assert ib.isConnected() and gateway.client_count == 1
            assert ib.reqCurrentTime() is not None
        finally:
            ib.disconnect()
    with pytest.raises(OSError):
        socket.create_connection((gateway.host, gateway.port), timeout=1).close()


def test_small_requests_are_answered_as_tws_answers_them() -> None:
    from ib_async import ContFuture, LimitOrder

    async def body() -> dict[str, object]:
        async with SimGateway(start="2026-03-10T13:25Z", speed="max") as gateway:
            master = await connect(gateway.host, gateway.port, client_id=0)  # also sends reqAutoOpenOrders
            other = await connect(gateway.host, gateway.port, client_id=4)
            [contract] = await other.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
            contract.secType = "FUT"
            trade = other.placeOrder(contract, LimitOrder("BUY", 1, 20000.0))
            await wait_for(lambda: trade.orderStatus.status == "Submitted")
            next_ids: list[int] = []
            master.wrapper.nextValidId = next_ids.append  # type: ignore[method-assign]
            master.client.reqIds(1)
            all_open = await master.reqAllOpenOrdersAsync()
            own_open = await master.reqOpenOrdersAsync()
            accounts: list[str] = []
            master.wrapper.managedAccounts = accounts.append  # type: ignore[method-assign]
            master.client.reqManagedAccts()
            summary = await master.accountSummaryAsync("DU1234567")
            await master.reqAccountUpdatesMultiAsync("DU1234567")  # returns once accountUpdateMultiEnd arrives
            master.client.cancelPositions()
            await wait_for(lambda: bool(next_ids) and bool(accounts))
            flags = [session.auto_open_orders for session in gateway.server.sessions if session.client_id == 0]
            result = {"next": next_ids[0], "all": [t.order.orderId for t in all_open], "own": own_open,
                      "accounts": accounts, "summary": {v.tag for v in summary}, "auto": flags,
                      "order": trade.order.orderId}
            master.disconnect()
            other.disconnect()
            return result

    result = run(body())
    assert result["next"] > result["order"]  # order ids seen by the gateway are never handed out again
    assert result["all"] == [result["order"]] and result["own"] == []
    assert result["accounts"] == ["DU1234567"] and result["auto"] == [True]
    assert {"NetLiquidation", "AvailableFunds", "BuyingPower"} <= result["summary"]  # type: ignore[operator]
