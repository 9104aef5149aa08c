"""The web dashboard's guard: a token on every request, security headers on every response.

The token travels as `Authorization: Bearer <token>` (scripts) or as a cookie set by the login form
(browsers: EventSource cannot send headers). The cookie holds an HMAC of the token, never the
token; both are compared in constant time. Nothing here logs a token or a cookie.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE_NAME = "slob_session"
LOGIN_PATH = "/login"
MAX_LOGIN_BODY = 4096
FAILED_LOGIN_DELAY = 0.5  # seconds

LOGIN_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#10151c;color:#e6e9ee;display:flex;"
    "justify-content:center;align-items:center;min-height:100vh;margin:0}"
    "form{background:#18202a;padding:2rem;border-radius:8px;width:min(22rem,90vw)}"
    "input,button{font:inherit;width:100%;box-sizing:border-box;padding:.6rem;margin-top:.6rem;border-radius:4px;"
    "border:1px solid #2c3a4a;background:#0c1117;color:inherit}button{background:#2f6fde;border:0;cursor:pointer}"
    ".error{color:#ff8080}"
)


def is_loopback(host: str) -> bool:
    """Return True when binding to host only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(headers: dict[bytes, bytes]) -> str:
    """Return the host name of a request's Host header, without its port (`[::1]:5000` -> `::1`)."""
    host = headers.get(b"host", b"").decode("latin-1").strip()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _style_hash(style: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' " + _style_hash(LOGIN_STYLE) + "; img-src 'self' data:;"
    " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def login_page(message: str = "") -> bytes:
    """Return the login prompt: a plain form (no script) that posts the token to /login."""
    error = f'<p class="error">{message}</p>' if message else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1"><title>slob - sign in</title>'
        f"<style>{LOGIN_STYLE}</style></head><body>"
        f'<form method=post action="{LOGIN_PATH}" id=login><h1>slob</h1>'
        "<p>This dashboard needs its access token.</p>"
        f"{error}<label for=token>Token</label>"
        "<input id=token name=token type=password autocomplete=current-password required autofocus>"
        "<button type=submit>Sign in</button></form></body></html>"
    ).encode()


class TokenGuard:
    """Know the token (or that none is required) and check a request's credentials in constant time."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None
        # The cookie carries a keyed digest of the token, never the token itself.
        self.cookie_value = (hmac.new(self._token, b"slob-web-session", hashlib.sha256).hexdigest()
                             if self._token else "")

    @property
    def required(self) -> bool:
        """Return True when requests must carry the token."""
        return self._token is not None

    def matches(self, candidate: str) -> bool:
        """Return True when candidate is the token (constant time)."""
        return self._token is not None and hmac.compare_digest(candidate.encode(), self._token)

    def allows(self, headers: dict[bytes, bytes]) -> bool:
        """Return True when the request's Authorization header or session cookie carries the token."""
        if self._token is None:
            return True
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if authorization[:7].lower() == "bearer ":
            return self.matches(authorization[7:].strip())
        for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE_NAME:
                return hmac.compare_digest(value.encode(), self.cookie_value.encode())
        return False


class SecurityMiddleware:
    """ASGI middleware: security headers on every response; the token on every request but the login form."""

    def __init__(self, app: ASGIApp, guard: TokenGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(item for item in SECURITY_HEADERS if item[0] not in names)]
            await send(message)

        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        if not self.guard.required and not is_loopback(host_name(headers)):
            # Without a token only loopback names may reach us: a web page whose own name was rebound to
            # 127.0.0.1 (DNS rebinding) must not read the dashboard through the victim's browser.
            body = json.dumps({"error": "this dashboard answers only to localhost names"}).encode()
            await _respond(send_with_headers, 421, body, b"application/json")
            return
        if path == "/favicon.ico":  # browsers ask for it on every page, the login page too: nothing to guard
            await _respond(send_with_headers, 204, b"", b"image/x-icon")
            return
        if path == LOGIN_PATH and self.guard.required:
            await self._login(scope, receive, send_with_headers)
            return
        if not self.guard.allows(headers):
            await self._refuse(path, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, path: str, send: Send) -> None:
        if path.startswith("/api/"):
            body = json.dumps({"error": "token required"}).encode()
            await _respond(send, 401, body, b"application/json", [(b"www-authenticate", b'Bearer realm="slob"')])
        else:
            await _respond(send, 401, login_page(), b"text/html; charset=utf-8")

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await _respond(send, 200, login_page(), b"text/html; charset=utf-8")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                await _respond(send, 413, b"too large", b"text/plain")
                return
            if not message.get("more_body"):
                break
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
        if not self.guard.matches(token):
            await asyncio.sleep(FAILED_LOGIN_DELAY)  # slows guessing down; other requests are served meanwhile
            await _respond(send, 401, login_page("Wrong token."), b"text/html; charset=utf-8")
            return
        cookie = f"{COOKIE_NAME}={self.guard.cookie_value}; Path=/; HttpOnly; SameSite=Strict".encode()
        await _respond(send, 303, b"", b"text/plain", [(b"location", b"/"), (b"set-cookie", cookie)])


async def _respond(send: Send, status: int, body: bytes, content_type: bytes,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
