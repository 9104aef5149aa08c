"""Pure text forms of instants used in events and views (UTC ISO-8601 ending in `Z`)."""

from __future__ import annotations

from datetime import datetime, timezone

UTC = timezone.utc


def iso_z(ts: datetime | None) -> str | None:
    """Return `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` in UTC, or None."""
    if ts is None:
        return None
    if ts.tzinfo is UTC:  # the usual case: drop "+00:00" instead of building two more datetimes
        return ts.isoformat()[:-6] + "Z"
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
