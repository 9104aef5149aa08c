"""load_risk_config: the `[risk]` table of the strategy config file, defaults without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slob_cli.adapters.strategy_config import load_risk_config, load_strategy_config
from slob_cli.core.risk import RiskConfig
from slob_cli.core.strategy import StrategyConfig
from slob_cli.errors import ConfigError


def test_risk_table_overrides_defaults_and_strategy_keys_stay_the_strategy_loaders(tmp_path: Path) -> None:
    path = tmp_path / "slob.toml"
    path.write_text("min_rr = 1.5\n[risk]\nmax_contracts = 3\ndaily_loss_limit_pct = 1\n")
    assert load_risk_config(path) == RiskConfig(max_contracts=3, daily_loss_limit_pct=1.0)
    assert load_strategy_config(path) == StrategyConfig(min_rr=1.5)


def test_file_without_risk_table_or_no_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "slob.json"
    path.write_text(json.dumps({"strategy": {"min_rr": 2.0}}))
    assert load_risk_config(path) == RiskConfig()
    assert load_risk_config(None) == RiskConfig()


@pytest.mark.parametrize("text, message", [
    ("[risk]\nrisk_percent = 1\n", "slob.toml: unknown risk setting 'risk_percent'"),
    ("[risk]\nmax_contracts = 0\n", "slob.toml: risk setting max_contracts = 0: must be >= 1"),
    ("risk = 3\n", "slob.toml: risk must be a table"),
])
def test_bad_risk_table_is_a_config_error_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "slob.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_risk_config(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
