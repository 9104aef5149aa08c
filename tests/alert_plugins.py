"""In-process apprise services for tests: `slobcapture://` records, `slobgated://` waits, `slobboom://` raises."""

from __future__ import annotations

import threading
from typing import Any

from apprise.decorators import notify as apprise_plugin

RECEIVED: list[dict[str, Any]] = []
GATE = threading.Event()


@apprise_plugin(on="slobcapture", name="slob capture")
def _capture(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    RECEIVED.append({"title": title, "body": body, "type": notify_type})
    return True


@apprise_plugin(on="slobgated", name="slob gated")
def _gated(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    GATE.wait(10)
    RECEIVED.append({"title": title, "body": body, "type": notify_type})
    return True


@apprise_plugin(on="slobboom", name="slob boom")
def _boom(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    raise RuntimeError("kaboom secret-token-boom")
