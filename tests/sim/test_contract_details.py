"""Contract details over the wire: qualification, expiry lists, hours, unknown contracts."""

from __future__ import annotations

import pytest
from ib_async import ContFuture, Contract, Future

from slob_cli.sim.contracts import front_month, listed_contracts
from slob_cli.sim.gateway import SimGateway
from tests.sim.helpers import BUSY_START, connect, run


@pytest.mark.parametrize("version", [157, 163, 164, 178])
def test_cont_future_qualifies_to_the_front_month_with_its_details(version: int) -> None:
    async def body() -> tuple:
        async with SimGateway(start=BUSY_START, speed="max", server_version=version) as gateway:
            ib = await connect(gateway.host, gateway.port)
            [cont] = await ib.qualifyContractsAsync(ContFuture("NQ", exchange="CME"))
            [details] = await ib.reqContractDetailsAsync(Future(conId=cont.conId, exchange="CME"))
            ib.disconnect()
            return cont, details

    cont, details = run(body())
    front = front_month("NQ", BUSY_START)
    assert (cont.conId, cont.localSymbol, cont.lastTradeDateOrContractMonth) == \
        (front.con_id, "NQH6", "20260320")
    assert cont.multiplier == "20" and details.minTick == 0.25
    assert details.timeZoneId == "US/Central" and details.lastTradeTime == "08:30"
    assert details.tradingHours.startswith("20260309:1700-20260310:1600")
    assert details.liquidHours.startswith("20260310:0830-20260310:1500")
    assert details.contractMonth == front.contract_month and details.longName == "E-mini Nasdaq-100"


def test_a_future_without_expiry_lists_every_listed_expiry_and_is_ambiguous_to_qualify() -> None:
    async def body() -> tuple:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            details = await ib.reqContractDetailsAsync(Future("MNQ", exchange="CME"))
            qualified = await ib.qualifyContractsAsync(Future("MNQ", exchange="CME"))
            ib.disconnect()
            return details, qualified

    details, qualified = run(body())
    expected = [c.local_symbol for c in listed_contracts("MNQ", BUSY_START)]
    assert [d.contract.localSymbol for d in details] == expected
    assert all(d.contract.multiplier == "2" for d in details)
    assert qualified == [None]


def test_an_unknown_contract_gets_error_200() -> None:
    async def body() -> tuple[list, list[tuple[int, int]]]:
        async with SimGateway(start=BUSY_START, speed="max") as gateway:
            ib = await connect(gateway.host, gateway.port)
            errors: list[tuple[int, int]] = []
            ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code))
            details = await ib.reqContractDetailsAsync(Contract(symbol="ZZZ", secType="FUT", exchange="CME"))
            ib.disconnect()
            return details, errors

    details, errors = run(body())
    assert details == [] and [code for _, code in errors] == [200]
