"""StrategyConfig: spec defaults, overrides from a mapping or a file, one-line errors naming the key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from slob_cli.adapters.strategy_config import load_strategy_config
from slob_cli.core.strategy import StrategyConfig
from slob_cli.errors import ConfigError


def test_defaults_are_the_spec_numbers() -> None:
    config = StrategyConfig()
    assert (config.high_confirm_bars, config.low_confirm_bars) == (5, 3)
    assert (config.min_depth_pct, config.max_depth_pct) == (0.10, 0.30)
    assert (config.liq2_wait_min, config.min_duration_min, config.max_duration_min) == (15, 15, 120)
    assert config.nowick_max_wick_ratio == 0.20 and config.entry_timeout_bars == 20
    assert config.tp_mode == "swing" and config.spike_rule is False and config.min_rr == 0.0


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        StrategyConfig().min_rr = 1.0  # type: ignore[misc]


def test_from_mapping_overrides_and_coerces() -> None:
    config = StrategyConfig.from_mapping({"max_depth_pct": 0.5, "liq2_wait_min": "5", "spike_rule": "yes", "tp_mode": "LSE"})
    assert (config.max_depth_pct, config.liq2_wait_min, config.spike_rule, config.tp_mode) == (0.5, 5, True, "lse")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"max_depth": 0.5}, "unknown strategy setting 'max_depth'"),
        ({"liq2_wait_min": 2.5}, "liq2_wait_min = 2.5: must be a whole number"),
        ({"min_rr": "lots"}, "min_rr = 'lots': must be a number"),
        ({"gap_rule": "maybe"}, "gap_rule = 'maybe': must be true or false"),
        ({"tp_mode": "moon"}, "tp_mode = 'moon': must be one of swing, lse"),
        ({"tick_size": 0}, "tick_size = 0.0: must be greater than 0"),
        ({"sl_buffer": -1}, "sl_buffer = -1.0: must not be negative"),
        ({"min_depth_pct": 0.4}, "min_depth_pct = 0.4 is above max_depth_pct = 0.3"),
        ({"min_reference_coverage": 1.5}, "min_reference_coverage = 1.5: must be a fraction"),
    ],
)
def test_from_mapping_rejects_bad_input_naming_it(data, message) -> None:
    with pytest.raises(ConfigError) as caught:
        StrategyConfig.from_mapping(data)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_loader_reads_toml_strategy_table_and_json(tmp_path: Path) -> None:
    toml_file = tmp_path / "strategy.toml"
    toml_file.write_text('[strategy]\nmin_rr = 1.5\ntp_mode = "lse"\n[risk]\nrisk_pct = 0.01\n')
    assert load_strategy_config(toml_file) == StrategyConfig(min_rr=1.5, tp_mode="lse")
    json_file = tmp_path / "strategy.json"
    json_file.write_text(json.dumps({"entry_timeout_bars": 10}))
    assert load_strategy_config(json_file).entry_timeout_bars == 10
    assert load_strategy_config(None) == StrategyConfig()


def test_file_loader_errors_name_file_and_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_strategy_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("min_rr = = 2\n")
    with pytest.raises(ConfigError, match="not valid toml"):
        load_strategy_config(broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'red'\n")
    with pytest.raises(ConfigError, match=r"unknown\.toml: unknown strategy setting 'colour'"):
        load_strategy_config(unknown)


def test_a_key_outside_the_strategy_table_is_refused_not_ignored(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.toml"
    mixed.write_text("min_rr = 1.5\n[strategy]\nentry_timeout_bars = 10\n[risk]\nrisk_pct = 0.01\n")
    with pytest.raises(ConfigError, match=r"^mixed\.toml: 'min_rr' is outside the \[strategy\] table"):
        load_strategy_config(mixed)
    both = tmp_path / "both.json"
    both.write_text(json.dumps({"min_rr": 1.5, "strategy": {"min_rr": 2}}))
    with pytest.raises(ConfigError, match=r"^both\.json: 'min_rr' is outside the \[strategy\] table"):
        load_strategy_config(both)
