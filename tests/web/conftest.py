"""Fixtures for the web dashboard: a real `slob web` process, and Debian's chromium driven by playwright."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slob_cli.web.library import ASSETS, PACKAGE_FILE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SLOB_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def ensure_chart_library() -> None:
    """Install the npm package the page needs (as `make web-assets` does) when it is missing."""
    if (ASSETS / PACKAGE_FILE).is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("the chart library is missing and npm is not installed (make test installs both)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ASSETS, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


@dataclass
class WebServer:
    """A running `slob web` process and what it printed."""

    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    announced: threading.Event = field(default_factory=threading.Event)  # set once it printed a line, or ended

    def serving(self, timeout: float = 60) -> str:
        """Wait until it announced the address it serves; return (and keep) that address."""
        if not self.announced.wait(timeout) or not self.output:
            self.process.kill()
            raise AssertionError(f"slob web did not start: {''.join(self.errors)[-2000:]}")
        found = re.search(r"(http://\S+?)/?(?:\s|;|$)", self.output[0])
        assert found, self.output[0]
        self.url = found.group(1).rstrip("/")
        return self.url

    def stop(self, signal_number: int = signal.SIGINT) -> tuple[str, str]:
        """Stop it with SIGINT (as Ctrl-C would); return all it printed on stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return "".join(self.output), "".join(self.errors)


def _pump(stream, sink: list[str], first_line: threading.Event | None) -> None:  # noqa: ANN001
    for line in stream:
        sink.append(line)
        if first_line is not None:
            first_line.set()
    if first_line is not None:
        first_line.set()


def spawn_web(db_path: Path, *args: str, env: dict[str, str] | None = None) -> WebServer:
    """Start `slob --db DB web --port 0 ARGS`; return at once (`serving()` waits for its address)."""
    ensure_chart_library()
    process = subprocess.Popen(
        [sys.executable, "-m", "slob_cli", "--db", str(db_path), "web", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    server = WebServer(process, "")
    threading.Thread(target=_pump, args=(process.stdout, server.output, server.announced), daemon=True).start()
    threading.Thread(target=_pump, args=(process.stderr, server.errors, None), daemon=True).start()
    return server


def start_web(db_path: Path, *args: str, env: dict[str, str] | None = None) -> WebServer:
    """Start `slob --db DB web --port 0 ARGS` and return once it printed the address it serves."""
    server = spawn_web(db_path, *args, env=env)
    server.serving()
    return server


@pytest.fixture
def web_server(db_path: Path) -> Iterator[Callable[..., WebServer]]:
    """Return a starter of `slob web` processes on the test's store; stops them all afterwards."""
    started: list[WebServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WebServer:
        server = start_web(db_path, *args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Return Debian's headless chromium driven by playwright (never playwright's own browser build)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def artifact(name: str) -> Path:
    """Return a path for a test artifact (screenshots), creating the folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
