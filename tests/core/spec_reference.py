"""An independent, literal reading of STRATEGY.md §2-§5.3 for one day: the oracle of the differential audit.

Written from the spec, not from `core/strategy`: plain per-direction code over real bars, default
numbers hard-wired, none of the tracker's clock or persistence machinery. It answers one question —
which candidates a finished day produces and with which levels, times and prices — so that the
tracker can be compared with it over many generated days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slob_cli.core.models import Candle
from slob_cli.core.sessions import TradingSession

TOLERANCE = 1e-9
TERMINAL = ("SETUP_COMPLETE", "INVALIDATED")


def _minute(ts: datetime) -> int:
    return int(ts.timestamp() // 60)


def _is_nowick(opened: float, low: float, close: float) -> bool:
    """Return True when the body points to the break side and opening-side wick / body < 0.20 (§4.1)."""
    body = close - opened
    return body > 0 and (opened - low) / body < 0.20


def _up_to_tick(price: float) -> float:
    return math.ceil(round(price / 0.25, 9)) * 0.25


class ReferenceCandidate:
    """One candidate; prices are flipped (x -> -x) for a LONG so that one code path reads as the SHORT."""

    def __init__(self, name: str, sign: int, liq1_index: int, bars: list[Candle], levels: tuple[float, float]) -> None:
        self.name, self.sign, self.liq1_index, self.bars = name, sign, liq1_index, bars
        self.reference_high, self.reference_low = levels
        self.state, self.reason = "WATCHING_CONSOL", None
        self.first: float | None = None  # SHORT: H; LONG: -L
        self.second: float | None = None  # SHORT: L; LONG: -H
        self.first_time: datetime | None = None
        self.second_time: datetime | None = None
        self.nowick: tuple[datetime, float, float, float, float] | None = None
        self.frozen: tuple[datetime, float, float, float, float] | None = None
        self.liq2_time: datetime | None = None
        self.liq2_price: float | None = None
        self.trigger_time: datetime | None = None
        self.entry = self.stop = self.target = self.risk_reward = None

    def flip(self, bar: Candle) -> tuple[float, float, float, float]:
        if self.sign > 0:
            return bar.open, bar.high, bar.low, bar.close
        return -bar.open, -bar.low, -bar.high, -bar.close

    def depth(self, first: float, second: float) -> float:
        """(H - L) / H x 100 with the real HIGH."""
        high = first if self.sign > 0 else -second
        return (first - second) / high * 100

    def end(self, reason: str | None) -> None:
        self.state, self.reason = ("SETUP_COMPLETE", None) if reason is None else ("INVALIDATED", reason)

    def anchor(self, index: int, bar: Candle, opened: float, high: float, low: float, close: float) -> None:
        self.first, self.first_minute, self.first_index, self.first_time = high, _minute(bar.ts), index, bar.ts
        self.first_bars, self.first_ok = 0, False
        self.second, self.second_time, self.second_ok = None, None, False
        self.nowick = (bar.ts, opened, high, low, close) if _is_nowick(opened, low, close) else None

    def on_bar(self, index: int, bar: Candle, session_end: datetime) -> None:
        opened, high, low, close = self.flip(bar)
        now = _minute(bar.ts)
        if self.state == "WAITING_ENTRY":
            self.waiting(index, bar, high, close, now, session_end)
            return
        if self.first is None:
            self.anchor(index, bar, opened, high, low, close)
            return
        if high > self.first:
            in_band = self.second is not None and 0.10 - TOLERANCE <= self.depth(self.first, self.second) <= 0.30 + TOLERANCE
            valid = (in_band and self.first_ok and self.second_ok and now - self.second_minute >= 15
                     and 15 <= now - self.first_minute <= 120
                     and (self.nowick is not None or _is_nowick(opened, low, close)))
            if not valid:
                self.state = "WATCHING_CONSOL"
                self.anchor(index, bar, opened, high, low, close)
                return
            if _is_nowick(opened, low, close):
                self.nowick = (bar.ts, opened, high, low, close)
            self.frozen, self.liq2_time, self.liq2_minute = self.nowick, bar.ts, now
            self.liq2_price, self.extreme, self.state = self.sign * high, high, "WAITING_ENTRY"
            self.waiting(index, bar, high, close, now, session_end)
            return
        fresh = self.second is None or low < self.second
        if fresh:
            self.second, self.second_time = low, bar.ts
            if self.depth(self.first, low) > 0.30 + TOLERANCE:
                self.end("CONSOL_RANGE_INVALID")
                return
            self.second_minute, self.second_bars, self.second_ok = now, 0, False
            if self.state == "WATCHING_LIQ2":
                self.state = "WATCHING_CONSOL"
        if _is_nowick(opened, low, close):
            self.nowick = (bar.ts, opened, high, low, close)
        if not self.first_ok:
            self.first_bars += 1
            self.first_ok = self.first_bars >= (5 if self.sign > 0 else 3)
        if not fresh and not self.second_ok:
            self.second_bars += 1
            self.second_ok = self.second_bars >= (3 if self.sign > 0 else 5)
        if (self.state == "WATCHING_CONSOL" and self.first_ok and self.second_ok
                and self.depth(self.first, self.second) >= 0.10 - TOLERANCE):
            self.state = "WATCHING_LIQ2"
        if now - self.first_minute >= 120:
            self.end("CONSOL_TIMEOUT")

    def waiting(self, index: int, bar: Candle, high: float, close: float, now: int, session_end: datetime) -> None:
        nowick = self.frozen
        assert nowick is not None
        self.extreme = max(self.extreme, high)
        if high > nowick[2] + min(100.0, 0.01 * abs(high)):
            self.end("RETRACEMENT_EXCEEDED")
            return
        if close < nowick[3]:
            if _minute(bar.ts) + 1 < _minute(session_end):
                self.complete(index, bar, close)
            return  # no fill bar before the session end: dropped, the session end closes the candidate
        if now - self.liq2_minute >= 20:
            self.end("ENTRY_TIMEOUT")

    def complete(self, index: int, bar: Candle, entry: float) -> None:
        stop = _up_to_tick(self.extreme + 1.0)
        target = None
        low_of = (lambda j: self.bars[j].low) if self.sign > 0 else (lambda j: -self.bars[j].high)
        for k in range(self.first_index - 1, self.liq1_index - 1, -1):
            if k >= 2 and low_of(k) < entry and all(low_of(k) < low_of(j) for j in (k - 2, k - 1, k + 1, k + 2)):
                target = low_of(k) - 1.0
                break
        if target is None:
            target = (self.reference_low if self.sign > 0 else -self.reference_high) - 1.0
        target = _up_to_tick(target)
        ratio = (entry - target) / (stop - entry)
        self.trigger_time = bar.ts
        self.entry, self.stop, self.target = self.sign * entry, self.sign * stop, self.sign * target
        self.risk_reward = ratio
        self.end(None if ratio > 0 else "NEGATIVE_RISK_REWARD")

    def row(self) -> dict[str, Any]:
        """Return the comparable part of a `setups track` row."""
        first = None if self.first is None else self.sign * self.first
        second = None if self.second is None else self.sign * self.second
        if self.sign > 0:
            high, high_time, low, low_time = first, self.first_time, second, self.second_time
        else:
            high, high_time, low, low_time = second, self.second_time, first, self.first_time
        return {"name": self.name, "state": self.state, "invalidation_reason": self.reason,
                "high": high, "high_time": high_time, "low": low, "low_time": low_time,
                "nowick_time": self.frozen[0] if self.frozen else None, "liq2_time": self.liq2_time,
                "liq2_price": self.liq2_price, "trigger_time": self.trigger_time, "entry_estimate": self.entry,
                "stop": self.stop, "target": self.target, "risk_reward": self.risk_reward}


def reference_day(candles: Sequence[Candle], session: TradingSession) -> list[dict[str, Any]]:
    """Return the rows of every candidate of a finished day, in creation order (SHORT before LONG per bar)."""
    real = [bar for bar in candles if bar.tick_count > 0 and session.reference_start <= bar.ts < session.session_end]
    window = [bar for bar in real if bar.ts < session.session_start]
    if not window:
        return []
    levels = (max(bar.high for bar in window), min(bar.low for bar in window))
    bars: list[Candle] = []
    candidates: list[ReferenceCandidate] = []
    active: dict[int, ReferenceCandidate | None] = {1: None, -1: None}
    previous: Candle | None = None
    for bar in real:
        index = len(bars)
        bars.append(bar)
        freed: set[int] = set()
        if bar.ts >= session.session_start:
            live = [candidate for candidate in candidates if candidate.state not in TERMINAL]
            gap = previous is not None and (bar.low > previous.high or bar.high < previous.low)
            for candidate in live:
                if gap:
                    candidate.end("GAP_DETECTED")
                else:
                    candidate.on_bar(index, bar, session.session_end)
                if candidate.state in TERMINAL:
                    active[candidate.sign], _ = None, freed.add(candidate.sign)
            for sign, broken in ((1, bar.high > levels[0]), (-1, bar.low < levels[1])):
                if broken and active[sign] is None and sign not in freed:
                    count = sum(1 for candidate in candidates if candidate.sign == sign) + 1
                    candidate = ReferenceCandidate(f"{'S' if sign > 0 else 'L'}{count}", sign, index, bars, levels)
                    candidates.append(candidate)
                    active[sign] = candidate
        previous = bar
    for candidate in candidates:
        if candidate.state not in TERMINAL:
            candidate.end("MARKET_CLOSED")
    return [candidate.row() for candidate in candidates]
