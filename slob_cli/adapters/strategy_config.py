"""Read strategy settings from a TOML or JSON file into a StrategyConfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.errors import ConfigError


def load_strategy_config(path: Path | None) -> StrategyConfig:
    """Return the spec's defaults overridden by a TOML/JSON file; raise ConfigError naming what is wrong.

    The file is either a flat table of strategy keys, or has a `strategy` table beside which only
    the `risk` table (the risk reader's) may stand: any other top-level key is refused, not ignored.
    """
    if path is None:
        return StrategyConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"strategy config file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read strategy config {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"strategy config {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    import tomllib  # only when there is a file to read: its import costs a command's start-up ~5 ms

    document: Any
    try:
        if path.suffix.lower() == ".json":
            document = json.loads(text)
        else:
            document = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"strategy config {str(path)!r} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("strategy"), dict):
        stray = next((key for key in document if key not in ("strategy", "risk")), None)
        if stray is not None:  # it would be ignored, and the run would use a default the user thinks is set
            raise ConfigError(f"{path.name}: {stray!r} is outside the [strategy] table; move it into the table")
        document = document["strategy"]
    elif isinstance(document, dict):
        document = {key: value for key, value in document.items() if key != "risk"}  # the risk reader's table
    try:
        return StrategyConfig.from_mapping(document)
    except ConfigError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
