"""One time encoding for the store: instants are INTEGER microseconds since the Unix epoch (UTC).

The store converts at its edge: callers hand it datetimes (or ISO text in a row) and get ISO text
(`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`) back in rows, so what commands print does not depend on the
encoding. Inside SQL, `iso_time(column)` renders a stored instant and `us_time(text)` reads one.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any, overload

from slob_cli.core.timefmt import iso_z

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(ts: datetime) -> int:
    """Return UTC microseconds since the epoch for an aware datetime."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """Return the aware UTC datetime for epoch microseconds."""
    return _EPOCH + timedelta(0, value // 1_000_000, value % 1_000_000)  # 3x fromtimestamp().replace()


@overload
def to_iso(ts: datetime) -> str: ...
@overload
def to_iso(ts: None) -> None: ...
@overload
def to_iso(ts: datetime | None) -> str | None: ...
def to_iso(ts: datetime | None) -> str | None:
    """Return `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` in UTC, or None."""
    return iso_z(ts)


@overload
def from_iso(text: str) -> datetime: ...
@overload
def from_iso(text: None) -> None: ...
@overload
def from_iso(text: str | None) -> datetime | None: ...
def from_iso(text: str | None) -> datetime | None:
    """Parse an ISO-8601 string (with `Z` or an offset) to an aware UTC datetime."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def instant_us(value: Any) -> int | None:
    """Return the stored form of an instant given as a datetime, ISO text (no zone: UTC) or microseconds."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        value = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return to_us(value)
    raise TypeError(f"not an instant: {value!r}")


def instant_text(value: Any) -> Any:
    """Return a stored instant as ISO text; None stays None, and text (never written so) is passed through."""
    if isinstance(value, int):
        return to_iso(from_us(value))
    return value


def add_time_functions(conn: sqlite3.Connection) -> None:
    """Teach a connection `iso_time(us)` and `us_time(text)`."""
    conn.create_function("iso_time", 1, instant_text, deterministic=True)
    conn.create_function("us_time", 1, instant_us, deterministic=True)
