"""`slob test-connection`: a checklist against any TWS-protocol gateway, using only what IB provides."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from slob_cli.adapters.ib.connection import (
    MAX_CLOCK_SKEW,
    GatewayConfig,
    IBConnection,
    describe_os_error,
    trading_mode,
)
from slob_cli.adapters.ib.history import fetch_minute_bars
from slob_cli.adapters.ib.market_data import MarketDataFeed
from slob_cli.core.models import Tick
from slob_cli.core.pnl import price_text
from slob_cli.errors import BrokerError, ExitCode, SlobError

log = logging.getLogger(__name__)

ENOUGH_TICKS = 5
SETTLE_SECONDS = 1.0


@dataclass
class Check:
    """One line of the checklist."""

    name: str
    ok: bool | None  # None: not run because an earlier check failed
    detail: str = ""
    advice: str = ""


@dataclass
class Report:
    """Every check, in order, and the exit code they add up to."""

    checks: list[Check] = field(default_factory=list)
    reachable: bool = False

    @property
    def passed(self) -> bool:
        """Return True when every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        """Return 0 when all pass, 4 when the gateway is unreachable, 5 otherwise."""
        if not self.reachable:
            return ExitCode.BROKER_UNREACHABLE
        return ExitCode.OK if self.passed else ExitCode.VALIDATION_FAILED

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"ok": self.passed, "exit_code": int(self.exit_code), "checks": [asdict(c) for c in self.checks]}


NAMES = ("TCP reachable", "Handshake", "Account", "Paper or live", "Contract", "Market data type",
         "Ticks", "Historical bars", "Clock skew")


async def run_checks(config: GatewayConfig, symbol: str = "NQ", timeout: float = 10.0,
                     data_type: str = "live", zone: tzinfo = timezone.utc) -> Report:
    """Run the checklist (instants shown in `zone`); never raise for a gateway problem, report it instead."""
    report = Report()
    add = report.checks.append
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(config.host, config.port), timeout)
        writer.close()
        add(Check(NAMES[0], True, f"{config.host}:{config.port}"))
    except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
        add(Check(NAMES[0], False, f"{config.host}:{config.port}: {describe_os_error(exc) if isinstance(exc, OSError) else 'timed out'}",
                  "start IB Gateway/TWS, enable the API (Configure > API > Settings) and check --host/--port"))
        _skip(report, 1)
        return report
    report.reachable = True
    connection = IBConnection(GatewayConfig(**{**asdict(config), "account": None, "sync_orders": False}))
    try:
        await _connected_checks(report, connection, config, symbol, timeout, data_type, zone)
    finally:
        await connection.close()
    return report


def _skip(report: Report, start: int) -> None:
    for name in NAMES[start:]:
        report.checks.append(Check(name, None, "not run"))


async def _connected_checks(report: Report, connection: IBConnection, config: GatewayConfig, symbol: str,
                            timeout: float, data_type: str, zone: tzinfo) -> None:
    add = report.checks.append
    try:
        await connection.connect()
    except SlobError as exc:
        add(Check(NAMES[1], False, str(exc), "enable the API in the gateway, allow 127.0.0.1 as a trusted IP, "
                  "and use a free --client-id"))
        _skip(report, 2)
        return
    await connection.measure_skew()
    moved = f", client id {connection.client_id} (requested id was in use)" if connection.client_id != config.client_id else ""
    add(Check(NAMES[1], True, f"server version {connection.server_version}{moved}"))
    accounts = connection.managed_accounts()
    account = config.account
    if account and account not in accounts:
        add(Check(NAMES[2], False, f"{account} is not among the managed accounts {', '.join(accounts) or '(none)'}",
                  "pass --account (or SLOB_IB_ACCOUNT) with one of the managed accounts"))
    elif not account and len(accounts) > 1:
        add(Check(NAMES[2], False, f"several managed accounts: {', '.join(accounts)}",
                  "choose one with --account or SLOB_IB_ACCOUNT"))
    else:
        account = account or (accounts[0] if accounts else None)
        add(Check(NAMES[2], bool(account), f"{account} (managed: {', '.join(accounts)})" if account else "none",
                  "" if account else "the gateway reports no managed account; log in again"))
    mode, conflict = trading_mode(config.port, account)
    add(Check(NAMES[3], conflict is None, f"{mode.upper() if mode == 'live' else mode} (port {config.port}, "
              f"account {account or '?'})" + (f": {conflict}" if conflict else ""),
              "check that --port and --account point at the same (paper or live) login" if conflict else ""))
    await _data_checks(report, connection, symbol, timeout, data_type, zone)


async def _data_checks(report: Report, connection: IBConnection, symbol: str, timeout: float, data_type: str,
                       zone: tzinfo) -> None:
    add = report.checks.append
    received: list[Tick] = []
    got_first, got_enough = asyncio.Event(), asyncio.Event()

    def on_tick(tick: Tick, local_symbol: str) -> None:
        received.append(tick)
        got_first.set()
        if len(received) >= ENOUGH_TICKS:
            got_enough.set()

    feed = MarketDataFeed(connection, [symbol], on_tick, data_type=data_type)
    started = time.monotonic()
    try:
        await asyncio.wait_for(feed.on_connected("connect"), timeout)
    except (SlobError, asyncio.TimeoutError, TimeoutError, ConnectionError) as exc:
        add(Check(NAMES[4], False, f"{symbol}: {exc or 'timed out'}",
                  "check the symbol and that the gateway's sec-def farm is connected"))
        _skip(report, 5)
        return
    future = feed.contracts[symbol].future
    add(Check(NAMES[4], True, f"{future.local_symbol} (expiry {future.expiry.isoformat()}, conId {future.con_id})"))
    try:
        await asyncio.wait_for(got_first.wait(), timeout)
        # A quiet market trades about once a second: after the first tick, wait a little for more.
        await asyncio.wait_for(got_enough.wait(), min(SETTLE_SECONDS, max(0.0, timeout - (time.monotonic() - started))))
    except (asyncio.TimeoutError, TimeoutError):
        pass
    elapsed = time.monotonic() - started
    refusal = feed.refusals.get(symbol)
    types = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed-frozen"}
    shown = types.get(feed.market_data_types.get(symbol, 0), feed.mode)
    if connection.simulated:
        shown = f"sim ({shown})"  # served by a simulated gateway, whatever type it calls it
    if refusal is not None and not received:
        add(Check(NAMES[5], False, f"refused: {refusal.plain}", _first_advice(refusal.plain)))
    elif feed.mode == "delayed" and data_type != "delayed":
        add(Check(NAMES[5], False, f"DELAYED instead of live ({feed.source.get(symbol)})",
                  "subscribe to CME real-time data, or set SLOB_MARKET_DATA_TYPE=delayed to accept delayed data"))
    else:
        add(Check(NAMES[5], True, f"{shown} via {feed.source.get(symbol, '?')}"))
    if received:
        add(Check(NAMES[6], True, f"{len(received)} ticks in {elapsed:.1f}s, last {price_text(received[-1].price)} "
                  f"x {received[-1].size:g} at {_shown(received[-1].ts, zone)}"))
    else:
        add(Check(NAMES[6], False, f"no trade tick within {timeout:g}s",
                  "the market may be closed, or market data is not permitted for this login; try again in "
                  "trading hours or raise --timeout"))
    await _history_check(report, connection, feed, symbol, timeout, zone)
    await _clock_check(report, connection, timeout)


def _shown(ts: datetime, zone: tzinfo) -> str:
    """Return an instant in the display zone, named (`2026-01-06 15:30:00 Europe/Stockholm`)."""
    return f"{ts.astimezone(zone):%Y-%m-%d %H:%M:%S} {getattr(zone, 'key', None) or ts.astimezone(zone).tzname()}"


def _first_advice(text: str) -> str:
    return text.split(": ", 2)[-1] if ": " in text else text


async def _history_check(report: Report, connection: IBConnection, feed: MarketDataFeed, symbol: str,
                         timeout: float, zone: tzinfo) -> None:
    end = connection.gateway_now()
    try:
        candles = await fetch_minute_bars(connection.ib, feed.contracts[symbol].ib_contract, symbol,
                                          end - timedelta(minutes=30), end, pacing_waits=(), timeout=timeout)
    except (BrokerError, ConnectionError) as exc:
        report.checks.append(Check(NAMES[7], False, str(exc), "historical data needs the HMDS farm and a market data "
                                   "subscription; wait a minute if IB reports pacing (162)"))
        return
    if candles:
        report.checks.append(Check(NAMES[7], True, f"{len(candles)} one-minute bars in the last 30 minutes, "
                                   f"last {_shown(candles[-1].ts, zone)}"))
    else:
        report.checks.append(Check(NAMES[7], False, "no one-minute bars for the last 30 minutes",
                                   "the market may be closed, or the HMDS data farm is down"))


async def _clock_check(report: Report, connection: IBConnection, timeout: float) -> None:
    sent = time.time()
    try:
        server = await asyncio.wait_for(connection.ib.reqCurrentTimeAsync(), timeout)
    except (asyncio.TimeoutError, TimeoutError, ConnectionError) as exc:
        report.checks.append(Check(NAMES[8], False, f"no answer to reqCurrentTime: {exc or 'timed out'}",
                                   "the gateway is not answering; restart it"))
        return
    skew = server.timestamp() - (sent + time.time()) / 2
    ok = abs(skew) <= MAX_CLOCK_SKEW
    report.checks.append(Check(NAMES[8], ok, f"{skew:+.1f}s against the gateway",
                               "" if ok else "synchronise this machine's clock (NTP); bars and ticks carry exchange time"))
