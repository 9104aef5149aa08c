"""iso_z: one text form for every aware instant, whatever its zone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from slob_cli.core.timefmt import iso_z

UTC = timezone.utc


def test_iso_z_gives_the_same_text_for_an_instant_in_any_zone() -> None:
    instants = [datetime(2026, 3, 10, 13, 30, tzinfo=UTC), datetime(2026, 3, 10, 13, 30, 5, 250, tzinfo=UTC),
                datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, 5, 59, 59, 999999, tzinfo=UTC)]
    for instant in instants:
        expected = instant.replace(tzinfo=None).isoformat() + "Z"
        for zone in (UTC, ZoneInfo("UTC"), ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=30))):
            assert iso_z(instant.astimezone(zone)) == expected
    assert iso_z(datetime(2026, 3, 10, 9, 30, tzinfo=ZoneInfo("America/New_York"))) == "2026-03-10T13:30:00Z"
    assert iso_z(None) is None
