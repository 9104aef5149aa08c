"""Typed settings: defaults < .env file < SLOB_* environment < command-line flags, validated once.

`Settings` is a plain frozen dataclass. `load_settings` reads the sources the way pydantic-settings
does (settings_model.py holds that model) and accepts the plain values of everyday use itself:
digits for numbers, the usual words for booleans, non-empty paths. Anything else (or anything out
of range) goes to the pydantic-settings model, whose verdict and one-line message are the reference;
so the quick path never accepts what the model would refuse, and `slob status` starts without
importing pydantic.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.core.models import INSTRUMENTS
from slob_cli.errors import ConfigError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_ENV_FILE = Path(".env")
ENV_PREFIX = "slob_"
# Numeric bounds (pydantic Field keywords), shared by the quick path and the model.
LIMITS: dict[str, dict[str, Any]] = {
    "ib_port": {"ge": 1, "le": 65535}, "ib_client_id": {"ge": 0}, "ib_connect_timeout": {"gt": 0},
    "connect_timeout": {"gt": 0}, "stale_after": {"gt": 0}, "flatten_retries": {"ge": 0, "le": 20},
    "flatten_retry_delay": {"gt": 0}, "max_clock_skew": {"gt": 0}, "track_processes": {"ge": 1, "le": 2},
}


@dataclass(frozen=True)
class Settings:
    """Every setting slob reads; each field maps to an environment variable SLOB_<NAME>."""

    # Broker connection.
    ib_host: str = "127.0.0.1"
    ib_port: int = 4002
    ib_client_id: int = 1
    ib_account: str | None = None
    ib_connect_timeout: float = 10.0
    connect_timeout: float = 60.0  # seconds a session may take to make its first connection
    market_data_type: str = "live"  # live | delayed
    stale_after: float = 30.0  # seconds without a tick in trading hours: DATA_STALE, resubscribe
    max_clock_skew: float = 10.0  # seconds the gateway's time may be off this machine's before a session stops

    # Data.
    symbols: list[str] = field(default_factory=lambda: ["NQ"])
    db_path: Path = Path("slob.db")
    display_tz: str = "Europe/Stockholm"
    track_processes: int = 2  # `setups track` over a long range: 2 lets a helper process share its days

    # Logging.
    log_level: str = "INFO"
    log_dir: Path = Path("logs")
    log_json: bool = False

    # Money safety.
    allow_live: str = "no"
    kill_switch_path: Path = Path("KILL_SWITCH")
    flatten_retries: int = 3  # a session-end flatten that ends unfilled is tried again this many times
    flatten_retry_delay: float = 30.0  # seconds: a flatten unfilled this long failed; the retry follows this long after

    # Strategy / risk overrides file (TOML or JSON); None means the spec's defaults.
    strategy_config: Path | None = None

    # Alerts (apprise URLs), comma-separated.
    alert_urls: list[str] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        """Return the display time zone."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.display_tz)

    @property
    def live_allowed_by_env(self) -> bool:
        """Return True when SLOB_ALLOW_LIVE=yes was set explicitly."""
        return self.allow_live.strip().lower() == "yes"


# ---------------------------------------------------------------------- validators (both paths)
def split_symbols(value: Any) -> Any:
    """Turn 'nq, MNQ' into ['NQ', 'MNQ'] (duplicates removed); refuse an empty list or an unknown symbol."""
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


def split_urls(value: Any) -> Any:
    """Turn comma-separated apprise URLs into a list; refuse an item without a scheme."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    bad = [url for url in value or [] if "://" not in str(url)]
    if bad:
        # The URL itself may carry a token: name its position, never its text.
        raise ValueError(f"item {list(value).index(bad[0]) + 1} is not an apprise URL (scheme://...)")
    return value


def check_zone(value: str) -> str:
    """Refuse a time zone the zone database does not know."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


PATH_SETTINGS = ("db_path", "log_dir", "kill_switch_path")  # strategy_config may be empty: none


def check_path(value: Any) -> Any:
    """Refuse an empty path: it would name the current directory (an empty SLOB_KILL_SWITCH_PATH: a switch always on)."""
    if isinstance(value, str) and not value.strip():
        raise ValueError("an empty path would name the current directory")
    return value


def check_level(value: Any) -> Any:
    """Upper-case a log level and refuse an unknown one."""
    if isinstance(value, str):
        value = value.upper()
        if value not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return value


def check_market_data_type(value: Any) -> Any:
    """Lower-case the market data type and refuse anything but live or delayed."""
    if isinstance(value, str):
        value = value.lower()
        if value not in ("live", "delayed"):
            raise ValueError("must be 'live' or 'delayed'")
    return value


# ---------------------------------------------------------------------- the quick path
class _Declined(Exception):
    """The quick path leaves this value to the pydantic-settings model."""


_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "t": True, "y": True,
             "0": False, "false": False, "no": False, "off": False, "f": False, "n": False}
_KINDS = {f.name: f.type for f in fields(Settings)}


def _within(name: str, number: float) -> float:
    bounds = LIMITS.get(name, {})
    if (("ge" in bounds and number < bounds["ge"]) or ("le" in bounds and number > bounds["le"])
            or ("gt" in bounds and number <= bounds["gt"])):
        raise _Declined(name)
    return number


def _plain(name: str, raw: Any) -> Any:
    """Return the value pydantic would make of a plain `raw`; raise _Declined for anything else."""
    kind = _KINDS[name]
    value: Any = _Declined
    if raw is None:
        value = None if kind.endswith("| None") else _Declined
    elif name == "symbols":
        value = split_symbols(raw) if isinstance(raw, (str, list)) else _Declined
    elif name == "alert_urls":
        value = split_urls(raw) if isinstance(raw, (str, list)) else _Declined
    elif kind == "int":
        number = int(raw) if isinstance(raw, str) and _DIGITS.fullmatch(raw) else raw
        value = _within(name, number) if type(number) is int else _Declined
    elif kind == "float":
        number = float(raw) if isinstance(raw, str) and _DECIMAL.fullmatch(raw) else raw
        value = _within(name, float(number)) if type(number) in (int, float) else _Declined
    elif kind == "bool":
        value = raw if type(raw) is bool else _BOOLEANS.get(raw.lower(), _Declined) if isinstance(raw, str) else _Declined
    elif kind in ("Path", "Path | None"):
        if isinstance(raw, Path):
            value = raw
        elif type(raw) is str and raw and "\0" not in raw:
            value = Path(raw)
    elif kind in ("str", "str | None") and type(raw) is str:
        value = raw
    if value is _Declined or (isinstance(value, list) and not all(type(item) is str for item in value)):
        raise _Declined(name)
    if name in PATH_SETTINGS:
        check_path(raw)
    if name == "log_level":
        value = check_level(value)
    elif name == "market_data_type":
        value = check_market_data_type(value)
    elif name == "display_tz":
        value = check_zone(value)
    return value


def _env_values(env_file: Path | None) -> dict[str, Any]:
    """Return raw setting values by field name: the env file under the SLOB_* environment (case-insensitive)."""
    raw: dict[str, Any] = {}
    sources: list[Mapping[str, str | None]] = []
    if env_file is not None:
        from dotenv import dotenv_values

        sources.append(dotenv_values(env_file))
    sources.append(os.environ)
    for source in sources:
        lowered = {key.lower(): value for key, value in source.items()}
        for key, value in lowered.items():
            if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX):] in _KINDS:
                raw[key[len(ENV_PREFIX):]] = value
    return raw


def _quick(env_file: Path | None, flags: dict[str, Any]) -> Settings:
    """Return the settings when every value is plain; raise _Declined (or ValueError) otherwise."""
    raw = _env_values(env_file)
    raw.update((key, value) for key, value in flags.items() if key in _KINDS)
    values = {name: _plain(name, value) for name, value in raw.items()}
    defaults = Settings()
    for name in ("symbols", "display_tz", "log_level", "market_data_type", "alert_urls"):
        if name not in values:  # validate_default: the model checks the defaults too
            _plain(name, getattr(defaults, name))
    return Settings(**values)


def _describe(error: Mapping[str, Any]) -> str:
    field_name = ".".join(str(part) for part in error.get("loc", ()) if not isinstance(part, int)) or "settings"
    value = error.get("input")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    shown = "" if isinstance(value, dict) or field_name == "alert_urls" else f" = {value!r}"  # URLs carry tokens
    return f"setting SLOB_{field_name.upper()}{shown}: {message}"


def _check_env_file(path: Path) -> None:
    """Refuse an env file with a line python-dotenv cannot parse (it would warn and use defaults),
    or with a SLOB_ name slob does not know (a misspelt setting would leave its default in force)."""
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as handle:
            bindings = list(parse_stream(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read env file {str(path)!r}: {exc}") from None
    broken = next((binding.original.line for binding in bindings if binding.error), None)
    if broken is not None:  # the line's text is not shown: it may hold a secret
        raise ConfigError(f"env file {str(path)!r} line {broken} cannot be parsed (an unterminated quote?)")
    for binding in bindings:
        name = (binding.key or "").strip()
        if name.lower().startswith(ENV_PREFIX) and name.upper() not in KNOWN_ENV_NAMES:
            import difflib

            close = difflib.get_close_matches(name.upper(), KNOWN_ENV_NAMES, n=1)
            hint = f"did you mean {close[0]}?" if close else "see .env.template"
            raise ConfigError(f"env file {str(path)!r} line {binding.original.line}: unknown setting {name} ({hint})")


def load_settings(env_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Build Settings from defaults, the env file, SLOB_* variables and flag overrides.

    An explicitly named env file must exist; the default `.env` is read only when present.
    Raise ConfigError with one line naming the bad setting and its value.
    """
    if env_file is not None and Path(env_file).is_dir():
        raise ConfigError(f"env file {str(env_file)!r} is a directory, not a file")
    if env_file is not None and not Path(env_file).exists():  # /dev/null is a file to read: no settings
        raise ConfigError(f"env file {str(env_file)!r} not found")
    chosen = env_file if env_file is not None else (DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None)
    flags = {key: value for key, value in (overrides or {}).items() if value is not None}
    if chosen is not None:
        _check_env_file(Path(chosen))
    try:
        return _quick(Path(chosen) if chosen is not None else None, flags)
    except (_Declined, ValueError, OSError):
        pass  # the model judges it, and words the error
    from slob_cli.settings_model import ValidationError, validated

    try:
        return validated(chosen, flags)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot read settings: {exc}") from None


# Every SLOB_ name an env file may hold: the settings above, the token and chart file `slob web`
# reads, and what docker-compose.yml reads from the same .env (tests check the template and compose).
KNOWN_ENV_NAMES: tuple[str, ...] = tuple(sorted(
    [f"{ENV_PREFIX}{name}".upper() for name in Settings.__dataclass_fields__]
    + ["SLOB_WEB_TOKEN", "SLOB_WEB_CHART_JS", "SLOB_WEB_HOST_PORT", "SLOB_PAPER_DURATION"]))
