"""Alerts through apprise: delivered off the caller's thread, failures logged once, URLs never logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from slob_cli.adapters.alerts import AlertKind, Notifier
from slob_cli.runtime.alerting import describe_payload, subscribe_alerts
from slob_cli.runtime.bus import EventBus
from slob_cli.runtime.events import EventType
from tests.alert_plugins import GATE, RECEIVED
from tests.conftest import eventually


@pytest.fixture(autouse=True)
def _fresh() -> None:
    RECEIVED.clear()
    GATE.clear()


def test_alert_is_delivered_with_prefixed_title_and_level() -> None:
    notifier = Notifier(["slobcapture://secret-token-1/chat"]).start()
    assert notifier.notify(AlertKind.SAFE_MODE, "safe mode entered", "gateway lost", "warning")
    assert notifier.flush()
    assert RECEIVED == [{"title": "slob: safe mode entered", "body": "gateway lost", "type": "warning"}]
    assert notifier.stats() == {"sent": 1, "failed": 0, "dropped": 0}
    notifier.close()


def test_notify_returns_while_the_service_is_still_sending() -> None:
    notifier = Notifier(["slobgated://token"])
    assert notifier.notify("start", "started", "slob paper")
    assert RECEIVED == []  # the caller did not wait for delivery
    GATE.set()
    eventually(lambda: len(RECEIVED) == 1)
    notifier.close()


def test_without_urls_alerts_are_off_and_notify_is_a_no_op() -> None:
    notifier = Notifier([])
    assert not notifier.enabled
    assert notifier.notify("start", "started", "x") is False
    notifier.close()


def test_raising_service_is_logged_once_and_never_leaks_the_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    urls = ["slobboom://secret-token-boom", "slobcapture://secret-token-2", "nonsense-secret-token-3"]
    notifier = Notifier(urls)
    for number in range(3):
        notifier.notify("order_filled", "order filled", f"fill {number}")
    assert notifier.flush()
    notifier.close()
    assert [r["body"] for r in RECEIVED] == ["fill 0", "fill 1", "fill 2"]  # the good service still gets all
    assert notifier.stats()["failed"] == 3
    failures = [r for r in caplog.records if r.name == "slob.alerts" and "not delivered" in r.getMessage()]
    assert len(failures) == 1
    assert "alert URL #3 (?://...) is not a valid apprise URL" in caplog.text
    assert "secret-token" not in caplog.text


def test_notifier_whose_client_raises_keeps_its_worker_alive(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier(["slobcapture://token"])
    real = notifier._apprise.notify
    calls = {"count": 0}

    def flaky(**kwargs: Any) -> bool:
        calls["count"] += 1
        if calls["count"] == 1:
            raise OSError("network down")
        return real(**kwargs)

    notifier._apprise.notify = flaky
    notifier.notify("start", "first", "lost")
    notifier.notify("stop", "second", "arrives")
    assert notifier.flush()
    assert [r["title"] for r in RECEIVED] == ["slob: second"]
    assert notifier.stats() == {"sent": 1, "failed": 1, "dropped": 0}
    assert "alert start not delivered (OSError)" in caplog.text
    notifier.close()


def test_bus_events_become_alerts_and_a_raising_notifier_does_not_stop_the_bus() -> None:
    notifier = Notifier(["slobboom://secret", "slobcapture://token"])
    seen: list[str] = []

    async def scenario() -> dict[str, Any]:
        async with EventBus() as bus:
            subscribe_alerts(bus, notifier)
            bus.subscribe(None, lambda event: seen.append(event.type.value))
            bus.emit(EventType.SETUP_EVENT, {"kind": "LIQ1_DETECTED", "setup_id": "s1"})
            bus.emit(EventType.SETUP_EVENT, {"kind": "SETUP_COMPLETE", "setup_id": "s1", "entry": 25450.0})
            bus.emit(EventType.ORDER_FILLED, {"order_ref": "slob:s1:entry", "price": 25449.5})
            bus.emit(EventType.SAFE_MODE_ENTERED, {"reason": "1100"})
            bus.emit(EventType.POSITION_CLOSED, {"setup_id": "s1", "pnl_money": -405.0})
            bus.emit(EventType.HEALTH, {"connected": True})
            await bus.drain()
            return bus.get_stats()

    stats = asyncio.run(scenario())
    assert notifier.flush()
    notifier.close()
    assert seen == ["setup_event", "setup_event", "order_filled", "safe_mode_entered", "position_closed", "health"]
    assert stats["handler_errors"] == 0
    assert [(r["title"], r["type"]) for r in RECEIVED] == [
        ("slob: setup complete", "info"), ("slob: order filled", "info"),
        ("slob: safe mode entered", "warning"), ("slob: trade closed", "info")]
    assert RECEIVED[0]["body"] == "kind=SETUP_COMPLETE, setup_id=s1, entry=25450"
    assert notifier.stats()["failed"] == 4


def test_verdict_alert_is_failure_level_when_validation_failed() -> None:
    from slob_cli.runtime.alerting import notify_verdict

    notifier = Notifier(["slobcapture://token"])
    notify_verdict(notifier, "FAILED: no duplicate orders", passed=False, where="slob-paper-run1.md")
    notify_verdict(notifier, "PASSED", passed=True)
    notifier.close()
    assert [(r["title"], r["type"]) for r in RECEIVED] == [
        ("slob: paper validation failed", "failure"), ("slob: paper validation passed", "success")]
    assert RECEIVED[0]["body"] == "FAILED: no duplicate orders\nreport: slob-paper-run1.md"


def test_tracker_setup_complete_event_becomes_one_alert_with_its_figures() -> None:
    from datetime import date, datetime, timezone

    from slob_cli.core.models import Direction
    from slob_cli.core.strategy.events import EventType as SetupEventType
    from slob_cli.core.strategy.events import SetupEvent

    def event(kind: SetupEventType) -> SetupEvent:
        return SetupEvent(kind, "NQ", date(2026, 1, 6), datetime(2026, 1, 6, 15, 9, tzinfo=timezone.utc), "s1",
                          Direction.SHORT, {"entry_est": 25450.0, "sl": 25470.0, "tp": 25405.0})

    notifier = Notifier(["slobcapture://token"])

    async def scenario() -> None:
        async with EventBus() as bus:
            subscribe_alerts(bus, notifier)
            bus.emit(EventType.SETUP_EVENT, event(SetupEventType.LIQ2_DETECTED))
            bus.emit(EventType.SETUP_EVENT, event(SetupEventType.SETUP_COMPLETE))
            await bus.drain()

    asyncio.run(scenario())
    notifier.close()
    assert [r["title"] for r in RECEIVED] == ["slob: setup complete"]
    body = RECEIVED[0]["body"]
    assert "candidate_id=s1" in body and "direction=SHORT" in body and "sl=25,470.00" in body and "tp=25,405.00" in body


def test_an_alert_writes_prices_points_and_money_as_every_screen_does() -> None:
    # A fill's price read 25571.8 (`:g` keeps six digits) and a close's points 70.75, where status writes
    # 25,571.75 and +70.75.
    assert describe_payload({"order_ref": "slob:x:entry", "side": "SLD", "quantity": 1.0, "price": 25571.75}) == (
        "order_ref=slob:x:entry, side=SLD, quantity=1, price=25,571.75")
    assert describe_payload({"setup_id": "x", "reason": "target", "pnl_points": 70.75, "pnl_money": 1410.5,
                             "gross": 1415.0, "commission": 4.5}) == (
        "setup_id=x, reason=target, pnl_points=+70.75, pnl_money=$+1,410.50, gross=$+1,415.00, commission=$4.50")
