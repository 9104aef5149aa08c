"""Docker files: every compose variable is documented, the health check is a real slob check."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_every_compose_variable_is_documented_in_env_template() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose))
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.template").read_text(), re.MULTILINE))
    assert used and used <= documented, sorted(used - documented)


def test_compose_runs_paper_against_gateway_paper_port_with_secret_password() -> None:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    gateway, slob = data["services"]["ib-gateway"], data["services"]["slob"]
    assert gateway["image"].startswith("ghcr.io/gnzsnz/ib-gateway:")
    assert gateway["environment"]["TWS_PASSWORD_FILE"] == "/run/secrets/tws_password"
    assert "TWS_PASSWORD" not in gateway["environment"]
    assert gateway["secrets"] == ["tws_password"] and "tws_password" in data["secrets"]
    assert gateway["environment"]["TRADING_MODE"].startswith("${TRADING_MODE:-paper")
    assert slob["command"][:2] == ["paper", "--duration"]
    assert (slob["environment"]["SLOB_IB_HOST"], slob["environment"]["SLOB_IB_PORT"]) == ("ib-gateway", "4004")


def test_dockerfile_runs_as_non_root_with_slob_entrypoint_and_status_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.MULTILINE)
    assert 'ENTRYPOINT ["slob"]' in text
    check = re.search(r'CMD \["slob", "status", "--check", "--max-age", "(\d+)"\]', text)
    assert check and int(check.group(1)) > 8  # longer than the engine's heartbeat interval
