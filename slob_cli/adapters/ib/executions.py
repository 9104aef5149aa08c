"""Executions after a reconnect: ask the gateway for fills since the last one we know."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from slob_cli.adapters.ib.conversions import ExecutionReport, Rejected, execution_filter_time, execution_report

log = logging.getLogger(__name__)


async def fetch_executions_since(ib: Any, account: str | None, since: datetime | None,
                                 timeout: float) -> list[ExecutionReport]:
    """Return this account's executions strictly after `since` (all when None), oldest first."""
    from ib_async import ExecutionFilter

    flt = ExecutionFilter(clientId=0, acctCode=account or "", time=execution_filter_time(since) if since else "")
    fills = await asyncio.wait_for(ib.reqExecutionsAsync(flt), timeout)
    reports = []
    for fill in fills:
        try:
            report = execution_report(fill)
        except Rejected as exc:
            log.warning("ignored an execution: %s", exc)
            continue
        if since is None or report.ts > since:
            reports.append(report)
    return sorted(reports, key=lambda report: report.ts)
