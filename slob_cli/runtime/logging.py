"""Logging set-up: rich on a terminal, plain lines or JSON lines otherwise; secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slob_cli.adapters.redaction import RedactFilter
from slob_cli.errors import ConfigError

__all__ = ["JsonFormatter", "RedactFilter", "setup_logging"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _CurrentStderr(logging.StreamHandler):
    """A stream handler writing to whatever sys.stderr is when a record is emitted.

    A handler bound to the stderr of the moment it was made keeps writing there after a caller (a
    test runner's capture, a redirect) has closed and replaced it; a thread that outlives the command
    would then log into a closed stream.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(
    level: str = "INFO",
    json_lines: bool = False,
    log_dir: Path | None = None,
    log_file_name: str | None = None,
    secrets: Iterable[str] = (),
    stream_is_tty: bool | None = None,
) -> None:
    """Configure the root logger once per process (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_slob", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    redact = RedactFilter(secrets)
    tty = sys.stderr.isatty() if stream_is_tty is None else stream_is_tty
    console: logging.Handler
    if json_lines:
        console = _CurrentStderr()
        console.setFormatter(JsonFormatter())
    elif tty:
        from rich.logging import RichHandler

        console = RichHandler(show_path=False, rich_tracebacks=False, log_time_format="%H:%M:%S")
    else:
        console = _CurrentStderr()
        console.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handlers: list[logging.Handler] = [console]
    if log_dir is not None and log_file_name:
        from logging.handlers import RotatingFileHandler  # socket, pickle, queue: only sessions log to a file

        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            file_handler = RotatingFileHandler(
                log_dir / log_file_name, maxBytes=10_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as exc:
            raise ConfigError(f"cannot write logs to {str(log_dir)!r} (SLOB_LOG_DIR): {exc.strerror or exc}") from None
        file_handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(redact)
        handler._slob = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # ib_async is chatty at INFO; keep its warnings and errors.
    logging.getLogger("ib_async").setLevel(max(logging.getLevelName(level), logging.WARNING)
                                           if isinstance(logging.getLevelName(level), int) else logging.WARNING)
