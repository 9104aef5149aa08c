"""IB's official Python client (`ibapi`) on its own threads, recording every callback for condition waits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ibapi.client import EClient
from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

# Callbacks whose arguments are recorded; the EWrapper defaults of all others only log.
RECORDED = (
    "nextValidId", "managedAccounts", "error", "connectionClosed", "currentTime",
    "contractDetails", "contractDetailsEnd", "tickPrice", "tickSize", "tickString", "tickGeneric", "tickReqParams",
    "marketDataType", "tickSnapshotEnd", "tickByTickAllLast", "tickByTickBidAsk", "tickByTickMidPoint",
    "historicalData", "historicalDataEnd", "historicalDataUpdate", "openOrder", "openOrderEnd", "orderStatus",
    "execDetails", "execDetailsEnd", "commissionAndFeesReport", "completedOrder", "completedOrdersEnd", "position",
    "positionEnd", "updateAccountValue", "updatePortfolio", "updateAccountTime", "accountDownloadEnd",
    "accountSummary", "accountSummaryEnd", "pnl", "pnlSingle",
)


class IbapiApp(EWrapper, EClient):
    """An ibapi application: EClient + EWrapper, callbacks recorded under one condition variable."""

    def __init__(self) -> None:
        EWrapper.__init__(self)
        EClient.__init__(self, self)
        self.condition = threading.Condition()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.crash: BaseException | None = None
        self.unconsumed: list[str] = []  # messages ibapi's decoder did not read to their last field
        self._thread: threading.Thread | None = None
        self._disconnecting = threading.RLock()  # a callback inside may disconnect again

    def _record(self, name: str, args: tuple[Any, ...]) -> None:
        with self.condition:
            self.calls.append((name, args))
            self.condition.notify_all()

    # ------------------------------------------------------------------ queries
    def of(self, name: str) -> list[tuple[Any, ...]]:
        """Return the argument tuples of every call of one callback so far."""
        with self.condition:
            return [args for called, args in self.calls if called == name]

    def errors(self, request_id: int | None = None) -> list[tuple[int, int, str]]:
        """Return (reqId, code, message) of the errors so far (for one request id when given)."""
        return [(args[0], args[2], args[3]) for args in self.of("error") if request_id is None or args[0] == request_id]

    def wait(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        """Wait until predicate() holds (re-checked on every callback), or fail."""
        with self.condition:
            if not self.condition.wait_for(lambda: predicate() or self.crash is not None, timeout):
                raise AssertionError(f"ibapi condition not met within {timeout}s; last calls: {self.calls[-8:]}")
        if self.crash is not None:
            raise AssertionError(f"ibapi's reader thread died: {self.crash!r}")

    def wait_for(self, name: str, count: int = 1, where: Callable[[tuple[Any, ...]], bool] | None = None,
                 timeout: float = 15.0) -> list[tuple[Any, ...]]:
        """Wait until `count` calls of `name` (matching `where`) arrived; return them."""
        def matching() -> list[tuple[Any, ...]]:
            return [args for args in self.of(name) if where is None or where(args)]

        self.wait(lambda: len(matching()) >= count, timeout)
        return matching()

    # ------------------------------------------------------------------ lifecycle
    def start(self, host: str, port: int, client_id: int) -> None:
        """Connect, start the message loop thread and wait for nextValidId and managedAccounts."""
        self.connect(host, port, client_id)
        if not self.isConnected():
            raise AssertionError(f"ibapi could not connect to {host}:{port}")
        self._check_consumption()
        self._thread = threading.Thread(target=self._loop, name=f"ibapi-{client_id}", daemon=True)
        self._thread.start()
        self.wait(lambda: bool(self.of("nextValidId")) and bool(self.of("managedAccounts")))

    def _check_consumption(self) -> None:
        """Decode through ibapi's own process methods, then note any field they left unread.

        The official client's decoder is the oracle: a field too many or too few in a message the
        gateway writes shows up here even when ibapi happens not to fail on it.
        """
        decoder = self.decoder
        original = decoder.interpret

        def interpret(fields: tuple[bytes, ...], message_id: int) -> None:
            info = decoder.msgId2handleInfo.get(message_id)
            if info is None or info.processMeth is None:
                original(fields, message_id)
                return
            reader = iter(fields)
            info.processMeth(decoder, reader)
            left = list(reader)
            if left:
                with self.condition:
                    self.unconsumed.append(f"message {message_id}: {len(left)} unread field(s) {left[:4]!r}")

        decoder.interpret = interpret  # type: ignore[method-assign]

    def _loop(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 - reported by wait() in the test thread
            with self.condition:
                self.crash = exc
                self.condition.notify_all()

    def disconnect(self) -> None:
        """EClient.disconnect, one thread at a time.

        ibapi's own reader calls it when the socket closes, and EClient.disconnect tests `self.conn`
        and then uses it, while the other call sets it to None: two at once raised AttributeError.
        """
        with self._disconnecting:
            super().disconnect()

    def stop(self) -> None:
        """Disconnect and join the message loop thread."""
        self.disconnect()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def next_id(self) -> int:
        """Return a fresh order id (above every id nextValidId reported)."""
        with self.condition:
            self._next = max(getattr(self, "_next", 0), *(args[0] for args in self.of("nextValidId")))
            self._next += 1
            return self._next - 1


def _recorder(name: str) -> Callable[..., None]:
    def record(self: IbapiApp, *args: Any) -> None:
        self._record(name, args)

    record.__name__ = name
    return record


for _name in RECORDED:
    setattr(IbapiApp, _name, _recorder(_name))


@contextmanager
def ibapi_client(host: str, port: int, client_id: int = 7) -> Iterator[IbapiApp]:
    """Yield a started ibapi application; disconnect it afterwards."""
    app = IbapiApp()
    app.start(host, port, client_id)
    try:
        yield app
    finally:
        app.stop()
    assert not app.unconsumed, app.unconsumed[:5]


def nq_future(local_symbol: str = "", con_id: int = 0) -> Contract:
    """Return an NQ future contract as an ibapi application writes it."""
    contract = Contract()
    contract.symbol = "NQ"
    contract.secType = "FUT"
    contract.exchange = "CME"
    contract.currency = "USD"
    contract.localSymbol = local_symbol
    contract.conId = con_id
    return contract
