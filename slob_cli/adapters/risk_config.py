"""Read the `[risk]` table of the strategy config file (TOML or JSON) into a RiskConfig."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from slob_cli.core.risk import RiskConfig
from slob_cli.errors import ConfigError


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)


def load_risk_config(path: Path | None) -> RiskConfig:
    """Return the spec's risk defaults overridden by the file's `risk` table; raise ConfigError naming a problem."""
    if path is None:
        return RiskConfig()
    path = Path(path)
    try:
        document = _parse(path)
    except FileNotFoundError:
        raise ConfigError(f"strategy config file {str(path)!r} not found") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"strategy config {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path.name} cannot be parsed: {exc}") from None
    table = document.get("risk", {}) if isinstance(document, dict) else None
    if not isinstance(table, dict):
        raise ConfigError(f"{path.name}: the risk settings must be a table of key = value")
    try:
        return RiskConfig.from_mapping(table)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
