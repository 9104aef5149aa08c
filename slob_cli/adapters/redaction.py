"""Secrets out of log lines: a logging filter that both the log set-up and the alert sender use."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_REDACTED = "***"

# An IB account number: a prefix (DU paper, U live, F/DF advisor, I) and seven or more digits. It
# identifies the trader: log lines show its last four (DU***4567); the commands whose purpose is to
# show it (test-connection's checks, status) print it whole on stdout.
_ACCOUNT = re.compile(r"\b(D?[UFI])\d{3,}(\d{4})\b")


def mask_accounts(text: str) -> str:
    """Return text with every IB account number cut to its prefix and last four digits (DU***4567)."""
    return _ACCOUNT.sub(lambda match: f"{match[1]}{_REDACTED}{match[2]}", text)


class RedactFilter(logging.Filter):
    """Replace every known secret string in a record's rendered message, and mask IB account numbers."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        rendered = record.getMessage()
        message = rendered
        for secret in self.secrets:
            message = message.replace(secret, _REDACTED)
        message = mask_accounts(message)
        if message != rendered:
            record.msg, record.args = message, None
        return True
