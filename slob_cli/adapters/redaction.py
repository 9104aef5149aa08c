"""Secrets out of log lines: a logging filter that both the log set-up and the alert sender use."""

from __future__ import annotations

import logging
from collections.abc import Iterable

_REDACTED = "***"


class RedactFilter(logging.Filter):
    """Replace every known secret string in a record's rendered message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, _REDACTED)
            record.msg, record.args = message, None
        return True
