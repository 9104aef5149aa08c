"""The pydantic-settings model behind `load_settings`: the reference for every value the quick path declines.

Its numeric bounds are settings.LIMITS (tests/test_settings_quick.py checks both paths agree).

Imported only when a setting needs pydantic's judgement (or its exact error message): pydantic and
pydantic-settings cost more than a status command's whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slob_cli.settings import (
    PATH_SETTINGS,
    Settings,
    check_level,
    check_market_data_type,
    check_path,
    check_zone,
    split_symbols,
    split_urls,
)

D = Settings()


def _validator(field: str | tuple[str, ...], check: Callable[[Any], Any],
               mode: Literal["before", "after"] = "before") -> Any:
    """Return a pydantic field validator that runs one of settings.py's checks (on one field or several)."""

    def validate(cls: type, value: Any) -> Any:
        return check(value)

    names = (field,) if isinstance(field, str) else field
    return field_validator(*names, mode=mode)(classmethod(validate))


class SettingsModel(BaseSettings):
    """Every setting slob reads; each field maps to an environment variable SLOB_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="SLOB_",
        env_file=None,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    ib_host: str = D.ib_host
    ib_port: int = Field(D.ib_port, ge=1, le=65535)  # LIMITS
    ib_client_id: int = Field(D.ib_client_id, ge=0)  # LIMITS
    ib_account: str | None = D.ib_account
    ib_connect_timeout: float = Field(D.ib_connect_timeout, gt=0)  # LIMITS
    connect_timeout: float = Field(D.connect_timeout, gt=0)  # LIMITS
    market_data_type: str = D.market_data_type
    stale_after: float = Field(D.stale_after, gt=0)  # LIMITS
    max_clock_skew: float = Field(D.max_clock_skew, gt=0)  # LIMITS
    symbols: Annotated[list[str], NoDecode] = list(D.symbols)
    db_path: Path = D.db_path
    display_tz: str = D.display_tz
    track_processes: int = Field(D.track_processes, ge=1, le=2)  # LIMITS
    log_level: str = D.log_level
    log_dir: Path = D.log_dir
    log_json: bool = D.log_json
    allow_live: str = D.allow_live
    kill_switch_path: Path = D.kill_switch_path
    flatten_retries: int = Field(D.flatten_retries, ge=0, le=20)  # LIMITS
    flatten_retry_delay: float = Field(D.flatten_retry_delay, gt=0)  # LIMITS
    strategy_config: Path | None = D.strategy_config
    alert_urls: Annotated[list[str], NoDecode] = list(D.alert_urls)

    _split_symbols = _validator("symbols", split_symbols)
    _split_urls = _validator("alert_urls", split_urls)
    _check_zone = _validator("display_tz", check_zone, "after")
    _check_level = _validator("log_level", check_level)
    _check_mdt = _validator("market_data_type", check_market_data_type)
    _check_paths = _validator(PATH_SETTINGS, check_path)

def validated(env_file: Path | None, flags: dict[str, Any]) -> Settings:
    """Return the settings pydantic-settings builds; raise pydantic's ValidationError when one is bad."""
    model = SettingsModel(_env_file=env_file, **flags)  # type: ignore[call-arg]
    return Settings(**{field.name: getattr(model, field.name) for field in fields(Settings)})


__all__ = ["SettingsModel", "ValidationError", "validated"]
