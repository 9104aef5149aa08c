"""Alerts from bus events: setup complete, order filled, trade closed, safe mode.

Handlers only format a line and queue it on the Notifier, so they stay quick on the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from enum import Enum
from typing import Any

from slob_cli.adapters.alerts import AlertKind, AlertLevel, Notifier
from slob_cli.core.pnl import money_text, points_text, price_text
from slob_cli.core.strategy.events import PRICE_FIELDS
from slob_cli.runtime.events import Event, EventType


def describe_payload(payload: Any, limit: int = 400) -> str:
    """Return a short one-line text for an event payload (dataclass, dict or anything)."""
    if callable(getattr(payload, "to_dict", None)):
        payload = payload.to_dict()
    elif is_dataclass(payload) and not isinstance(payload, type):
        payload = asdict(payload)
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        payload = {**{k: v for k, v in payload.items() if k != "data"}, **payload["data"]}
    if isinstance(payload, dict):
        text = ", ".join(f"{key}={_short(value, key)}" for key, value in payload.items())
    else:
        text = "" if payload is None else str(payload)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# Money in a payload (a closed trade's), written as every screen and log writes it: signed, or not (commission).
_MONEY = {"pnl_money": True, "gross": True, "commission": False}
# Prices (a fill's, an opened position's, a setup's levels and plan) and points, as every screen writes them.
_PRICES = PRICE_FIELDS | {"entry_price", "exit_price", "limit_price", "stop_price", "last_price"}
_POINTS = {"pnl_points", "points"}


def _short(value: Any, key: str = "") -> str:
    number = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    if key in _MONEY and number:
        return money_text(value, signed=_MONEY[key])
    if key in _PRICES and number:
        return price_text(value)
    if key in _POINTS and number:
        return points_text(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _event_kind(payload: Any) -> str | None:
    """Return the tracker event kind carried by a SETUP_EVENT payload (attribute or dict key)."""
    for name in ("kind", "type", "event_type"):
        value = payload.get(name) if isinstance(payload, dict) else getattr(payload, name, None)
        if value is not None:
            return str(getattr(value, "value", value)).upper()
    return None


def subscribe_alerts(bus: Any, notifier: Notifier) -> Callable[[], None]:
    """Send alerts for bus events (setup complete, order filled, trade closed, safe mode); return unsubscribe."""
    def on_setup_event(event: Event) -> None:
        if _event_kind(event.payload) == "SETUP_COMPLETE":
            notifier.notify(AlertKind.SETUP_COMPLETE, "setup complete", describe_payload(event.payload))

    simple = {
        EventType.ORDER_FILLED: (AlertKind.ORDER_FILLED, "order filled", AlertLevel.INFO),
        EventType.POSITION_CLOSED: (AlertKind.TRADE_CLOSED, "trade closed", AlertLevel.INFO),
        EventType.SAFE_MODE_ENTERED: (AlertKind.SAFE_MODE, "safe mode entered", AlertLevel.WARNING),
        EventType.ALERT: (AlertKind.PROTECTION, "changed outside slob", AlertLevel.WARNING),
    }

    def on_simple(event: Event) -> None:
        kind, title, level = simple[event.type]
        notifier.notify(kind, title, describe_payload(event.payload), level)

    unsubscribers = [bus.subscribe(EventType.SETUP_EVENT, on_setup_event)]
    unsubscribers += [bus.subscribe(event_type, on_simple) for event_type in simple]

    def unsubscribe() -> None:
        for undo in unsubscribers:
            undo()

    return unsubscribe


def notify_verdict(notifier: Notifier, verdict: str, passed: bool, where: str = "") -> bool:
    """Queue the validation verdict alert (success or failure level)."""
    body = verdict + (f"\nreport: {where}" if where else "")
    level = AlertLevel.SUCCESS if passed else AlertLevel.FAILURE
    return notifier.notify(AlertKind.VALIDATION, "paper validation " + ("passed" if passed else "failed"), body, level)
