"""Stores for the web dashboard: one seeded trading day with known numbers, and a year-sized store.

Both write real rows through the store's own methods and the operations-test row builders, so the
dashboard reads what a session would have written. `bench/web.py` uses `build_year`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from slob_cli.adapters.store import Store, to_iso, to_us
from slob_cli.core.models import Candle
from slob_cli.core.validation import Criterion, Report, Severity
from slob_cli.runtime.validation_report import default_report_base, write_report
from tests.opsdata import add_health, add_order, add_setup, add_setup_event, add_trade, insert

UTC = timezone.utc
FIRST_CANDLE_HOUR = 14  # UTC; 09:00 in New York in winter, so the NY date is the UTC date


@dataclass(frozen=True)
class SeededDay:
    """What `seed_day` wrote, for assertions."""

    day: date
    first_candle: datetime
    candles: int
    last_close: float
    open_setup: str
    position_setup: str
    closed_setup: str
    today_pnl: float
    today_commission: float
    all_time_pnl: float
    trades: int
    fills: int
    report_run: int


def day_id(day: date, suffix: str) -> str:
    """Return a setup id in the tracker's shape, e.g. NQ-20260106-S1."""
    return f"NQ-{day:%Y%m%d}-{suffix}"


def seed_day(store: Store, now: datetime, candles: int = 90) -> SeededDay:
    """Write the trading day of `now`: candles, LSE levels, four setups, a bracket, fills, trades, a report."""
    from slob_cli.runtime.views import trading_date_of

    day = trading_date_of(now)
    first = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=FIRST_CANDLE_HOUR)
    rng = random.Random(17)
    price, bars = 25_450.0, []
    for minute in range(candles):
        step = round(rng.uniform(-4, 4) * 4) / 4
        close = price + step
        bars.append(Candle("NQ", first + timedelta(minutes=minute), price, max(price, close) + 1.25,
                           min(price, close) - 1.0, close, 40.0, 40))
        price = close
    store.upsert_candles(bars)
    run_id = store.start_run("paper", {"duration": "24"}, now - timedelta(hours=3))
    store.end_run(run_id, 0, now - timedelta(minutes=1), data_mode="live")
    add_setup_event(store, 1, "LSE_LEVELS_FROZEN", to_iso(first), {"high": 25_480.0, "low": 25_410.0},
                    trading_date=day.isoformat())
    open_setup, position_setup, closed_setup = day_id(day, "S1"), day_id(day, "S2"), day_id(day, "L1")
    at = first + timedelta(minutes=20)
    add_setup(store, open_setup, "WATCHING_LIQ2", trading_date=day.isoformat(), high=25_491.0, low=25_440.0,
              liq1_time=to_iso(at), liq1_price=25_482.25)
    add_setup(store, position_setup, "SETUP_COMPLETE", trading_date=day.isoformat(), high=25_470.0, low=25_445.0,
              entry_estimate=25_450.0, stop=25_470.0, target=25_405.0)
    add_setup(store, closed_setup, "SETUP_COMPLETE", trading_date=day.isoformat(), direction="LONG",
              entry_estimate=25_400.0, stop=25_390.0, target=25_420.0)
    add_setup(store, day_id(day, "S3"), "INVALIDATED", trading_date=day.isoformat())
    add_order(store, f"slob:{position_setup}:entry", "entry", "Filled", position_setup, filled=1.0)
    add_order(store, f"slob:{position_setup}:stop", "stop", "Submitted", position_setup, action="BUY",
              order_type="STP", stop_price=25_470.25)
    add_order(store, f"slob:{position_setup}:target", "target", "PreSubmitted", position_setup, action="BUY",
              order_type="LMT", limit_price=25_405.0)
    entry_at = first + timedelta(minutes=40, seconds=12)
    insert(store, "fills", exec_id="e-s2-entry", order_ref=f"slob:{position_setup}:entry", symbol="NQ", side="SLD",
           quantity=1.0, price=25_449.5, ts=to_iso(entry_at), commission=2.25)
    add_trade(store, position_setup, entry_time=to_iso(entry_at), entry_price=25_449.5, entry_estimate=25_450.0)
    long_in, long_out = first + timedelta(minutes=10), first + timedelta(minutes=30)
    for exec_id, side, when, fill_price in (("e-l1-in", "BOT", long_in, 25_400.0), ("e-l1-out", "SLD", long_out, 25_420.0)):
        insert(store, "fills", exec_id=exec_id, order_ref=f"slob:{closed_setup}:{'entry' if side == 'BOT' else 'target'}",
               symbol="NQ", side=side, quantity=1.0, price=fill_price, ts=to_iso(when), commission=2.25)
    add_trade(store, closed_setup, direction="LONG", entry_time=to_iso(long_in), entry_price=25_400.0,
              exit_time=to_iso(long_out), exit_price=25_420.0, exit_reason="target", pnl_points=20.0,
              pnl_money=395.5, commission=4.5, status="closed")
    history = [(3, 200.0), (2, -150.0)]
    for days_ago, pnl in history:
        old = day - timedelta(days=days_ago)
        setup = day_id(old, "S1")
        add_setup(store, setup, "SETUP_COMPLETE", trading_date=old.isoformat())
        entered = datetime.combine(old, datetime.min.time(), tzinfo=UTC).replace(hour=15)
        add_trade(store, setup, entry_time=to_iso(entered), entry_price=25_000.0,
                  exit_time=to_iso(entered + timedelta(minutes=25)), exit_price=25_000.0 - pnl / 20,
                  exit_reason="stop" if pnl < 0 else "target", pnl_points=pnl / 20, pnl_money=pnl,
                  commission=4.5, status="closed")
    add_health(store, to_iso(now - timedelta(seconds=5)), run_id=run_id)
    report = Report((Criterion("uptime", True, "100% connected"),
                     Criterion("data", False, "delayed data for 3 min", Severity.WARNING)), {"candles": candles})
    write_report(report, default_report_base(Path(store.path), run_id), meta={"run": run_id})
    return SeededDay(
        day=day, first_candle=first, candles=candles, last_close=bars[-1].close, open_setup=open_setup,
        position_setup=position_setup, closed_setup=closed_setup, today_pnl=395.5, today_commission=4.5,
        all_time_pnl=round(395.5 + sum(pnl for _, pnl in history), 2), trades=2 + len(history), fills=3,
        report_run=run_id,
    )


def build_year(store: Store, days: int = 252, setups: int = 5_000, trades: int = 500, seed: int = 7,
               end: datetime | None = None) -> dict[str, int]:
    """Write a year of M1 candles (about 1,400 a weekday), setups, bracket orders, fills and trades."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    weekdays: list[date] = []
    cursor = end.date()
    while len(weekdays) < days:
        if cursor.weekday() < 5:
            weekdays.append(cursor)
        cursor -= timedelta(days=1)
    weekdays.reverse()
    price, candle_count = 20_000.0, 0
    minute_us = 60_000_000
    with store.transaction() as conn:
        for day in weekdays:
            start = to_us(datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=7))
            rows = []
            for minute in range(1_400):
                close = price + round(rng.gauss(0, 3) * 4) / 4  # prices stay on NQ's 0.25 grid
                rows.append(("NQ", start + minute * minute_us, price, max(price, close) + 1, min(price, close) - 1,
                             close, 30.0, 30, 0, "live", None))
                price = close
            conn.executemany(
                "INSERT INTO candles(symbol, ts, open, high, low, close, volume, tick_count, dropped_ticks, source,"
                " local_symbol) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
            candle_count += len(rows)
        per_day = max(1, setups // len(weekdays) + 1)
        setup_ids: list[tuple[str, date]] = []
        for number in range(setups):
            day = weekdays[min(number // per_day, len(weekdays) - 1)]
            setup_id = f"NQ-{day:%Y%m%d}-S{number % per_day + 1}-{number}"
            state = rng.choice(["SETUP_COMPLETE", "INVALIDATED", "INVALIDATED", "SETUP_SKIPPED"])
            conn.execute(
                "INSERT INTO setups(id, symbol, trading_date, direction, state, high, low, entry_estimate, stop,"
                " target, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (setup_id, "NQ", day.isoformat(), rng.choice(["LONG", "SHORT"]), state, 20_010.0, 19_990.0,
                 20_000.0, 20_012.0, 19_970.0, to_us(end)),
            )
            setup_ids.append((setup_id, day))
        chosen = rng.sample(setup_ids, trades)
        for index, (setup_id, day) in enumerate(sorted(chosen, key=lambda item: item[1])):
            entered = datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=15) + timedelta(minutes=index % 60)
            exited = entered + timedelta(minutes=20)
            pnl = round(rng.uniform(-300, 500), 2)
            for role, when, side in (("entry", entered, "SLD"), ("target", exited, "BOT")):
                conn.execute(
                    "INSERT INTO orders(order_ref, setup_id, role, symbol, action, order_type, quantity, status,"
                    " filled, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (f"slob:{setup_id}:{role}", setup_id, role, "NQ", "SELL" if side == "SLD" else "BUY", "MKT",
                     1.0, "Filled", 1.0, to_us(entered)))
                conn.execute(
                    "INSERT INTO fills(exec_id, order_ref, symbol, side, quantity, price, ts, commission)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (f"e-{setup_id}-{role}", f"slob:{setup_id}:{role}", "NQ", side, 1.0, 20_000.0, to_us(when), 2.25))
            conn.execute(
                "INSERT INTO trades(setup_id, symbol, direction, quantity, entry_time, entry_price, exit_time,"
                " exit_price, exit_reason, pnl_points, pnl_money, commission, status)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (setup_id, "NQ", "SHORT", 1.0, to_us(entered), 20_000.0, to_us(exited), 20_000.0 - pnl / 20,
                 "target", round(pnl / 20, 2), pnl, 4.5, "closed"))
    run_id = store.start_run("paper", {"duration": "24"}, end - timedelta(hours=2))
    add_health(store, to_iso(end - timedelta(seconds=3)), run_id=run_id)
    return {"candles": candle_count, "setups": setups, "trades": trades, "days": len(weekdays)}
