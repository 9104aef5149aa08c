"""The live guard: orders go to a paper account or the simulated gateway unless live is opted into twice."""

from __future__ import annotations

from slob_cli.errors import LiveTradingRefused

PAPER_ACCOUNT_PREFIX = "DU"


def is_paper_account(account: str | None) -> bool:
    """Return True for an IB paper-trading account id (they start with DU)."""
    return account is not None and account.strip().upper().startswith(PAPER_ACCOUNT_PREFIX)


def check_live_allowed(account: str | None, live_flag: bool, allow_live_env: bool, gateway_is_sim: bool) -> None:
    """Return quietly when orders may be sent; raise LiveTradingRefused (exit 3) otherwise.

    Call it before any order connection is made. The simulated gateway and paper accounts are
    always allowed; a live account needs both `--live` and SLOB_ALLOW_LIVE=yes.
    """
    if gateway_is_sim:
        return
    if live_flag and not account:
        raise LiveTradingRefused("--live needs an account: set SLOB_IB_ACCOUNT")
    if is_paper_account(account):
        return
    if live_flag and allow_live_env:
        return
    if not account:
        raise LiveTradingRefused(
            "no account given: set SLOB_IB_ACCOUNT to a paper account (DU...) or use the simulated gateway")
    missing = " and ".join(
        part for part, given in (("--live", live_flag), ("SLOB_ALLOW_LIVE=yes", allow_live_env)) if not given)
    raise LiveTradingRefused(f"account {account} is not a paper account (DU...); live trading needs {missing}")
