"""Every number of the 5/1 SLOB specification as one frozen, validated configuration object."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from slob_cli.errors import ConfigError

TP_MODES = ("swing", "lse")


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    """Tracker parameters; the defaults are the spec's (docs/strategy.md lists each with its rule)."""

    high_confirm_bars: int = 5
    low_confirm_bars: int = 3
    min_depth_pct: float = 0.10
    max_depth_pct: float = 0.30
    liq2_wait_min: int = 15
    min_duration_min: int = 15
    max_duration_min: int = 120
    nowick_max_wick_ratio: float = 0.20
    nowick_size_filter: bool = False
    nowick_min_range_pct: float = 0.03
    nowick_max_range_pct: float = 0.15
    allow_trigger_on_liq2_bar: bool = True
    sl_buffer: float = 1.0
    spike_rule: bool = False
    spike_wick_body_ratio: float = 2.0
    spike_buffer: float = 2.0
    tp_mode: str = "swing"
    tp_buffer: float = 1.0
    swing_lookback: int = 2
    min_rr: float = 0.0
    retracement_points: float = 100.0
    retracement_pct: float = 1.0
    entry_timeout_bars: int = 20
    gap_rule: bool = True
    tick_size: float = 0.25
    min_reference_coverage: float = 0.90

    def __post_init__(self) -> None:
        for item in fields(self):
            _check_value(item.name, getattr(self, item.name), item.default)
        _check_relations(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> StrategyConfig:
        """Return the defaults overridden by `data`; raise ConfigError naming an unknown key or bad value."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"strategy settings must be a table of key = value, not {type(data).__name__}")
        defaults = {item.name: item.default for item in fields(cls)}
        for key in data:
            if key not in defaults:
                raise ConfigError(f"unknown strategy setting {key!r} (known: {', '.join(sorted(defaults))})")
        values = {key: _coerce(key, value, defaults[key]) for key, value in data.items()}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return every setting as a JSON-able dict."""
        return asdict(self)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Return value converted to the type of the default, or raise ConfigError naming key and value."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.strip().lower() in ("true", "yes", "1")
        raise ConfigError(f"strategy setting {key} = {value!r}: must be true or false")
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a whole number")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a whole number") from None
        if not number.is_integer():
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a whole number")
        return int(number)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a number")
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a number") from None
    if not isinstance(value, str):
        raise ConfigError(f"strategy setting {key} = {value!r}: must be text")
    return value.strip().lower()


def _check_value(key: str, value: Any, default: Any) -> None:
    """Raise ConfigError when a single value is out of its range."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"strategy setting {key} = {value!r}: must be true or false")
        return
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a finite number")
        if isinstance(default, int) and not isinstance(value, int):
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a whole number")
        positive = key in ("tick_size", "high_confirm_bars", "low_confirm_bars", "entry_timeout_bars",
                           "max_duration_min", "swing_lookback", "spike_wick_body_ratio", "nowick_max_wick_ratio")
        if positive and value <= 0:
            raise ConfigError(f"strategy setting {key} = {value!r}: must be greater than 0")
        if value < 0:
            raise ConfigError(f"strategy setting {key} = {value!r}: must not be negative")
        if key in ("min_reference_coverage",) and value > 1:
            raise ConfigError(f"strategy setting {key} = {value!r}: must be a fraction between 0 and 1")
        return
    if key == "tp_mode" and value not in TP_MODES:
        raise ConfigError(f"strategy setting tp_mode = {value!r}: must be one of {', '.join(TP_MODES)}")


def _check_relations(config: StrategyConfig) -> None:
    """Raise ConfigError when two settings contradict each other."""
    pairs = (
        ("min_depth_pct", "max_depth_pct"),
        ("min_duration_min", "max_duration_min"),
        ("nowick_min_range_pct", "nowick_max_range_pct"),
    )
    for low_key, high_key in pairs:
        if getattr(config, low_key) > getattr(config, high_key):
            raise ConfigError(
                f"strategy setting {low_key} = {getattr(config, low_key)!r} is above "
                f"{high_key} = {getattr(config, high_key)!r}"
            )
