"""Re-running a simulated day on the same store: the earlier rehearsal of those days is replaced.

`run --sim` and `paper --sim` serve a seeded day (2026-01-06 by default) that an earlier sim run may
have stored already. A rehearsal starts from scratch, as the first one did: before it connects,
what earlier *sim* runs (and `slob demo`) stored for its trading days (ticks, candles, setups and their events,
orders, fills, trades, and the day's counters in the risk state) is removed; the `runs` table keeps
every run. A day that holds anything of a non-sim run (a run on the real gateway overlapping it,
or imported candles) is never touched: the session then replays the stored day as a live restart
does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from slob_cli.adapters.store import Store, to_us
from slob_cli.core.risk import RiskState
from slob_cli.runtime.executor import RISK_STATE_KEY
from slob_cli.runtime.tracking import day_window, trading_dates
from slob_cli.runtime.views import is_embedded_sim_run, is_sim_run, parse_time, trading_date_of

log = logging.getLogger(__name__)


def sim_run_days(start: datetime, until: datetime | None) -> list[date]:
    """Return the New York trading dates a sim run from `start` to `until` plays."""
    return list(trading_dates(trading_date_of(start), trading_date_of(until or start)))


def replayed_by_a_later_sim_run(store: Store, run_id: int) -> tuple[int, list[date]] | None:
    """Return (the later `--sim` run, the days) when a later `--sim` run played days this sim run played.

    That later run replaced what this one stored of those days (or, on a day holding non-sim data, added
    its own beside it): what the store holds of them is no longer this run's. A later run refused at its
    start (no data mode: it never connected) played nothing.
    """
    runs = {row["id"]: row for row in store.all_run_rows()}
    run = runs.get(run_id)
    if run is None or not is_sim_run(run) or (started := parse_time(run["started_at"])) is None:
        return None
    days = set(sim_run_days(started, parse_time(run["ended_at"])))
    for later_id in sorted(other for other in runs if other > run_id):
        later = runs[later_id]
        began = parse_time(later["started_at"])
        if began is None or later["data_mode"] is None or not is_embedded_sim_run(later):
            continue
        shared = sorted(days & set(sim_run_days(began, parse_time(later["ended_at"]))))
        if shared:
            return later_id, shared
    return None


def _only_sim(store: Store, day: date, run_id: int | None) -> bool:
    """Return True when nothing but sim runs (and their candles) touched this trading day."""
    start, end = day_window(day)
    for run in store.all_run_rows():
        if run["id"] == run_id:
            continue
        began, ended = parse_time(run["started_at"]), parse_time(run["ended_at"]) or parse_time(run["started_at"])
        if began is None or ended is None or ended < start or began >= end:
            continue
        if not is_sim_run(run):
            return False
    return not store.has_foreign_candles_between(to_us(start), to_us(end))


def replace_sim_days(store: Store, symbol: str, days: Iterable[date], run_id: int | None) -> list[date]:
    """Remove what earlier sim runs stored for these trading days; return the days cleared."""
    cleared = []
    for day in days:
        start, end = day_window(day)
        iso = day.isoformat()
        setups = store.setup_ids_of_day(symbol, iso)
        has_data = setups or store.has_candles_between(symbol, to_us(start), to_us(end))
        if not has_data or not _only_sim(store, day, run_id):
            continue
        store.delete_trading_day(symbol, iso, setups, to_us(start), to_us(end))
        _forget_day(store, day, start)
        cleared.append(day)
        log.info("sim re-run: replaced what earlier sim runs stored for %s %s", symbol, iso)
    return cleared


def _forget_day(store: Store, day: date, when: datetime) -> None:
    """Let the risk state start the day afresh (no trades counted, no position of an ended sim open)."""
    stored = store.get_state(RISK_STATE_KEY)
    if not stored:
        return
    state = RiskState.from_dict(stored)
    if state.trading_date == day:
        peak = state.start_of_day_equity if state.peak_equity > state.start_of_day_equity else state.peak_equity
        state = replace(state, trading_date=None, equity=state.start_of_day_equity, peak_equity=peak)
    state = replace(state, open_positions=0)
    store.put_state(RISK_STATE_KEY, state.to_dict(), when)
