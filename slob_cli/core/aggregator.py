"""Streaming M1 aggregator: ticks in, minute candles, gaps and late ticks out (pure, no clock reads).

Rules (the batch path in runtime/batch.py implements exactly the same ones):

* Per symbol, a candle covers one UTC minute `[start, start + 1 min)` and is labelled by `start`.
* Ticks are applied in arrival order: open is the first tick to arrive in the minute, close the
  last; high/low are the extremes; volume is the sequential sum of sizes.
* A tick of a later minute closes the open candle at once. The runtime also calls `on_time(now)`,
  which closes a candle once `now >= end + grace`, so a quiet market still closes on time.
* A tick for a minute before the open one (or before the last closed one) is late: counted,
  reported as `LateTick`, never applied.
* Minutes without ticks between two candles are reported as `GapDetected`; a gap of at most
  `fill_gaps_up_to` minutes is also filled with flat synthetic candles (tick_count 0, OHLC = the
  previous close, volume 0).
* `note_dropped` attributes ticks the buffer dropped to the candle of their minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slob_cli.core.models import ONE_MINUTE, UTC, Candle, Tick

NO_EVENTS: tuple[()] = ()


@dataclass(frozen=True, slots=True)
class CandleCompleted:
    """A minute closed; `candle` is final (synthetic when its tick_count is 0)."""

    candle: Candle


@dataclass(frozen=True, slots=True)
class GapDetected:
    """`minutes` whole minutes in `[start, end)` had no ticks for `symbol`."""

    symbol: str
    start: datetime
    end: datetime
    minutes: int


@dataclass(frozen=True, slots=True)
class LateTick:
    """A tick arrived for a minute that is already closed; it was not applied."""

    tick: Tick


AggregatorEvent = CandleCompleted | GapDetected | LateTick


class UnknownSymbol(KeyError):
    """A tick named a symbol the aggregator was not built for."""


class _Bar:
    """Mutable state of one symbol: the open candle (if any) and what was closed last."""

    __slots__ = (
        "symbol", "start", "end", "open", "high", "low", "close", "volume", "count", "dropped",
        "is_open", "last_minute", "last_close", "late", "completed", "synthetic", "gaps", "ticks",
    )

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        # With no open candle start == end, so the hot-path range check always fails.
        self.start: datetime = datetime.min.replace(tzinfo=UTC)
        self.end: datetime = self.start
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.count = 0
        self.dropped = 0
        self.is_open = False
        self.last_minute: datetime | None = None
        self.last_close = 0.0
        self.late = 0
        self.completed = 0
        self.synthetic = 0
        self.gaps = 0
        self.ticks = 0


class M1Aggregator:
    """Aggregate ticks of several symbols into 1-minute candles, streaming."""

    def __init__(self, symbols: Iterable[str], grace_seconds: float = 2.0, fill_gaps_up_to: int = 0) -> None:
        if grace_seconds < 0:
            raise ValueError("grace_seconds must be >= 0")
        if fill_gaps_up_to < 0:
            raise ValueError("fill_gaps_up_to must be >= 0")
        self._bars: dict[str, _Bar] = {symbol: _Bar(symbol) for symbol in symbols}
        self.grace = timedelta(seconds=grace_seconds)
        self.fill_gaps_up_to = fill_gaps_up_to
        self._pending_dropped: dict[tuple[str, datetime], int] = {}
        self._dropped_unattributed = 0

    @property
    def symbols(self) -> list[str]:
        """Return the symbols this aggregator accepts."""
        return list(self._bars)

    def on_tick(self, tick: Tick) -> tuple[AggregatorEvent, ...]:
        """Apply one validated tick; return the events it caused (usually none)."""
        try:
            bar = self._bars[tick.symbol]
        except KeyError:
            raise UnknownSymbol(f"unknown symbol {tick.symbol!r}") from None
        ts = tick.ts
        if bar.start <= ts < bar.end:
            # Hot path: the tick belongs to the open minute. Keep it free of allocations.
            price = tick.price
            if price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.close = price
            bar.volume += tick.size
            bar.count += 1
            return NO_EVENTS
        return self._on_other_minute(bar, tick)

    def _on_other_minute(self, bar: _Bar, tick: Tick) -> tuple[AggregatorEvent, ...]:
        ts = tick.ts
        if (bar.is_open and ts < bar.start) or (bar.last_minute is not None and ts < bar.last_minute + ONE_MINUTE):
            bar.late += 1
            return (LateTick(tick),)
        events: list[AggregatorEvent] = []
        if bar.is_open:
            events.append(self._close(bar))
        minute = ts.astimezone(UTC).replace(second=0, microsecond=0)
        self._report_gap(bar, minute, events)
        bar.start = minute
        bar.end = minute + ONE_MINUTE
        bar.open = bar.high = bar.low = bar.close = tick.price
        bar.volume = tick.size
        bar.count = 1
        bar.dropped = self._pending_dropped.pop((bar.symbol, minute), 0)
        bar.is_open = True
        return tuple(events)

    def _report_gap(self, bar: _Bar, minute: datetime, events: list[AggregatorEvent]) -> None:
        if bar.last_minute is None:
            return
        first_missing = bar.last_minute + ONE_MINUTE
        missing = (minute - first_missing) // ONE_MINUTE
        if missing <= 0:
            return
        bar.gaps += 1
        events.append(GapDetected(bar.symbol, first_missing, minute, missing))
        if missing > self.fill_gaps_up_to:
            return
        price = bar.last_close
        for step in range(missing):
            label = first_missing + step * ONE_MINUTE
            dropped = self._pending_dropped.pop((bar.symbol, label), 0)
            events.append(CandleCompleted(Candle(bar.symbol, label, price, price, price, price, 0.0, 0, dropped)))
            bar.synthetic += 1
            bar.completed += 1

    def _close(self, bar: _Bar) -> CandleCompleted:
        bar.ticks += bar.count
        candle = Candle(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.count,
                        bar.dropped)
        bar.is_open = False
        bar.last_minute = bar.start
        bar.last_close = bar.close
        bar.start = bar.end
        bar.completed += 1
        return CandleCompleted(candle)

    def on_time(self, now: datetime) -> list[AggregatorEvent]:
        """Close every open candle whose minute ended at least `grace` before now."""
        events: list[AggregatorEvent] = []
        for bar in self._bars.values():
            if bar.is_open and now >= bar.end + self.grace:
                events.append(self._close(bar))
        return events

    def note_dropped(self, symbol: str, ts: datetime, count: int = 1) -> None:
        """Attribute `count` ticks the buffer dropped at ts to the candle of that minute."""
        bar = self._bars.get(symbol)
        minute = ts.astimezone(UTC).replace(second=0, microsecond=0)
        if bar is None or (bar.last_minute is not None and minute <= bar.last_minute):
            # The candle is already final (or the symbol unknown): count it where it stays visible.
            self._dropped_unattributed += count
        elif bar.is_open and minute == bar.start:
            bar.dropped += count
        elif bar.is_open and minute < bar.start:
            self._dropped_unattributed += count
        else:
            key = (symbol, minute)
            self._pending_dropped[key] = self._pending_dropped.get(key, 0) + count

    def force_complete_all(self) -> list[AggregatorEvent]:
        """Close every open candle now (shutdown, end of a replay)."""
        return [self._close(bar) for bar in self._bars.values() if bar.is_open]

    def open_candle(self, symbol: str) -> Candle | None:
        """Return a snapshot of the symbol's open (unfinished) candle, or None."""
        bar = self._bars[symbol]
        if not bar.is_open:
            return None
        return Candle(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.count,
                      bar.dropped)

    def get_stats(self) -> dict[str, object]:
        """Return counters: per symbol candles, synthetic candles, gaps, late ticks; dropped ticks."""
        return {
            "ticks_applied": sum(bar.ticks + (bar.count if bar.is_open else 0) for bar in self._bars.values()),
            "late_ticks": sum(bar.late for bar in self._bars.values()),
            "candles_completed": sum(bar.completed for bar in self._bars.values()),
            "synthetic_candles": sum(bar.synthetic for bar in self._bars.values()),
            "gaps": sum(bar.gaps for bar in self._bars.values()),
            "dropped_unattributed": self._dropped_unattributed,
            "dropped_pending": sum(self._pending_dropped.values()),
            "symbols": {
                bar.symbol: {
                    "candles_completed": bar.completed, "synthetic_candles": bar.synthetic, "gaps": bar.gaps,
                    "late_ticks": bar.late, "open_minute": bar.start.isoformat() if bar.is_open else None,
                }
                for bar in self._bars.values()
            },
        }
