"""Read models behind `slob web`: the header, a day's chart, setups, trades, reports, a change marker.

Like `views.py`, every function reads a (read-only) store through its named queries and returns
plain JSON-ready data. The status itself is not here: `/api/status` is `runtime.status.collect_status`,
the same function `slob status --json` prints.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.core.pnl import money_text, won
from slob_cli.core.sessions import NEW_YORK
from slob_cli.runtime import views

# The terminal dashboard's own reading of data mode and tick age, so both dashboards agree.
from slob_cli.runtime.dashboard import feed_of
from slob_cli.runtime.status import age_texts, read_header, running_text

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store

UTC = timezone.utc


def default_symbol(store: Store) -> str | None:
    """Return the symbol whose candles are newest, or None on a store without candles."""
    return store.newest_candle_symbol()


def header(store: Store, db_path: str | os.PathLike[str], now: datetime, symbol: str | None) -> dict[str, Any]:
    """Return the page header: lock holder, connection, data mode, ages, run id and whose clock it is.

    Read as `slob dashboard` reads its header (same clock, data mode and tick age), with cheap
    queries only, since the page asks for it whenever ticks arrive.
    """
    symbol = symbol or default_symbol(store)
    shown = read_header(store, db_path, now)
    running, beat = shown.running, shown.beat
    data_mode, tick_age = feed_of(store, shown, symbol, views.newest_tick(store, shown.clock, symbol))
    run = store.newest_run_command()
    own = beat.of_holder and beat.run_id is not None
    return {
        "running": None if running is None else running_text(running, shown.clock.simulated),
        "running_pid": None if running is None else running.pid,
        "connected": shown.connected,
        "data_mode": data_mode,
        "last_tick_age_seconds": tick_age,
        "heartbeat_age_seconds": shown.health_age,
        "ages": age_texts(shown, tick_age),  # each age as status and dashboard word it; the page shows these
        "heartbeat_of": beat.to_dict(),
        "liveness": shown.liveness.to_dict(),
        "stale_text": shown.liveness.stale_text(running),  # the verdict as status's Alive line and the dashboard say it
        # The running session's run (its own heartbeat's), else the newest run.
        "run_id": beat.run_id if own else (run[0] if run else None),
        "run_command": running.command if own and running is not None else (run[1] if run else None),
        "clock": shown.clock.to_dict(),
        "symbol": symbol,
    }


class RawJSON(str):
    """JSON text already rendered (by SQLite); the web layer writes it into a response as it is."""

    def decoded(self) -> Any:
        """Return the value it encodes."""
        return json.loads(self)


def day_bounds(day: date) -> tuple[int, int]:
    """Return [start, end) in epoch microseconds of a New York calendar date (the trading date)."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=NEW_YORK).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=NEW_YORK).astimezone(UTC)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000


def chart_day(store: Store, symbol: str | None, day: date | None, since_us: int | None = None) -> dict[str, Any]:
    """Return a day's M1 candles of a symbol (default: the newest day) with its levels, setups and fills.

    Times are epoch seconds (UTC); `since_us` returns only candles labelled at or after it (the page
    asks for the last one again, so a candle rewritten by an upsert is redrawn).
    """
    symbol = symbol or default_symbol(store)
    if symbol is None:
        return {"symbol": None, "trading_date": None, "candles": [], "levels": None, "setups": [], "fills": []}
    if day is None:
        newest = store.newest_candle_us(symbol)
        day = views.trading_date_of(datetime.fromtimestamp(newest / 1_000_000, tz=UTC)) if newest else None
    if day is None:
        return {"symbol": symbol, "trading_date": None, "candles": [], "levels": None, "setups": [], "fills": []}
    start, end = day_bounds(day)
    low = max(start, since_us) if since_us is not None else start
    candles = RawJSON(store.chart_candles_json(symbol, low, end))
    return {
        "symbol": symbol,
        "trading_date": day.isoformat(),
        "candle_fields": ["time", "open", "high", "low", "close", "volume"],
        "candles": candles,
        "levels": views.reference_levels(store, day, symbol),
        "setups": day_setups(store, symbol, day),
        "fills": day_fills(store, symbol, start, end),
    }


def day_setups(store: Store, symbol: str, day: date) -> list[dict[str, Any]]:
    """Return the setups of one trading date and symbol, in id order."""
    return store.setup_rows_of_day(symbol, day.isoformat())


def day_fills(store: Store, symbol: str, start_us: int, end_us: int) -> list[dict[str, Any]]:
    """Return the fills of a symbol in [start, end), with their order's role, in time order."""
    rows = store.fill_rows_between(symbol, start_us, end_us)
    for row in rows:
        moment = views.parse_time(row["ts"])
        row["time"] = int(moment.timestamp()) if moment else None
        row["text"] = views.fill_text(row["side"], row["quantity"], row["price"])  # as the dashboard's events
    return rows


def setups_overview(store: Store) -> dict[str, Any]:
    """Return setups counted by state (lower case) and the open ones."""
    counts = store.setup_counts_by_state()
    return {"by_state": counts, "total": sum(counts.values()), "open": views.open_setups(store)}


def trades_history(store: Store, limit: int = 100) -> dict[str, Any]:
    """Return the newest `limit` trades (in entry order) and the equity curve of every closed one (net, cumulative)."""
    trades = store.trade_history_rows()
    closed = sorted((t for t in trades if t["exit_time"]), key=lambda t: (t["exit_time"], t["setup_id"]))
    equity: list[list[Any]] = []
    total = 0.0
    for trade in closed:
        moment = views.parse_time(trade["exit_time"])
        if moment is None:
            continue
        total = round(total + (trade["pnl_money"] or 0.0), 2)
        equity.append([int(moment.timestamp()), total])
    wins = sum(1 for t in closed if won(t["pnl_money"]))
    shown = trades[-limit:] if limit > 0 else []
    for trade in shown:  # the page shows these texts: money, prices and points as every screen writes them
        trade["pnl_money_text"] = money_text(trade["pnl_money"])
        views.with_texts(trade, ("entry_price", "exit_price"), ("pnl_points",))
    return {
        "trades": shown,
        "total": len(trades),
        "equity": equity,
        "closed": len(closed),
        "wins": wins,
        "pnl_money": total,
        "pnl_money_text": money_text(total),
    }


def report_files(db_path: Path) -> list[dict[str, Any]]:
    """Return the stored paper validation reports beside the db (`<stem>-paper-run<N>.json`), newest run first."""
    found = []
    for path in db_path.parent.glob(f"{db_path.stem}-paper-run*.json"):
        suffix = path.stem.removeprefix(f"{db_path.stem}-paper-run")
        if not suffix.isdigit():
            continue
        summary: dict[str, Any] = {"run": int(suffix), "file": path.name}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            summary.update(passed=data.get("passed"), verdict=data.get("verdict"),
                           judged_at=(data.get("meta") or {}).get("judged_at"))
        except (OSError, ValueError, AttributeError):
            summary.update(passed=None, verdict="unreadable", judged_at=None)
        found.append(summary)
    return sorted(found, key=lambda item: item["run"], reverse=True)


def report_file(db_path: Path, run: int) -> dict[str, Any] | None:
    """Return one stored report (its JSON), or None when there is none for that run."""
    path = db_path.with_name(f"{db_path.stem}-paper-run{run}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def change_marker(store: Store) -> dict[str, Any]:
    """Return a cheap fingerprint per topic; a topic changed when its fingerprint did."""
    known = store.symbols_in("candles")
    return {
        "candles": [[symbol, store.newest_candle_us(symbol)] for symbol in known],
        "ticks": [views.latest_tick_time(store, symbol) for symbol in known],
        **store.table_fingerprints(),
    }
