"""Duration and --until parsing, and the status line (pure parts of the recorder)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from slob_cli.cli.options import parse_duration
from slob_cli.errors import UsageError
from slob_cli.runtime.recorder import RecorderStatus, parse_until

UTC = timezone.utc


@pytest.mark.parametrize(("text", "seconds"), [("2", 7200), ("1d", 86_400), ("1h30m", 5400), ("90s", 90)])
def test_record_accepts_the_one_duration_grammar_of_every_command(text: str, seconds: float) -> None:
    # One parser for every --duration: record reads `2` (hours) and `1d` like paper does.
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "h", "0s", "-5m"])
def test_bad_durations_raise_a_usage_error_naming_the_value(text: str) -> None:
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


def test_until_is_the_next_wall_clock_time_in_the_display_zone() -> None:
    zone = ZoneInfo("Europe/Stockholm")
    now = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)  # 21:00 Stockholm
    assert parse_until("22:00", now, zone) == datetime(2026, 3, 10, 21, 0, tzinfo=UTC)
    assert parse_until("20:30", now, zone) == datetime(2026, 3, 11, 19, 30, tzinfo=UTC)
    with pytest.raises(UsageError, match="25:00"):
        parse_until("25:00", now, zone)


def test_status_line_shows_rate_price_buffer_drops_reconnects_and_delayed_mode() -> None:
    status = RecorderStatus(ticks_per_second=1234.0, ticks_stored=10, last_price={"NQ": 25001.25}, buffer_used=50,
                            buffer_capacity=1000, dropped=2, reconnects=1, connected=True, mode="delayed",
                            local_symbols={"NQ": "NQH6"})
    line = status.line()
    for part in ("DELAYED", "1,234 ticks/s", "NQH6 25,001.25", "buffer 5.0%", "drops 2", "reconnects 1"):
        assert part in line
