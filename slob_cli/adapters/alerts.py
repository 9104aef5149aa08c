"""Alerts through apprise URLs (Telegram, e-mail, Slack ...), sent from a worker thread.

`notify()` only puts a message on a queue, so it never blocks the event loop. A notifier that
fails or raises is logged once (later failures are counted) and never stops anything. Alert URLs
carry tokens, so they are never logged: services are named by their position and scheme only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from slob_cli.adapters.redaction import RedactFilter

log = logging.getLogger("slob.alerts")

_STOP = object()


class AlertKind(str, Enum):
    """What an alert is about."""

    START = "start"
    STOP = "stop"
    SETUP_COMPLETE = "setup_complete"
    ORDER_FILLED = "order_filled"
    TRADE_CLOSED = "trade_closed"
    SAFE_MODE = "safe_mode"
    VALIDATION = "validation"
    PROTECTION = "protection"  # a position's protection changed outside slob (cancelled, closed)


class AlertLevel(str, Enum):
    """Severity, mapped to apprise's notify types."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Alert:
    """One queued message."""

    kind: AlertKind
    title: str
    body: str
    level: AlertLevel = AlertLevel.INFO


def _url_secrets(urls: Sequence[str]) -> list[str]:
    secrets = list(urls)
    secrets += [url.split("://", 1)[-1] for url in urls]
    return [s for s in secrets if s]


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "?"


class Notifier:
    """Send alerts to every configured apprise URL from one background thread."""

    def __init__(self, urls: Sequence[str], queue_size: int = 1_000, title_prefix: str = "slob") -> None:
        self.title_prefix = title_prefix
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[Alert | object] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._failure_logged = False
        self._lock = threading.Lock()
        self._apprise = self._build(list(urls)) if urls else None

    def _build(self, urls: list[str]) -> Any:
        import apprise

        # apprise names URLs in its own log lines ("Unsupported URL: ..."): redact them at the source.
        apprise_log = logging.getLogger("apprise")
        redact = next((f for f in apprise_log.filters if isinstance(f, RedactFilter)), None)
        if redact is None:
            redact = RedactFilter(())
            apprise_log.addFilter(redact)
        redact.secrets = sorted({*redact.secrets, *_url_secrets(urls)}, key=len, reverse=True)
        apprise_log.setLevel(max(apprise_log.level, logging.WARNING))
        client = apprise.Apprise()
        added = 0
        for position, url in enumerate(urls, start=1):
            try:
                ok = client.add(url)
            except Exception:  # noqa: BLE001 - a bad URL must not stop start-up
                ok = False
            if ok:
                added += 1
            else:
                log.warning("alert URL #%d (%s://...) is not a valid apprise URL; ignored", position, _scheme(url))
        return client if added else None

    @property
    def enabled(self) -> bool:
        """Return True when at least one alert URL is usable."""
        return self._apprise is not None

    def start(self) -> Notifier:
        """Start the sending thread (idempotent); return self."""
        with self._lock:
            if self.enabled and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._work, name="slob-alerts", daemon=True)
                self._thread.start()
        return self

    def notify(self, kind: AlertKind | str, title: str, body: str, level: AlertLevel | str = AlertLevel.INFO) -> bool:
        """Queue an alert without blocking; return False when alerts are off or the queue is full."""
        if not self.enabled:
            return False
        self.start()
        try:
            self._queue.put_nowait(Alert(AlertKind(kind), title, body, AlertLevel(level)))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert was handled (or timeout); return True when all were."""
        done = threading.Event()
        if not self.enabled or self._thread is None:
            return True
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (up to timeout seconds) and stop the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    def stats(self) -> dict[str, int]:
        """Return counts of sent, failed and dropped alerts."""
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped}

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            assert isinstance(item, Alert)
            self._send(item)

    def _send(self, alert: Alert) -> None:
        assert self._apprise is not None  # only queued when there are services
        try:
            ok = bool(self._apprise.notify(
                title=f"{self.title_prefix}: {alert.title}", body=alert.body, notify_type=alert.level.value))
            reason = "a service refused it"
        except Exception as exc:  # noqa: BLE001 - a broken notifier must never stop trading
            ok, reason = False, type(exc).__name__
        if ok:
            self.sent += 1
            return
        self.failed += 1
        if not self._failure_logged:
            self._failure_logged = True
            log.warning("alert %s not delivered (%s); further failures are only counted", alert.kind.value, reason)
