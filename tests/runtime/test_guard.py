"""Live guard: paper accounts and the simulated gateway pass; live needs --live and SLOB_ALLOW_LIVE=yes."""

from __future__ import annotations

import pytest

from slob_cli.errors import ExitCode, LiveTradingRefused
from slob_cli.runtime.guard import check_live_allowed, is_paper_account
from slob_cli.settings import load_settings


@pytest.mark.parametrize("account", ["DU1234567", "du7654321", " DU42 "])
def test_paper_account_is_allowed_without_any_opt_in(account: str) -> None:
    check_live_allowed(account, live_flag=False, allow_live_env=False, gateway_is_sim=False)


def test_simulated_gateway_is_allowed_for_any_account() -> None:
    check_live_allowed("U1234567", live_flag=False, allow_live_env=False, gateway_is_sim=True)
    check_live_allowed(None, live_flag=False, allow_live_env=False, gateway_is_sim=True)


def test_live_account_with_both_opt_ins_is_allowed() -> None:
    check_live_allowed("U1234567", live_flag=True, allow_live_env=True, gateway_is_sim=False)


@pytest.mark.parametrize(
    ("live_flag", "allow_env", "missing"),
    [(False, False, "--live and SLOB_ALLOW_LIVE=yes"), (True, False, "SLOB_ALLOW_LIVE=yes"), (False, True, "--live")],
)
def test_live_account_without_both_opt_ins_is_refused_with_exit_3(live_flag: bool, allow_env: bool, missing: str) -> None:
    with pytest.raises(LiveTradingRefused) as caught:
        check_live_allowed("U1234567", live_flag=live_flag, allow_live_env=allow_env, gateway_is_sim=False)
    message = str(caught.value)
    assert caught.value.exit_code == ExitCode.CONFIG == 3
    assert "U1234567" in message and message.endswith(f"live trading needs {missing}")
    assert "\n" not in message


def test_live_flag_without_account_is_refused_even_with_env() -> None:
    with pytest.raises(LiveTradingRefused, match="--live needs an account"):
        check_live_allowed(None, live_flag=True, allow_live_env=True, gateway_is_sim=False)


def test_no_account_on_a_real_gateway_is_refused() -> None:
    with pytest.raises(LiveTradingRefused, match="no account given"):
        check_live_allowed(None, live_flag=False, allow_live_env=False, gateway_is_sim=False)


def test_is_paper_account_rejects_live_and_empty_ids() -> None:
    assert [is_paper_account(a) for a in ("DU1", "U1", "", None, "XDU1")] == [True, False, False, False, False]


@pytest.mark.parametrize(("value", "allowed"), [("yes", True), ("YES ", True), ("no", False), ("true", False), ("1", False)])
def test_settings_allow_live_only_accepts_the_word_yes(monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool) -> None:
    monkeypatch.setenv("SLOB_ALLOW_LIVE", value)
    monkeypatch.setenv("SLOB_IB_ACCOUNT", "U999")
    settings = load_settings()
    assert settings.live_allowed_by_env is allowed
    if allowed:
        check_live_allowed(settings.ib_account, True, settings.live_allowed_by_env, gateway_is_sim=False)
    else:
        with pytest.raises(LiveTradingRefused, match="U999"):
            check_live_allowed(settings.ib_account, True, settings.live_allowed_by_env, gateway_is_sim=False)


def test_default_settings_refuse_live_account() -> None:
    settings = load_settings(overrides={"ib_account": "U555"})
    with pytest.raises(LiveTradingRefused):
        check_live_allowed(settings.ib_account, True, settings.live_allowed_by_env, gateway_is_sim=False)
