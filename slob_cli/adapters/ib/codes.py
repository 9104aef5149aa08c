"""IB error and notice codes: what each means for slob, and the plain sentence a user reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum


class NoticeKind(str, Enum):
    """What slob does about an IB code."""

    CONNECTIVITY_LOST = "connectivity_lost"          # 1100: no orders until restored
    RESTORED_DATA_LOST = "restored_data_lost"        # 1101: resubscribe everything
    RESTORED_DATA_KEPT = "restored_data_kept"        # 1102: carry on
    FARM_BROKEN = "farm_broken"                      # 2103/2105/2157: data is stale
    FARM_OK = "farm_ok"                              # 2104/2106/2158: informational
    FARM_INACTIVE = "farm_inactive"                  # 2107/2108: informational
    CLIENT_ID_IN_USE = "client_id_in_use"            # 326: retry with another id
    READ_ONLY = "read_only"                          # 321 saying read-only
    VALIDATION = "validation"                        # other 321
    NO_MARKET_DATA = "no_market_data"                # 354
    DELAYED_INSTEAD = "delayed_instead"              # 10167
    COMPETING_SESSION = "competing_session"          # 10197
    HISTORY_PACING = "history_pacing"                # 162
    NO_SECURITY = "no_security"                      # 200
    OTHER = "other"


class IBCode(IntEnum):
    """The IB error and notice codes slob acts on, by name."""

    DUPLICATE_ORDER_ID = 103
    PRICE_OFF_TICK = 110                 # the price does not fit the contract's minimum tick
    HISTORY_PACING = 162
    NO_SECURITY = 200
    ORDER_REJECTED = 201
    ORDER_CANCELLED = 202
    VALIDATION = 321                     # also says when the API is read-only
    CLIENT_ID_IN_USE = 326
    NO_MARKET_DATA = 354
    CONNECTIVITY_LOST = 1100
    RESTORED_DATA_LOST = 1101
    RESTORED_DATA_KEPT = 1102
    FARM_BROKEN = 2103
    FARM_OK = 2104
    HMDS_FARM_BROKEN = 2105
    HMDS_FARM_OK = 2106
    HMDS_FARM_INACTIVE = 2107
    FARM_INACTIVE = 2108
    SEC_DEF_FARM_BROKEN = 2157
    SEC_DEF_FARM_OK = 2158
    CANCEL_NOT_FOUND = 10147             # the order to cancel is unknown
    CANCEL_REFUSED = 10148               # the order to cancel cannot be cancelled in its state
    DELAYED_INSTEAD = 10167
    COMPETING_SESSION = 10197


# Order-level errors the executor records as ORDER_ERROR events (a rejection also arrives as
# status Inactive, so these are logged, not acted on).
ORDER_ERROR_CODES: frozenset[IBCode] = frozenset({
    IBCode.ORDER_REJECTED, IBCode.PRICE_OFF_TICK, IBCode.VALIDATION, IBCode.DUPLICATE_ORDER_ID,
    IBCode.CANCEL_NOT_FOUND, IBCode.CANCEL_REFUSED, IBCode.ORDER_CANCELLED,
})


READ_ONLY_ADVICE = (
    "the IB API is in read-only mode, so orders are refused: in TWS or IB Gateway open "
    "Configure > API > Settings, untick \"Read-Only API\", apply, and reconnect"
)
NO_MARKET_DATA_ADVICE = (
    "this IB login has no market data subscription for {symbol}: subscribe to CME real-time data "
    "(Client Portal > Settings > Market Data Subscriptions), or run with SLOB_MARKET_DATA_TYPE=delayed"
)
DELAYED_INSTEAD_ADVICE = (
    "live market data for {symbol} is not subscribed, IB sends 15-minute delayed data instead: "
    "subscribe to CME real-time data in Client Portal, or accept delayed data explicitly with "
    "SLOB_MARKET_DATA_TYPE=delayed"
)
COMPETING_SESSION_ADVICE = (
    "IB sends no market data for {symbol} because the same user is logged in elsewhere with live data "
    "(TWS, mobile or web): log that session out, or give the API its own username"
)
CLIENT_ID_ADVICE = "client id {client_id} is already connected to this gateway; pass another --client-id"


@dataclass(frozen=True, slots=True)
class Notice:
    """One classified IB message: its code, what it means, and the line a user reads."""

    code: int
    kind: NoticeKind
    text: str
    request_id: int = -1

    @property
    def plain(self) -> str:
        """Return the user-facing sentence for this notice."""
        return plain_message(self.kind, self.code, self.text)


_BY_CODE: dict[int, NoticeKind] = {
    IBCode.CONNECTIVITY_LOST: NoticeKind.CONNECTIVITY_LOST,
    IBCode.RESTORED_DATA_LOST: NoticeKind.RESTORED_DATA_LOST,
    IBCode.RESTORED_DATA_KEPT: NoticeKind.RESTORED_DATA_KEPT,
    IBCode.FARM_BROKEN: NoticeKind.FARM_BROKEN,
    IBCode.HMDS_FARM_BROKEN: NoticeKind.FARM_BROKEN,
    IBCode.SEC_DEF_FARM_BROKEN: NoticeKind.FARM_BROKEN,
    IBCode.FARM_OK: NoticeKind.FARM_OK,
    IBCode.HMDS_FARM_OK: NoticeKind.FARM_OK,
    IBCode.SEC_DEF_FARM_OK: NoticeKind.FARM_OK,
    IBCode.HMDS_FARM_INACTIVE: NoticeKind.FARM_INACTIVE,
    IBCode.FARM_INACTIVE: NoticeKind.FARM_INACTIVE,
    IBCode.CLIENT_ID_IN_USE: NoticeKind.CLIENT_ID_IN_USE,
    IBCode.NO_MARKET_DATA: NoticeKind.NO_MARKET_DATA,
    IBCode.DELAYED_INSTEAD: NoticeKind.DELAYED_INSTEAD,
    IBCode.COMPETING_SESSION: NoticeKind.COMPETING_SESSION,
    IBCode.HISTORY_PACING: NoticeKind.HISTORY_PACING,
    IBCode.NO_SECURITY: NoticeKind.NO_SECURITY,
}


def classify(code: int, text: str, request_id: int = -1) -> Notice:
    """Return the Notice for an IB (code, text) pair."""
    if code == IBCode.VALIDATION:
        lowered = text.lower()
        kind = NoticeKind.READ_ONLY if ("read-only" in lowered or "read only" in lowered) else NoticeKind.VALIDATION
    else:
        kind = _BY_CODE.get(code, NoticeKind.OTHER)
    return Notice(code, kind, text, request_id)


def plain_message(kind: NoticeKind, code: int, text: str, symbol: str = "the contract", client_id: int | None = None) -> str:
    """Return one plain sentence describing an IB notice and, where there is one, its fix."""
    if kind is NoticeKind.READ_ONLY:
        return f"IB error {code}: {READ_ONLY_ADVICE}"
    if kind is NoticeKind.NO_MARKET_DATA:
        return f"IB error {code}: {NO_MARKET_DATA_ADVICE.format(symbol=symbol)}"
    if kind is NoticeKind.DELAYED_INSTEAD:
        return f"IB error {code}: {DELAYED_INSTEAD_ADVICE.format(symbol=symbol)}"
    if kind is NoticeKind.COMPETING_SESSION:
        return f"IB error {code}: {COMPETING_SESSION_ADVICE.format(symbol=symbol)}"
    if kind is NoticeKind.CLIENT_ID_IN_USE:
        who = "this client id" if client_id is None else str(client_id)
        return f"IB error {code}: {CLIENT_ID_ADVICE.format(client_id=who)}"
    if kind is NoticeKind.CONNECTIVITY_LOST:
        return f"IB error {code}: the gateway lost its connection to IB; no orders are sent until it is restored"
    return f"IB {code}: {text}"


def is_market_data_refusal(kind: NoticeKind) -> bool:
    """Return True for notices that mean live market data is not available to this login."""
    return kind in (NoticeKind.NO_MARKET_DATA, NoticeKind.DELAYED_INSTEAD, NoticeKind.COMPETING_SESSION)
