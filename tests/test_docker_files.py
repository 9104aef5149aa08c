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


def test_compose_web_service_reads_the_same_store_read_only_and_needs_a_token() -> None:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web, slob = data["services"]["web"], data["services"]["slob"]
    assert web["command"][:3] == ["web", "--host", "0.0.0.0"]  # in a container: the token is then required
    assert web["environment"]["SLOB_WEB_TOKEN"].startswith("${SLOB_WEB_TOKEN")
    assert web["environment"]["SLOB_DB_PATH"] == slob["environment"]["SLOB_DB_PATH"]
    store_volume = next(volume for volume in slob["volumes"] if volume.endswith(":/data"))
    assert f"{store_volume}:ro" in web["volumes"]
    port = web["command"][web["command"].index("--port") + 1]
    assert any(mapping.endswith(f":{port}") for mapping in web["ports"])
    assert web.get("profiles") == ["web"]  # `docker compose up` without the profile starts only the trader
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ENV SLOB_WEB_CHART_JS=/opt/slob/lightweight-charts.js" in dockerfile
    assert "npm ci" in dockerfile and f"EXPOSE {port}" in dockerfile
