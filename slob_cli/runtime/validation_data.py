"""Gather one run's plain validation data from a store file (read-only).

What it reads, and what the engine is expected to write for it:
- `runs` row: started_at, ended_at, exit_code, data_mode; `stats` JSON (or the live counters passed
  in) may carry `candles_received`, `candles_generated` (or the engine's `candles`),
  `candles_persisted`, `ticks_dropped` (or `dropped_ticks`, the recorder's `dropped`) and
  `data_mode`; missing ones are counted from the candles table over the run's span.
- `events` rows of the run: a disconnect (`IB_DISCONNECTED`, `DISCONNECTED`, `CONNECTIVITY_LOST`)
  opens an outage (at the payload's `at` when it has one: a hung gateway's began at its last data), a
  reconnect (`IB_RECONNECTED`, `RECONNECTED`) or `CONNECTIVITY_RESTORED` closes it;
  `SAFE_MODE_ENTERED`; gaps `GAP_DETECTED` (payload `minutes`, `start`) and `DATA_GAP` (data no
  backfill recovered: payload `start`, `end`, `minutes` or `seconds`; a feed outage that was backfilled
  whole is no gap); `TICKS_DROPPED` (payload `count`); `ORDER_PLACED` (payload `order_ref`)
  counts placements; `DATA_MODE` (payload `mode`) marks delayed data.
- `orders` of the run (run_id), their `fills`, the `trades` and `setups` of their setups,
  `setup_events` whose bar time lies in the run (the live events).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store import to_iso
from slob_cli.core.validation import FillInfo, Gap, OrderInfo, Outage, TradeInfo, ValidationInput
from slob_cli.errors import InputError
from slob_cli.runtime.views import on_sim_clock, parse_time, trading_date_of

if TYPE_CHECKING:
    from slob_cli.core.sessions import TradingCalendar
    from slob_cli.core.strategy.config import StrategyConfig

DISCONNECT_TYPES = ("IB_DISCONNECTED", "DISCONNECTED", "CONNECTIVITY_LOST")  # 1100: IB lost, no orders
RECONNECT_TYPES = ("IB_RECONNECTED", "RECONNECTED")
RESTORED_TYPES = ("CONNECTIVITY_RESTORED",)  # 1101/1102: ends an outage, no reconnect (as the run's stats count)
SAFE_MODE_TYPES = ("SAFE_MODE_ENTERED",)
GAP_TYPES = ("GAP_DETECTED", "DATA_GAP")
DROP_TYPES = ("TICKS_DROPPED",)
PLACED_TYPES = ("ORDER_PLACED",)
DATA_MODE_TYPES = ("DATA_MODE",)

EventKey = tuple[str | None, str, str, str]


def event_key(setup_id: str | None, event_type: str, bar_time: str, payload: dict[str, Any] | str | None) -> EventKey:
    """Return a comparable form of one tracker event (payload as canonical JSON)."""
    if isinstance(payload, str):
        payload = json.loads(payload) if payload else {}
    return (setup_id, event_type, bar_time, json.dumps(payload or {}, sort_keys=True, separators=(",", ":")))


def _payload(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


CONNECTED_TYPES = ("IB_CONNECTED",)
CONNECT_FAILED_TYPES = ("IB_CONNECT_FAILED",)


def _connection(events: list[tuple[str, str, dict[str, Any], str | None]],
                started: datetime | None = None) -> tuple[list[Outage], int, int]:
    """Return the outages, reconnects and safe-mode entries; time before the first connection is an outage."""
    outages: list[Outage] = []
    down_since: datetime | None = None
    reconnects = safe_modes = 0
    connected_once = False
    for ts, kind, payload, _ in events:
        moment = parse_time(ts)
        if moment is None:
            continue
        if kind in CONNECT_FAILED_TYPES and not connected_once and down_since is None:
            down_since = started or moment  # not connected since the session started
        elif kind in CONNECTED_TYPES:
            connected_once = True
            if down_since is not None:
                outages.append(Outage(down_since, moment))
                down_since = None
        elif kind in DISCONNECT_TYPES and down_since is None:
            connected_once = True
            down_since = parse_time(payload.get("at")) or moment  # a hung gateway's: its last data, not the drop
        elif kind in RECONNECT_TYPES or kind in RESTORED_TYPES:
            reconnects += kind in RECONNECT_TYPES
            if down_since is not None:
                outages.append(Outage(down_since, moment))
                down_since = None
        elif kind in SAFE_MODE_TYPES:
            safe_modes += 1
    if down_since is not None:
        outages.append(Outage(down_since, None))
    return outages, reconnects, safe_modes


def gather(
    store: Any,
    run_id: int,
    target_seconds: float,
    now: datetime,
    offline_events: list[EventKey] | None = None,
    crashed: bool | None = None,
    monitor_only: bool = False,
    stats: dict[str, Any] | None = None,
    replay_config: StrategyConfig | None = None,
) -> ValidationInput:
    """Read one run's validation data from the store; `now` ends a run that has not ended yet.

    `stats` (the engine's live counters) override the run row's, for a run judged before it ends.
    `replay_config`: the config `offline_events` replayed with; a day whose stored events another
    config computed is then named, and the look-ahead check not judged on events that are not the run's.
    """
    row = store.run_record(run_id)
    if row is None:
        raise InputError(f"run {run_id} is not in the store")
    started = parse_time(row[0]) or now
    ended = parse_time(row[1]) or now
    exit_code, data_mode = row[2], row[3]
    counters = (stats or {}, _payload(row[4]))  # live counters first, then the row's
    data_mode = _first(counters, ("data_mode",), data_mode)
    if crashed is None:
        crashed = row[1] is None or exit_code not in (0, 5)
    crash_detail = (f"run ended with exit code {exit_code}" if row[1] is not None
                    else "the run has no end record") if crashed else "the run ended cleanly"

    events = [(ts, kind, _payload(text), symbol) for ts, kind, text, symbol in store.run_events(run_id)]
    outages, reconnects, safe_modes = _connection(events, started)
    restores = sum(1 for _, kind, _, _ in events if kind in RESTORED_TYPES)
    gaps = [_gap(ts, p, symbol, started) for ts, kind, p, symbol in events if kind in GAP_TYPES]
    delayed = data_mode == "delayed" or any(
        kind in DATA_MODE_TYPES and p.get("mode") == "delayed" for _, kind, p, _ in events)

    # The engine reports the label of its first live candle: a minute that began just before the run
    # row was written (start-up takes a moment) still belongs to this run's candles.
    first_candle = parse_time(_first(counters, ("first_candle",), None))
    span = (_us(min(started, first_candle) if first_candle else started), _us(ended) + 1)
    counted = store.live_candle_counts(*span)
    persisted = int(_first(counters, ("candles_persisted",), counted[0]))
    generated = int(_first(counters, ("candles_generated", "candles"), persisted))
    received = int(_first(counters, ("candles_received",), generated))
    recorded_drops = _first(counters, ("ticks_dropped", "dropped_ticks", "dropped"), None)
    if recorded_drops is not None:
        dropped = int(recorded_drops)
    else:
        dropped = counted[1] + sum(int(p.get("count", 0)) for _, kind, p, _ in events if kind in DROP_TYPES)

    placements = Counter(p.get("order_ref") for _, kind, p, _ in events if kind in PLACED_TYPES)
    orders = [
        OrderInfo(ref, setup_id, role, status, quantity, filled, placements.get(ref, 1 if sent_at else 0))
        for ref, setup_id, role, status, quantity, filled, sent_at in store.run_orders(run_id)
    ]
    refs = [order.order_ref for order in orders]
    setup_ids = sorted({order.setup_id for order in orders if order.setup_id})
    fills = [FillInfo(ref, quantity, price) for ref, quantity, price in store.fills_of_orders(refs)]
    trades = [
        TradeInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], open=r[4] is not None and r[9] is None)
        for r in store.trades_of_setups(setup_ids)
    ]
    dates = _trading_dates(started, ended)
    by_state = dict(Counter(store.setup_states_on(dates)))
    # The run's trading days as the tracker logged them (warm-up replay included), up to the run's end:
    # exactly what an offline replay of those days' stored candles must reproduce.
    live = [event_key(setup_id, kind, bar_time, payload)
            for setup_id, kind, bar_time, payload in store.setup_event_rows_on(dates)
            if (parse_time(bar_time) or ended) <= ended]
    return ValidationInput(
        target_seconds=target_seconds, actual_seconds=(ended - started).total_seconds(), crashed=crashed,
        run_end=ended, outages=outages, reconnects=reconnects, restores=restores, safe_mode_entries=safe_modes,
        candles_received=received, candles_generated=generated, candles_persisted=persisted, gaps=gaps,
        dropped_ticks=dropped, late_ticks=int(_first(counters, ("late_ticks",), 0)), delayed_data=delayed,
        simulated_data=data_mode == "sim", sim_clock=on_sim_clock({"data_mode": data_mode, "args": row[5]}), live_events=live, offline_events=offline_events,
        events_not_the_runs=None if replay_config is None else _tracked_otherwise(store, dates, replay_config, ended),
        orders=orders, fills=fills, trades=trades, setups_by_state=by_state, monitor_only=monitor_only,
        crash_detail=crash_detail, unrealized_pairs=_unrealized_pairs(store.health_payload_texts(run_id)),
    )


def _tracked_otherwise(store: Any, dates: list[str], config: StrategyConfig, ended: datetime) -> str | None:
    """Name the run's days whose stored events another strategy config computed (`setups track --config`), or None.

    The live half of the look-ahead check is the day's stored events: recomputed under another config
    they are no longer what the run logged, and a replay with the run's config differs from them.
    """
    from slob_cli.adapters.store.setups import config_change, config_fingerprint

    fingerprint, text = config_fingerprint(config)
    other = [row for row in store.day_configs_on(dates) if row[2] != fingerprint]
    if not other:
        return None
    _, day, stored_hash, stored_json, updated = other[0]
    when = "after the run" if updated > _us(ended) else "not with the replay's config"
    days = ", ".join(f"{row[0]} {row[1]}" for row in other)
    return (f"the stored setup events of {days} were computed {when} with strategy config {stored_hash}, not the "
            f"replayed {fingerprint} (from that to this: {config_change(stored_json, text)}): they are not what the "
            f"run logged; `slob setups track --from {day} --to {day}` with the run's config restores them")


def _unrealized_pairs(payloads: list[str]) -> list[tuple[float, float]]:
    """Return (ours, the broker's) unrealized P&L of every heartbeat that has both."""
    pairs = []
    for text in payloads:
        payload = _payload(text)
        ours, broker = payload.get("unrealized_pnl"), payload.get("broker_unrealized_pnl")
        if isinstance(ours, int | float) and isinstance(broker, int | float):
            pairs.append((float(ours), float(broker)))
    return pairs


def _first(sources: tuple[dict[str, Any], ...], names: tuple[str, ...], default: Any) -> Any:
    """Return the first value present under any of `names`, searching the sources in order."""
    return next((source[name] for source in sources for name in names if source.get(name) is not None), default)


def event_keys_of(records: Any) -> list[EventKey]:
    """Return the comparable keys of stored-event records (setup_id, type, bar_time, payload_json)."""
    return [event_key(r.setup_id, r.type, to_iso(r.bar_time), r.payload_json) for r in records]


def _gap(ts: str, payload: dict[str, Any], symbol: str | None, fallback: datetime) -> Gap:
    """Read a gap's `start` and `minutes` (or `seconds`; older stores wrote `last_before`)."""
    start = parse_time(payload.get("start")) or parse_time(payload.get("last_before")) or parse_time(ts) or fallback
    minutes = payload.get("minutes")
    if minutes is None and isinstance(payload.get("seconds"), int | float):
        minutes = round(payload["seconds"] / 60)
    return Gap(symbol or str(payload.get("symbol") or "?"), start, int(minutes or 0))


def _trading_dates(start: datetime, end: datetime) -> list[str]:
    first, last = trading_date_of(start), trading_date_of(end)
    days = (last - first).days
    return [(first + timedelta(days=offset)).isoformat() for offset in range(days + 1)]


def run_span(store: Any, run_id: int, now: datetime) -> tuple[datetime, datetime]:
    """Return a run's start and end (`now` for a run that has not ended); raise InputError if unknown."""
    row = store.run_record(run_id)
    if row is None:
        raise InputError(f"run {run_id} is not in the store")
    return parse_time(row[0]) or now, parse_time(row[1]) or now


def offline_events(
    store: Any, run_id: int, config: StrategyConfig, calendar: TradingCalendar, now: datetime,
) -> list[EventKey]:
    """Replay the tracker over the stored candles of the run's trading days, up to the run's end.

    This is the offline half of the look-ahead check: its events must equal the ones the live
    tracker logged for the same days (gather's `live_events`), in the same order.
    """
    from slob_cli.core.strategy.tracker import SetupTracker
    from slob_cli.runtime.tracking import RecordingTracker, day_window, replay_day

    started, ended = run_span(store, run_id, now)
    dates = _trading_dates(started, ended)
    symbols = sorted(store.setup_event_symbols_on(dates) | store.candle_symbols_between(_us(started), _us(ended)))
    records = []
    for symbol in symbols:
        recorder = RecordingTracker(SetupTracker(symbol, config, calendar), first_seq=lambda _day: 1)
        for day in dates:
            day_start, day_end = day_window(date.fromisoformat(day))
            step = replay_day(recorder, store.candles(symbol, day_start, day_end), min(day_end, ended))
            records += [r for r in step.records if r.trading_date.isoformat() in dates and r.bar_time <= ended]
    records.sort(key=lambda r: (r.symbol, r.trading_date, r.seq))
    return event_keys_of(records)
