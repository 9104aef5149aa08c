"""`slob web` refuses what it must: no token on a public bind, requests without the token, missing parts."""

from __future__ import annotations

import json
import socket
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.web.security import TokenGuard, host_name, is_loopback
from tests.web.seeding import seed_day
from tests.web.test_api import get

TOKEN = "s3cret-token-for-tests"


def test_public_bind_without_token_exits_3_with_one_line(runner: CliRunner, db_path: Path, store: Store) -> None:
    result = runner.invoke(app, ["--db", str(db_path), "web", "--host", "0.0.0.0"])
    assert result.exit_code == 3
    assert result.stderr == "Error: binding to 0.0.0.0 needs a token: give --token or set SLOB_WEB_TOKEN\n"


def test_missing_store_or_chart_library_or_busy_port_exit_3(runner: CliRunner, db_path: Path, tmp_path: Path,
                                                             monkeypatch) -> None:  # noqa: ANN001
    result = runner.invoke(app, ["--db", str(tmp_path / "none.db"), "web"])
    assert result.exit_code == 3 and result.stderr.startswith("Error: database ") and "does not exist" in result.stderr
    Store.open(db_path).close()
    monkeypatch.setenv("SLOB_WEB_CHART_JS", str(tmp_path / "missing.js"))
    result = runner.invoke(app, ["--db", str(db_path), "web"])
    assert result.exit_code == 3
    assert result.stderr.startswith("Error: the chart library (npm package lightweight-charts) is missing")
    assert result.stderr.count("\n") == 1
    monkeypatch.delenv("SLOB_WEB_CHART_JS")
    from tests.web.conftest import ensure_chart_library

    ensure_chart_library()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["--db", str(db_path), "web", "--port", str(port)])
    assert result.exit_code == 3 and result.stderr == f"Error: cannot listen on 127.0.0.1:{port}: the port is in use\n"


def test_loopback_addresses_are_told_apart_from_public_ones() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(host) for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_without_a_token_only_loopback_host_names_are_answered(db_path: Path, store: Store, web_server) -> None:
    server = web_server()
    port = server.url.rsplit(":", 1)[1]
    assert get(server.url + "/api/status", {"Host": f"localhost:{port}"})[0] == 200
    status, _, body = get(server.url + "/api/status", {"Host": f"attacker.example:{port}"})  # DNS rebinding
    assert status == 421 and json.loads(body) == {"error": "this dashboard answers only to localhost names"}
    assert host_name({b"host": b"[::1]:5000"}) == "::1" and host_name({b"host": b"127.0.0.1"}) == "127.0.0.1"


def test_guard_accepts_the_bearer_token_or_the_session_cookie_only() -> None:
    guard = TokenGuard(TOKEN)
    assert guard.allows({b"authorization": f"Bearer {TOKEN}".encode()})
    assert guard.allows({b"cookie": f"a=b; slob_session={guard.cookie_value}".encode()})
    assert TOKEN not in guard.cookie_value
    assert not guard.allows({})
    assert not guard.allows({b"authorization": b"Bearer wrong"})
    assert not guard.allows({b"cookie": f"slob_session={TOKEN}".encode()})
    assert TokenGuard(None).allows({})


def test_without_the_token_every_request_gets_401_and_pages_get_a_login_prompt(
    db_path: Path, store: Store, web_server
) -> None:
    seed_day(store, datetime.now(timezone.utc))
    server = web_server(env={"SLOB_WEB_TOKEN": TOKEN, "SLOB_LOG_LEVEL": "DEBUG"})
    for path in ("/api/status", "/api/candles", "/api/events", "/static/app.js", "/static/lightweight-charts.js"):
        status, headers, body = get(server.url + path)
        assert status == 401, path
        if path.startswith("/api/"):
            assert json.loads(body) == {"error": "token required"}
    status, headers, body = get(server.url + "/")
    assert status == 401 and b'<form method=post action="/login"' in body and b"<script" not in body
    assert get(server.url + "/api/status", {"Authorization": "Bearer nope"})[0] == 401
    status, _, body = get(server.url + "/api/status", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(body)["today"]["closed_trades"] == 1
    wrong = urllib.parse.urlencode({"token": "guess"}).encode()
    status, _, body = post(server.url + "/login", wrong)
    assert status == 401 and b"Wrong token." in body
    status, headers, _ = post(server.url + "/login", urllib.parse.urlencode({"token": TOKEN}).encode())
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"].split(";")[0]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    assert get(server.url + "/api/status", {"Cookie": cookie})[0] == 200
    output, errors = server.stop()
    assert server.process.returncode == 0, errors  # Ctrl-C is a normal way to stop it
    assert TOKEN not in output + errors and cookie.split("=")[1] not in output + errors
    assert "token required" in output


def post(url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """POST a form without following redirects; return (status, lower-cased headers, body)."""
    import http.client

    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request("POST", parsed.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_slob_help_does_not_load_the_web_stack() -> None:
    import subprocess
    import sys

    probe = ("import sys; from slob_cli.cli.main import app; from typer.testing import CliRunner;"
             " CliRunner().invoke(app, ['--help']);"
             " print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'playwright'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("short", ["a", "fifteen-chars-x"])
def test_a_token_shorter_than_16_characters_is_refused_naming_the_rule(runner: CliRunner, db_path: Path, store: Store,
                                                                      monkeypatch, short: str) -> None:  # noqa: ANN001
    """`--token a` was accepted: a guessable token guards nothing. The flag is a usage error, the setting a config one."""
    with socket.socket() as busy:  # refused before it binds: a port in use keeps a wrong acceptance from serving
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = runner.invoke(app, ["--db", str(db_path), "web", "--port", port, "--token", short])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: --token must be at least 16 characters (it has {len(short)})\n"
        monkeypatch.setenv("SLOB_WEB_TOKEN", short)
        result = runner.invoke(app, ["--db", str(db_path), "web", "--port", port])
    assert result.exit_code == 3, result.output
    assert result.stderr == f"Error: SLOB_WEB_TOKEN must be at least 16 characters (it has {len(short)})\n"
