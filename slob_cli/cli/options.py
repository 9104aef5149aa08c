"""Parsing of option values shared by commands: instants, time zones, progress on a terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slob_cli.core.models import FIRST_SUPPORTED_DATE, LAST_SUPPORTED_DATE, SUPPORTED_DATES
from slob_cli.errors import UsageError

UTC = timezone.utc
MAX_DURATION_SECONDS = 366 * 86_400  # a year and a day: longer is a typo, and overflows timers


def check_supported(day: date, option: str, text: str) -> date:
    """Return day, or raise UsageError naming the supported dates."""
    if not FIRST_SUPPORTED_DATE <= day <= LAST_SUPPORTED_DATE:
        raise UsageError(f"{option} {text!r} is outside the supported dates {SUPPORTED_DATES}")
    return day


def parse_instant(text: str | None, option: str) -> datetime | None:
    """Parse `--from`/`--to`: ISO-8601 with `Z` or an offset, or a date (midnight UTC)."""
    if text is None:
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO-8601 time or YYYY-MM-DD date") from None
    if moment.tzinfo is None:
        raise UsageError(f"{option} {text!r} has no time zone (add Z or an offset)")
    check_supported(moment.date(), option, text)
    return moment.astimezone(UTC)


def check_range(start: datetime | None, end: datetime | None, texts: tuple[str | None, str | None] = (None, None)) -> None:
    """Refuse a range whose start is not before its (exclusive) end; `texts` are the flags as typed, for the message."""
    if start is not None and end is not None and start >= end:
        shown = [text if text is not None else moment.isoformat() for text, moment in zip(texts, (start, end), strict=True)]
        raise UsageError(f"--from {shown[0]!r} is not before --to {shown[1]!r} (--to is exclusive)")


def parse_zone(name: str | None, option: str = "--tz") -> ZoneInfo | None:
    """Return the ZoneInfo named by an option, or raise UsageError."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{option} {name!r} is not a known time zone") from None


@contextmanager
def day_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """Yield a `progress(done, total)` callback that drives a rich bar counting days on a terminal, else nothing."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("days, about"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


@contextmanager
def progress_bar(description: str, total: Callable[[], int | None]) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n)` callback that drives a rich progress bar on a terminal, else nothing.

    `total` is asked only when a bar is shown: counting rows only to size a bar is not free.
    """
    if not sys.stderr.isatty():
        yield lambda advance: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total())
        yield lambda advance: progress.advance(task, advance)


_DURATION_UNITS = {"d": 86_400, "h": 3600, "m": 60, "s": 1}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_duration(text: str, option: str = "--duration") -> float:
    """Parse a duration in seconds: a bare number is hours (`24`, `1.5`); else `90m`, `2d`, `1h30m`, `30s`."""
    value = text.strip().lower()
    try:
        seconds = float(value) * 3600 if value and value[-1].isdigit() else None
    except ValueError:
        seconds = None
    if seconds is None:
        parts = _DURATION_PART.findall(value)
        if not value or "".join(number + unit for number, unit in parts) != value:
            raise UsageError(f"{option} {text!r} is not a duration (e.g. 24, 90m, 36h, 2d, 1h30m)")
        seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        raise UsageError(f"{option} {text!r} must be more than 0 s and at most 366 days")
    return seconds


def parse_sim_speed(text: str, option: str = "--speed") -> float | str:
    """Parse a simulated clock's speed as the simulated gateway does (sim.gateway.parse_speed): a factor, or `max`."""
    from slob_cli.sim.gateway import parse_speed

    try:
        value = parse_speed(text, option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return "max" if value is None else value


def check_png(plot: Path | None) -> None:
    """Refuse a --plot FILE whose name does not end in .png (a directory, another format) before any work."""
    if plot is not None and plot.suffix.lower() != ".png":
        raise UsageError(f"--plot {str(plot)!r}: the file name must end in .png")
