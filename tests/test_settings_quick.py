"""The quick settings path (no pydantic) accepts exactly what the pydantic-settings model accepts, with the same values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from slob_cli.errors import ConfigError
from slob_cli.settings import _Declined, _quick, load_settings
from slob_cli.settings_model import ValidationError, validated

CASES: list[dict[str, str]] = [
    {},
    {"SLOB_IB_PORT": "7497", "SLOB_IB_HOST": "gateway", "slob_ib_client_id": "0"},
    {"SLOB_IB_PORT": "0"}, {"SLOB_IB_PORT": "65536"}, {"SLOB_IB_PORT": "007"}, {"SLOB_IB_PORT": " 7497"},
    {"SLOB_IB_PORT": "1_000"}, {"SLOB_IB_PORT": ""}, {"SLOB_IB_PORT": "4002.0"}, {"SLOB_IB_CLIENT_ID": "-1"},
    {"SLOB_IB_CONNECT_TIMEOUT": "2.5"}, {"SLOB_IB_CONNECT_TIMEOUT": "0"}, {"SLOB_STALE_AFTER": "1e3"},
    {"SLOB_CONNECT_TIMEOUT": "nan"}, {"SLOB_STALE_AFTER": "0.0"}, {"SLOB_CONNECT_TIMEOUT": "90"},
    {"SLOB_LOG_JSON": "true"}, {"SLOB_LOG_JSON": "No"}, {"SLOB_LOG_JSON": "1"}, {"SLOB_LOG_JSON": "maybe"},
    {"SLOB_LOG_JSON": ""}, {"SLOB_LOG_JSON": "OFF"},
    {"SLOB_LOG_LEVEL": "debug"}, {"SLOB_LOG_LEVEL": "verbose"}, {"SLOB_MARKET_DATA_TYPE": "DELAYED"},
    {"SLOB_MARKET_DATA_TYPE": "frozen"}, {"SLOB_DISPLAY_TZ": "America/New_York"}, {"SLOB_DISPLAY_TZ": "Mars/Base"},
    {"SLOB_SYMBOLS": "nq, mnq ,NQ"}, {"SLOB_SYMBOLS": ""}, {"SLOB_SYMBOLS": "NQ,,MNQ"}, {"SLOB_SYMBOLS": "ES"},
    {"SLOB_ALERT_URLS": "json://a, tgram://b/c"}, {"SLOB_ALERT_URLS": "json://a,secret"}, {"SLOB_ALERT_URLS": ""},
    {"SLOB_DB_PATH": "/tmp/x.db", "SLOB_LOG_DIR": "here", "SLOB_KILL_SWITCH_PATH": "KS"}, {"SLOB_DB_PATH": ""},
    {"SLOB_STRATEGY_CONFIG": "strategy.toml"}, {"SLOB_IB_ACCOUNT": "DU123"}, {"SLOB_IB_ACCOUNT": ""},
    {"SLOB_ALLOW_LIVE": "yes"}, {"SLOB_UNKNOWN": "x", "OTHER": "y"},
    {"SLOB_FLATTEN_RETRIES": "0", "SLOB_FLATTEN_RETRY_DELAY": "12.5"}, {"SLOB_FLATTEN_RETRIES": "-1"},
    {"SLOB_FLATTEN_RETRIES": "21"}, {"SLOB_FLATTEN_RETRY_DELAY": "0"},
]
FLAGS: list[dict[str, Any]] = [
    {}, {"db_path": Path("a.db"), "log_level": "warning", "log_json": True}, {"ib_port": 4001},
    {"ib_port": 70000}, {"ib_port": True}, {"connect_timeout": 5}, {"connect_timeout": 0.5},
    {"symbols": "mnq"}, {"symbols": ["NQ"]}, {"ib_client_id": 3, "ib_host": "h"}, {"log_level": "nope"},
]


def _judge(env_file: Path | None, flags: dict[str, Any]) -> tuple[object, object]:
    try:
        quick: object = _quick(env_file, flags)
    except (_Declined, ValueError) as exc:
        quick = type(exc)
    try:
        model: object = validated(env_file, flags)
    except ValidationError:
        model = ValidationError
    return quick, model


@pytest.mark.parametrize("env", CASES)
def test_the_quick_path_agrees_with_the_model_on_environment_values(env: dict[str, str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    quick, model = _judge(None, {})
    if model is ValidationError:
        assert quick in (_Declined, ValueError), f"quick path accepted {env} which the model refuses"
    elif quick not in (_Declined, ValueError):
        assert quick == model


@pytest.mark.parametrize("flags", FLAGS)
def test_the_quick_path_agrees_with_the_model_on_flags_and_an_env_file(flags: dict[str, Any], tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text("SLOB_IB_PORT=4003\nslob_symbols=NQ,MNQ\nSLOB_LOG_JSON=yes\nSLOB_IB_ACCOUNT\nFOO=bar\n")
    monkeypatch.setenv("SLOB_IB_PORT", "4004")  # the environment wins over the file, flags over both
    quick, model = _judge(env_file, flags)
    if model is ValidationError:
        assert quick in (_Declined, ValueError)
    else:
        assert model.ib_port == flags.get("ib_port", 4004) and model.ib_account is None  # type: ignore[attr-defined]
        assert quick in (_Declined, ValueError) or quick == model


def test_the_common_case_is_quick_and_a_bad_value_still_gets_the_models_message(monkeypatch: pytest.MonkeyPatch,
                                                                                 tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLOB_IB_PORT", "7497")
    monkeypatch.setenv("SLOB_SYMBOLS", "nq,mnq")
    settings = _quick(None, {"db_path": Path("s.db"), "log_json": False})
    assert (settings.ib_port, settings.symbols, settings.db_path) == (7497, ["NQ", "MNQ"], Path("s.db"))
    monkeypatch.setenv("SLOB_IB_PORT", "70000")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert str(bad.value) == "setting SLOB_IB_PORT = '70000': Input should be less than or equal to 65535"


def test_most_cases_take_the_quick_path(monkeypatch: pytest.MonkeyPatch) -> None:
    quick = 0
    for env in CASES:
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            judged, _model = _judge(None, {})
            quick += judged not in (_Declined, ValueError)
    assert quick >= 18  # the plain cases; the odd and the bad ones go to the model


def test_the_bounds_of_both_paths_are_the_same() -> None:
    from slob_cli.settings import LIMITS
    from slob_cli.settings_model import SettingsModel

    for name, info in SettingsModel.model_fields.items():
        bounds = {key: getattr(item, key) for item in info.metadata for key in ("ge", "le", "gt") if hasattr(item, key)}
        assert bounds == LIMITS.get(name, {}), name
