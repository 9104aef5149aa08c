"""Typed settings: defaults < .env file < SLOB_* environment < command-line flags, validated once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from slob_cli.core.models import INSTRUMENTS
from slob_cli.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_ENV_FILE = Path(".env")


class Settings(BaseSettings):
    """Every setting slob reads; each field maps to an environment variable SLOB_<NAME>."""

    model_config = SettingsConfigDict(
        env_prefix="SLOB_",
        env_file=None,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    # Broker connection.
    ib_host: str = "127.0.0.1"
    ib_port: int = Field(4002, ge=1, le=65535)
    ib_client_id: int = Field(1, ge=0)
    ib_account: str | None = None
    ib_connect_timeout: float = Field(10.0, gt=0)
    connect_timeout: float = Field(60.0, gt=0)  # seconds a session may take to make its first connection
    market_data_type: str = "live"  # live | delayed
    stale_after: float = Field(30.0, gt=0)  # seconds without a tick in trading hours: DATA_STALE, resubscribe

    # Data.
    symbols: Annotated[list[str], NoDecode] = ["NQ"]
    db_path: Path = Path("slob.db")
    display_tz: str = "Europe/Stockholm"

    # Logging.
    log_level: str = "INFO"
    log_dir: Path = Path("logs")
    log_json: bool = False

    # Money safety.
    allow_live: str = "no"
    kill_switch_path: Path = Path("KILL_SWITCH")

    # Strategy / risk overrides file (TOML or JSON); None means the spec's defaults.
    strategy_config: Path | None = None

    # Alerts (apprise URLs), comma-separated.
    alert_urls: Annotated[list[str], NoDecode] = []

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part.strip().upper() for part in value.split(",")]
            if len(parts) > 1 and not all(parts):
                raise ValueError("an empty item in the list (two commas in a row, or one at an end)")
            value = list(dict.fromkeys(part for part in parts if part))  # duplicates removed, order kept
        if not value:
            raise ValueError("at least one symbol is required")
        unknown = [s for s in value if s not in INSTRUMENTS]
        if unknown:
            raise ValueError(f"unknown symbol {unknown[0]!r} (known: {', '.join(INSTRUMENTS)})")
        return value

    @field_validator("alert_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        bad = [url for url in value or [] if "://" not in str(url)]
        if bad:
            # The URL itself may carry a token: name its position, never its text.
            raise ValueError(f"item {list(value).index(bad[0]) + 1} is not an apprise URL (scheme://...)")
        return value

    @field_validator("display_tz")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.upper()
            if value not in LOG_LEVELS:
                raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("market_data_type", mode="before")
    @classmethod
    def _check_mdt(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.lower()
            if value not in ("live", "delayed"):
                raise ValueError("must be 'live' or 'delayed'")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the display time zone."""
        return ZoneInfo(self.display_tz)

    @property
    def live_allowed_by_env(self) -> bool:
        """Return True when SLOB_ALLOW_LIVE=yes was set explicitly."""
        return self.allow_live.strip().lower() == "yes"


def _describe(error: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in error.get("loc", ()) if not isinstance(part, int)) or "settings"
    value = error.get("input")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    shown = "" if isinstance(value, dict) or field == "alert_urls" else f" = {value!r}"  # URLs carry tokens
    return f"setting SLOB_{field.upper()}{shown}: {message}"


def _check_env_file(path: Path) -> None:
    """Refuse an env file with a line python-dotenv cannot parse (it would warn and use defaults)."""
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as handle:
            broken = next((binding.original.line for binding in parse_stream(handle) if binding.error), None)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read env file {str(path)!r}: {exc}") from None
    if broken is not None:  # the line's text is not shown: it may hold a secret
        raise ConfigError(f"env file {str(path)!r} line {broken} cannot be parsed (an unterminated quote?)")


def load_settings(env_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build Settings from defaults, the env file, SLOB_* variables and flag overrides.

    An explicitly named env file must exist; the default `.env` is read only when present.
    Raise ConfigError with one line naming the bad setting and its value.
    """
    if env_file is not None and not Path(env_file).is_file():
        raise ConfigError(f"env file {str(env_file)!r} not found")
    chosen = env_file if env_file is not None else (DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None)
    flags = {key: value for key, value in (overrides or {}).items() if value is not None}
    if chosen is not None:
        _check_env_file(Path(chosen))
    try:
        return Settings(_env_file=chosen, **flags)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot read settings: {exc}") from None
