"""The `[risk]` table of the strategy config file: defaults, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from slob_cli.adapters.risk_config import load_risk_config
from slob_cli.adapters.strategy_config import load_strategy_config
from slob_cli.core.risk import RiskConfig
from slob_cli.errors import ConfigError


def test_no_file_gives_the_spec_defaults() -> None:
    config = load_risk_config(None)
    assert config == RiskConfig()
    assert (config.risk_pct, config.max_contracts, config.max_open_positions, config.max_trades_per_day,
            config.daily_loss_limit_pct, config.drawdown_half_pct, config.drawdown_stop_pct,
            config.zero_size_policy) == (0.01, 1, 1, 2, 2.0, 15.0, 25.0, "skip")


def test_toml_risk_table_overrides_and_strategy_reader_ignores_it(tmp_path: Path) -> None:
    path = tmp_path / "slob.toml"
    path.write_text('[strategy]\nmin_rr = 1.0\n\n[risk]\nrisk_pct = 0.005\nmax_contracts = 2\n'
                    'zero_size_policy = "mnq"\n', encoding="utf-8")
    assert load_risk_config(path) == RiskConfig(risk_pct=0.005, max_contracts=2, zero_size_policy="mnq")
    assert load_strategy_config(path).min_rr == 1.0


def test_json_file_without_risk_table_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "slob.json"
    path.write_text('{"strategy": {"min_rr": 0.5}}', encoding="utf-8")
    assert load_risk_config(path) == RiskConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[risk]\nrisk_percent = 0.01\n", "slob.toml: unknown risk setting 'risk_percent'"),
        ("[risk]\nmax_contracts = 0\n", "slob.toml: risk setting max_contracts = 0: must be >= 1"),
        ("[risk]\nrisk_pct = 0.5\n", "risk_pct = 0.5: must be in (0, 0.1]"),
        ("risk = 3\n", "the risk settings must be a table"),
        ("[risk\n", "slob.toml cannot be parsed"),
    ],
)
def test_bad_risk_table_raises_one_line_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "slob.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_risk_config(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 3


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_risk_config(tmp_path / "nope.toml")
