"""Serve the web dashboard: check the bind and the token, open the store read-only, run uvicorn."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from pathlib import Path

from slob_cli.errors import ConfigError


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port (port 0 picks a free one); raise ConfigError when that is impossible."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def _server_class():  # noqa: ANN202 - a uvicorn.Server subclass, built lazily like the import
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping on SIGINT/SIGTERM like slob's other long-running commands (exit 0)."""

        @contextlib.contextmanager
        def capture_signals(self):  # noqa: ANN202 - uvicorn re-raises the signal afterwards; we do not
            originals = {number: signal.signal(number, self.handle_exit) for number in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for number, handler in originals.items():
                    signal.signal(number, handler)

    return Server


def serve_web(db_path: Path, zone: str, host: str, port: int, token: str | None,
              announce: Callable[[str], None] = print, wait: float = 0.0,
              notice: Callable[[str], None] = print) -> None:
    """Serve the dashboard of the store at db_path until interrupted (SIGINT/SIGTERM end it cleanly).

    A store a session is still making ready is waited for up to `wait` real seconds (said once by `notice`).
    """
    from slob_cli.web.library import chart_library_path
    from slob_cli.web.security import is_loopback

    if not token and not is_loopback(host):
        raise ConfigError(f"binding to {host} needs a token: give --token or set SLOB_WEB_TOKEN")
    chart_js = chart_library_path()

    import logging

    import uvicorn

    # uvicorn's start-up chatter adds nothing to our own line; its warnings and errors still show.
    logging.getLogger("uvicorn.error").setLevel(max(logging.getLogger().getEffectiveLevel(), logging.WARNING))

    from slob_cli.runtime.status import open_when_ready
    from slob_cli.web.app import create_app

    with open_when_ready(db_path, wait, notice) as store:  # one a session is still making ready: waited for
        sock = listen(host, port)
        bound_port = sock.getsockname()[1]
        app = create_app(store, db_path, zone, token, chart_js)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2,
                                server_header=False)
        server = _server_class()(config)
        shown = f"[{host}]" if ":" in host else host
        announce(f"slob web: serving {db_path} read-only on http://{shown}:{bound_port}/"
                 + (" (token required)" if token else "") + "; Ctrl-C stops")
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
