"""`slob backtest`: stream stored candles through the backtest kernel, store the named run, run sweeps.

The kernel (core/backtest.py) holds no candles: this module reads them from SQLite in batches, so a
year of M1 bars backtests in a few tens of MB.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.store.db import from_us, to_us
from slob_cli.core.backtest import FILL_MODEL_NOTE, BacktestOutcome, FillModel, run_kernel
from slob_cli.core.backtest_stats import BacktestStats, compute_stats
from slob_cli.core.models import Candle
from slob_cli.core.risk import RiskConfig
from slob_cli.core.sessions import session_for
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.errors import ConfigError, UsageError
from slob_cli.runtime.tracking import day_window, trading_dates

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store
    from slob_cli.core.sessions import TradingCalendar

OVERFITTING_CAVEAT = (
    "Caveat: the best row of a grid is chosen after seeing the data; expect it to do worse on other "
    "months (overfitting). Prefer settings that rank well across neighbouring values and periods."
)
FILL_KEYS = ("slippage_ticks", "initial_equity")


@dataclass(frozen=True)
class BacktestSettings:
    """Everything a run depends on besides the candles."""

    strategy: StrategyConfig
    risk: RiskConfig
    fill: FillModel

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able description (stored with the run)."""
        return {"strategy": {f.name: getattr(self.strategy, f.name) for f in fields(self.strategy)},
                "risk": {f.name: getattr(self.risk, f.name) for f in fields(self.risk)},
                "fill": self.fill.to_dict()}


@dataclass
class BacktestReport:
    """One backtest: what it covered, its outcome and figures."""

    symbol: str
    start: date
    end: date
    settings: BacktestSettings
    outcome: BacktestOutcome
    stats: BacktestStats
    name: str | None = None
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the `--json` document."""
        return {"name": self.name, "run_id": self.run_id, "symbol": self.symbol, "from": self.start.isoformat(),
                "to": self.end.isoformat(), "note": FILL_MODEL_NOTE, "candles": self.outcome.candles,
                "settings": self.settings.to_dict(), "stats": self.stats.to_dict(),
                "trades": [trade.to_dict() for trade in self.outcome.trades],
                "setups": dict(sorted(self.outcome.setup_states.items())),
                "skipped": dict(sorted(self.outcome.skipped.items()))}


def iter_candles(store: Store, symbol: str, start: datetime, end: datetime) -> Iterator[Candle]:
    """Yield stored candles of a symbol with label in [start, end), in time order."""
    rows = store.candle_rows_between(symbol, to_us(start), to_us(end))
    for symbol_, ts, open_, high, low, close, volume, ticks, dropped in rows:
        yield Candle(symbol_, from_us(ts), open_, high, low, close, volume, ticks, dropped)


def iter_session_candles(store: Store, symbol: str, start: date, end: date, calendar: TradingCalendar,
                         until: datetime) -> Iterator[Candle]:
    """Yield the candles the rules can read: each trading day's reference window and session, up to `until`.

    Bars outside them (overnight, weekends, holidays) change nothing: the tracker skips them and no
    position or entry is open outside a session. Reading one day at a time keeps memory flat.
    """
    for day in trading_dates(start, end):
        session = session_for(day, calendar)
        if session is None:
            continue
        upper = min(session.session_end, until)
        if session.reference_start >= upper:
            break
        yield from iter_candles(store, symbol, session.reference_start, upper)


def backtest_window(start: date, end: date, now: datetime) -> tuple[datetime, datetime]:
    """Return [New York midnight of start, New York midnight after end), the end never past now."""
    first, _ = day_window(start)
    _, last = day_window(end)
    return first, min(last, now)


def run_backtest(store: Store, symbol: str, start: date, end: date, settings: BacktestSettings,
                 calendar: TradingCalendar, now: datetime) -> BacktestReport:
    """Backtest stored candles of [start, end] (New York trading dates); nothing is written."""
    first, until = backtest_window(start, end, now)
    if until <= first:
        raise UsageError(f"--from {start} is in the future: nothing to backtest")
    if settings.fill.flatten_at_session_end:
        candles = iter_session_candles(store, symbol, start, end, calendar, until)
    else:  # a position may stay open overnight: its stop and target need every bar
        candles = iter_candles(store, symbol, first, until)
    outcome = run_kernel(symbol, candles, until, settings.strategy, settings.risk, calendar, settings.fill)
    return BacktestReport(symbol, start, end, settings, outcome, compute_stats(outcome))


def save_report(store: Store, report: BacktestReport, name: str, now: datetime) -> int:
    """Store the report as the named run (replacing a run of that name); return its id."""
    from slob_cli.adapters.store.backtests import BacktestRepository

    report.name = name
    report.run_id = BacktestRepository(store).save(
        name, report.symbol, report.start, report.end, report.outcome.candles, report.stats,
        report.outcome.trades, report.settings.to_dict(), now)
    return report.run_id


# ---------------------------------------------------------------------- settings from the command line
def parse_value(text: str) -> Any:
    """Return an int, float, bool or the stripped text of a KEY=VALUE value."""
    value = text.strip()
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _section(key: str) -> tuple[str, str]:
    """Return (section, name) of `[strategy.|risk.|fill.]name`; a bare name is looked up in that order."""
    section, dot, name = key.partition(".")
    if dot:
        if section not in ("strategy", "risk", "fill"):
            raise UsageError(f"setting {key!r}: the prefix must be strategy., risk. or fill.")
        return section, name
    if key in {f.name for f in fields(StrategyConfig)}:
        return "strategy", key
    if key in {f.name for f in fields(RiskConfig)}:
        return "risk", key
    if key in FILL_KEYS:
        return "fill", key
    raise UsageError(f"unknown setting {key!r}: not a strategy, risk or fill setting ({', '.join(FILL_KEYS)})")


def apply_overrides(settings: BacktestSettings, overrides: Mapping[str, Any]) -> BacktestSettings:
    """Return settings with `key = value` overrides applied; raise ConfigError naming a bad value."""
    tables: dict[str, dict[str, Any]] = {"strategy": {}, "risk": {}, "fill": {}}
    for key, value in overrides.items():
        section, name = _section(key)
        tables[section][name] = value
    strategy, risk, fill = settings.strategy, settings.risk, settings.fill
    if tables["strategy"]:
        current = {f.name: getattr(strategy, f.name) for f in fields(strategy)}
        strategy = StrategyConfig.from_mapping({**current, **tables["strategy"]})
    if tables["risk"]:
        current = {f.name: getattr(risk, f.name) for f in fields(risk)}
        risk = RiskConfig.from_mapping({**current, **tables["risk"]})
    if tables["fill"]:
        values = dict(tables["fill"])
        if "initial_equity" in values:
            values["initial_equity"] = float(values["initial_equity"])
        try:
            fill = replace(fill, **values)
        except TypeError as exc:
            raise ConfigError(f"fill settings: {exc}") from None
    return BacktestSettings(strategy, risk, fill)


def parse_assignments(items: Sequence[str], flag: str) -> dict[str, Any]:
    """Parse repeated `KEY=VALUE` options into a mapping."""
    result: dict[str, Any] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise UsageError(f"{flag} {item!r}: expected KEY=VALUE")
        result[key.strip()] = parse_value(value)
    return result


def parse_sweep(items: Sequence[str]) -> list[dict[str, Any]]:
    """Return the grid (one mapping of overrides per combination) of `KEY=v1,v2,...` options."""
    axes: list[tuple[str, list[Any]]] = []
    for item in items:
        key, equals, values = item.partition("=")
        choices = [parse_value(v) for v in values.split(",") if v.strip()]
        if not equals or not key.strip() or not choices:
            raise UsageError(f"--sweep {item!r}: expected KEY=V1,V2,...")
        _section(key.strip())
        axes.append((key.strip(), choices))
    return [dict(zip([key for key, _ in axes], combination, strict=True))
            for combination in itertools.product(*(values for _, values in axes))]


# ---------------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class SweepJob:
    """One grid point, picklable for a worker process."""

    db_path: str
    symbol: str
    start: date
    end: date
    base: BacktestSettings
    overrides: dict[str, Any]
    calendar: Any
    now: datetime


def sweep_one(job: SweepJob) -> dict[str, Any]:
    """Backtest one grid point (in any process: it opens the store read-only itself); return its figures."""
    from slob_cli.adapters.store import Store

    settings = apply_overrides(job.base, job.overrides)
    with Store.open(job.db_path, readonly=True) as store:
        report = run_backtest(store, job.symbol, job.start, job.end, settings, job.calendar, job.now)
    stats = report.stats
    return {"settings": job.overrides, "trades": stats.trades, "win_rate": stats.win_rate,
            "profit_factor": stats.profit_factor, "expectancy_r": stats.expectancy_r, "net_pnl": stats.net_pnl,
            "max_drawdown_pct": stats.max_drawdown_pct}


def run_sweep(db_path: str | os.PathLike[str], symbol: str, start: date, end: date, base: BacktestSettings,
              grid: list[dict[str, Any]], calendar: TradingCalendar, now: datetime, jobs: int,
              progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Backtest every grid point (in `jobs` worker processes) and return rows ranked by net P&L.

    `progress` hears 1 as each run ends (in grid order).
    """
    for overrides in grid:
        apply_overrides(base, overrides)  # a bad value fails here, once, before any process starts
    work = [SweepJob(os.fspath(db_path), symbol, start, end, base, overrides, calendar, now) for overrides in grid]
    if jobs <= 1 or len(work) == 1:
        rows = _heard(map(sweep_one, work), progress)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(work)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = _heard(pool.map(sweep_one, work), progress)
    rows.sort(key=lambda row: (-row["net_pnl"], -(row["expectancy_r"] or 0.0), str(row["settings"])))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _heard(results: Iterable[dict[str, Any]], progress: Callable[[int], None] | None) -> list[dict[str, Any]]:
    """Return the results as a list, telling progress of each as it arrives."""
    rows = []
    for row in results:
        rows.append(row)
        if progress is not None:
            progress(1)
    return rows


def default_name(symbol: str, start: date, end: date, now: datetime) -> str:
    """Return the name a run gets without --name: symbol, range and the UTC time it ran."""
    return f"{symbol}-{start:%Y%m%d}-{end:%Y%m%d}-{now:%Y%m%dT%H%M%S}"


def calendar_range(start: date, end: date) -> tuple[date, date]:
    """Return the calendar span a backtest needs (a margin each side for the tracker's look-ahead of sessions)."""
    margin = timedelta(days=14)
    return start - margin, end + margin
