"""The broker's own unrealized P&L of the traded contract, through reqPnLSingle (ib_async's PnLSingle)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from ib_async import PnLSingle

from slob_cli.adapters.ib.connection import IBConnection

log = logging.getLogger(__name__)
_UNSET = 1e300  # IB writes unset doubles as 1.7976931348623157E308


class BrokerPnl:
    """Keep one reqPnLSingle line on the contract con_id() names; renew it after every (re)connect."""

    def __init__(self, connection: IBConnection, con_id: Callable[[], int | None]) -> None:
        self.connection = connection
        self._con_id = con_id
        self._line: PnLSingle | None = None
        self._key: tuple[str, int] | None = None
        connection.add_hook(self._on_connected)

    async def _on_connected(self, reason: str) -> None:
        # After a reconnect ib_async has forgotten its P&L lines; after IB's 1101 it still holds them
        # but IB has dropped them: either way the line is asked for afresh.
        self._key = None
        self._follow(renew=True)

    def _account(self) -> str | None:
        if self.connection.account:
            return self.connection.account
        managed = self.connection.managed_accounts()
        return managed[0] if managed else None

    def _follow(self, renew: bool = False) -> None:
        """Subscribe (or move) the P&L line to the current contract when connected; never raise."""
        try:
            self._subscribe(renew)
        except Exception as exc:  # noqa: BLE001 - a missing P&L figure must not stop the engine
            log.warning("cannot follow the broker's P&L: %r", exc)

    def _subscribe(self, renew: bool) -> None:
        con_id = self._con_id()
        if con_id is None or not self.connection.connected:
            return
        account = self._account()
        if not account or self._key == (account, con_id):
            return
        ib = self.connection.ib
        if self._key is not None and self._key != (account, con_id):
            ib.cancelPnLSingle(self._key[0], "", self._key[1])
        existing = ib.pnlSingle(account, "", con_id)  # the lines ib_async holds for that key
        if existing and renew:
            ib.cancelPnLSingle(account, "", con_id)
            existing = []
        self._line = existing[0] if existing else ib.reqPnLSingle(account, "", con_id)
        self._key = (account, con_id)
        log.info("following the broker's P&L of conId %d in %s", con_id, account)

    def unrealized(self) -> float | None:
        """Return the broker's unrealized P&L in USD, or None when it has not said."""
        self._follow()
        value = None if self._line is None else self._line.unrealizedPnL
        if value is None or math.isnan(value) or abs(value) >= _UNSET:
            return None
        return round(float(value), 2)
