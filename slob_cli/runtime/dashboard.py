"""The dashboard's data: one read-only snapshot of the store, taken once per frame.

Reading never takes the lock and never writes: the engine keeps writing (SQLite WAL) while this
reads. The frame itself is drawn from the snapshot alone (see dashboard_view), so it can be tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from slob_cli.runtime import views
from slob_cli.runtime.lock import LockHolder
from slob_cli.runtime.status import Liveness, SessionHeader, read_header

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store

UTC = timezone.utc
MINUTE_US = 60_000_000


@dataclass(frozen=True)
class Bar:
    """One M1 candle on the chart; `forming` marks the minute still being built from ticks."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    forming: bool = False


@dataclass(frozen=True)
class DashboardSnapshot:
    """Everything one dashboard frame shows."""

    now: datetime
    db_path: str
    symbol: str | None
    running: LockHolder | None = None
    data_mode: str | None = None
    connected: bool | None = None
    health_age: float | None = None
    health_run_id: int | None = None  # whose heartbeat health_age is: the running session's run, else the last run's
    last_tick_age: float | None = None
    bars: tuple[Bar, ...] = ()
    levels: dict[str, Any] | None = None
    open_setups: list[dict[str, Any]] = field(default_factory=list)
    working_orders: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    today: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    clock: views.StoreClock | None = None  # whose clock `now` is (a sim run's own, marked simulated)
    liveness: Liveness | None = None  # the lock holder's verdict, as `status` judges it


def _bars(store: Store, symbol: str, count: int) -> list[Bar]:
    rows = store.newest_bar_rows(symbol, count)
    return [Bar(datetime.fromtimestamp(ts / 1_000_000, tz=UTC), o, h, low, c) for ts, o, h, low, c in reversed(rows)]


def forming_bar(store: Store, symbol: str, after_us: int | None, latest: int | None) -> Bar | None:
    """Return the minute being built from stored ticks newer than the last candle, or None.

    `latest`: the time of the symbol's newest tick (views.NewestTick), read once per frame by the caller.
    """
    if latest is None:
        return None
    start = latest - latest % MINUTE_US
    if after_us is not None and start <= after_us:
        return None
    high, low, first, last = store.tick_prices_since(symbol, start)
    return Bar(datetime.fromtimestamp(start / 1_000_000, tz=UTC), first, high, low, last, forming=True)


def _data_mode(store: Store, health: dict[str, Any] | None) -> str | None:
    if health and isinstance(health.get("payload"), dict) and health["payload"].get("data_mode"):
        return str(health["payload"]["data_mode"])
    return store.newest_data_mode()


def feed_of(store: Store, header: SessionHeader, symbol: str | None,
            newest: views.NewestTick) -> tuple[str | None, float | None]:
    """Return the data mode and the last trade's age shown beside a header: the dashboard's and the page's.

    `newest`: the symbol's (or, without one, any symbol's) newest tick as `Store.newest_tick` read it, once
    per frame or page read.

    The age is rounded once, to a tenth of a second, as the heartbeat's (status.read_header), so both
    show the same whole seconds of it.
    """
    data_mode = "sim" if header.clock.simulated else _data_mode(store, header.health)
    age = _tick_age(store, symbol, header, newest)
    return data_mode, None if age is None else round(age, 1)


def _tick_age(store: Store, symbol: str | None, header: SessionHeader, newest: views.NewestTick) -> float | None:
    """Return the age of the last trade: the newest stored tick, else the heartbeat's, else the newest candle's end.

    Beside a running session (`beat.of_holder`) only its own run's tick or heartbeat counts: an earlier
    run's tick is no age of this session's feed (None until it has one).
    """
    now, health, health_age, beat = header.clock.now, header.health, header.health_age, header.beat
    if newest is not None and (not beat.of_holder or (beat.run_id is not None and newest[1] == beat.run_id)):
        return max((now - datetime.fromtimestamp(newest[0] / 1_000_000, tz=UTC)).total_seconds(), 0.0)
    if health and health.get("last_tick_age") is not None and health_age is not None:
        return float(health["last_tick_age"]) + health_age
    if beat.of_holder:
        return None
    # Neither ticks nor heartbeats (e.g. candles imported or built elsewhere): the newest candle's end.
    candle_us = store.newest_candle_us(symbol)
    if candle_us is None:
        return None
    return max((now - datetime.fromtimestamp((candle_us + MINUTE_US) / 1_000_000, tz=UTC)).total_seconds(), 0.0)


def read_snapshot(
    store: Store, db_path: str | os.PathLike[str], now: datetime, symbol: str | None = None,
    bar_count: int = 40, event_count: int = 8,
) -> DashboardSnapshot:
    """Read one frame's data from the store (read-only) as of `now` (a sim run's own clock when it is newest)."""
    header = read_header(store, db_path, now)
    clock, running, health = header.clock, header.running, header.health
    now = clock.now
    if symbol is None:
        symbol = store.newest_candle_symbol()
    newest = views.newest_tick(store, clock, symbol)  # once a frame (a sim clock's read): the forming bar's and the age's
    bars: list[Bar] = []
    if symbol is not None:
        bars = _bars(store, symbol, bar_count)
        last_us = int(bars[-1].ts.timestamp() * 1_000_000) if bars else None
        forming = forming_bar(store, symbol, last_us, None if newest is None else newest[0])
        if forming is not None:
            bars = [*bars[-(bar_count - 1):], forming] if bar_count > 1 else [forming]
    data_mode, tick_age = feed_of(store, header, symbol, newest)
    trading_date = views.trading_date_of(now)
    orders, positions = views.live_book(store, running)
    levels = views.reference_levels(store, trading_date, symbol)
    if levels is None:  # before today's levels freeze, show the last ones known
        levels = _latest_levels(store, trading_date, symbol)
    return DashboardSnapshot(
        now=now,
        db_path=os.fspath(db_path),
        symbol=symbol,
        running=running,
        data_mode=data_mode,
        connected=header.connected,
        health_age=header.health_age,
        health_run_id=header.beat.run_id if health is not None else None,
        last_tick_age=tick_age,
        bars=tuple(bars),
        levels=levels,
        open_setups=views.open_setups(store),
        working_orders=orders,
        positions=positions,
        today=views.day_pnl(store, trading_date),
        events=views.latest_events(store, event_count),
        clock=clock,
        liveness=header.liveness,
    )


def _latest_levels(store: Store, trading_date: date, symbol: str | None) -> dict[str, Any] | None:
    frozen_on = store.latest_levels_date(trading_date.isoformat(), symbol)
    if frozen_on is None:
        return None
    levels = views.reference_levels(store, date.fromisoformat(frozen_on), symbol)
    if levels is not None:
        levels["trading_date"] = frozen_on
    return levels
