"""One setup candidate: the per-bar rules of STRATEGY.md §3-§5.3 for a single direction.

The rules are written once, for a SHORT. A LONG runs the very same code on *oriented* prices:
every price is multiplied by `sign` (-1 for a LONG), so a bar's oriented high is `-low`, its
oriented open `-open`, and "above" always means "in the direction of the first level". The
anchor is the first level (SHORT: the internal HIGH, LONG: the internal LOW) and `second` the
level after it (SHORT: LOW, LONG: HIGH), which is exactly the mirror table of §3.6.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from slob_cli.core.models import Bar, Direction
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import EventType, SetupEvent, new_event
from slob_cli.core.strategy.states import (
    TERMINAL_STATES,
    InvalidationReason,
    ResetReason,
    SetupState,
    check_transition,
)
from slob_cli.core.timefmt import iso_z

_ONE_MINUTE = timedelta(minutes=1)

EPSILON = 1e-9  # tolerance for inclusive band bounds computed in floating point
NO_LIMIT = 2**62  # `Candidate.limit_minute` when no timer runs: later than any minute number

# The per-bar rules read these states as module globals: on Python 3.11 the enum metaclass has a
# __getattr__, which makes every `SetupState.X` read cost about 0.1 µs.
_WATCHING_CONSOL, _WAITING_ENTRY = SetupState.WATCHING_CONSOL, SetupState.WAITING_ENTRY


@dataclass(frozen=True, slots=True)
class DayContext:
    """What a candidate needs to know about its trading day (all prices real, not oriented)."""

    symbol: str
    trading_date: date
    session_end: datetime
    reference_high: float
    reference_low: float
    config: StrategyConfig
    bars: list[Bar]  # the day's real bars so far, appended by the tracker; bars[0] is bar number `offset`
    offset: int = 0  # real bars before bars[0] (a replay from a reference summary keeps only the last few)


class Oriented(Protocol):
    """One bar's prices seen in the candidate's direction: a SHORT's bar itself, a LONG's an OrientedBar."""

    @property
    def ts(self) -> datetime: ...
    @property
    def open(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def close(self) -> float: ...


class OrientedBar(NamedTuple):
    """One bar's prices seen by a LONG: negated, so high and low swap."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float

    @classmethod
    def of(cls, candle: Bar, sign: float) -> Oriented:
        """Return the candle oriented by sign: the candle itself for a SHORT (1), an OrientedBar for a LONG (-1).

        A SHORT's prices need no change, and the rules only read them: no copy per bar.
        """
        if sign > 0:
            return candle
        return cls(candle.ts, -candle.open, -candle.low, -candle.high, -candle.close)


def _ceil_tick(price: float, tick: float) -> float:
    """Round an oriented price up to the tick grid (away from entry for a stop, toward it for a target)."""
    steps = price / tick
    nearest = round(steps)
    if abs(steps - nearest) < 1e-9:
        return nearest * tick
    return math.ceil(steps) * tick


class Candidate:
    """The state of one candidate; `on_bar` applies one final bar in the §5.3 order."""

    __slots__ = (
        "id", "direction", "sign", "day", "config", "state", "reason",
        "liq1_time", "liq1_price", "liq1_index",
        "anchor", "anchor_time", "anchor_minute", "anchor_index", "anchor_count", "anchor_confirmed",
        "second", "second_time", "second_minute", "second_count", "second_confirmed",
        "no_wick_candle", "liq2_time", "liq2_minute", "liq2_bar", "liq2_price", "frozen_no_wick_candle", "extreme",
        "trigger_time", "entry", "stop", "target", "risk_reward", "anchor_event", "second_event", "last_bar_time",
        "limit_minute",
    )

    def __init__(self, candidate_id: str, direction: Direction, day: DayContext, index: int, candle: Bar) -> None:
        self.id = candidate_id
        self.last_bar_time: datetime | None = None  # the newest bar the rules saw (a limit bar decides itself)
        self.direction = direction
        self.sign = 1.0 if direction is Direction.SHORT else -1.0
        self.day = day
        self.config = day.config
        self.state = check_transition(SetupState.WATCHING_LIQ1, SetupState.WATCHING_CONSOL)
        self.reason: InvalidationReason | None = None
        self.liq1_time = candle.ts
        self.liq1_price = candle.high if direction is Direction.SHORT else candle.low
        self.liq1_index = index
        short = direction is Direction.SHORT
        self.anchor_event = (EventType.HIGH_SET, EventType.HIGH_CONFIRMED) if short else (EventType.LOW_SET, EventType.LOW_CONFIRMED)
        self.second_event = (EventType.LOW_SET, EventType.LOW_CONFIRMED) if short else (EventType.HIGH_SET, EventType.HIGH_CONFIRMED)
        self.anchor: float | None = None
        self.anchor_time: datetime | None = None
        self.anchor_minute = 0
        self.anchor_index = 0
        self.anchor_count = 0
        self.anchor_confirmed = False
        self.second: float | None = None
        self.second_time: datetime | None = None
        self.second_minute = 0
        self.second_count = 0
        self.second_confirmed = False
        self.no_wick_candle: Oriented | None = None  # the latest qualifying no-wick bar
        self.liq2_time: datetime | None = None
        self.liq2_minute = 0
        self.liq2_bar: Oriented | None = None
        self.liq2_price: float | None = None
        self.frozen_no_wick_candle: Oriented | None = None  # the one in force once LIQ #2 happened
        self.extreme = 0.0
        self.trigger_time: datetime | None = None
        self.entry: float | None = None
        self.stop: float | None = None
        self.target: float | None = None
        self.risk_reward: float | None = None
        # The minute number (whole minutes since the epoch, as `minute` in on_bar) of deadline()'s
        # label, NO_LIMIT when no timer runs: the tracker compares it with each bar's minute and
        # asks expire() only once a limit minute is over. Set wherever a timer input changes
        # (the state, anchor_time, liq2_time).
        self.limit_minute = NO_LIMIT

    # -- helpers -------------------------------------------------------------------------------

    def emit(self, kind: EventType, ts: datetime, data: dict[str, Any], out: list[SetupEvent]) -> None:
        """Append an event of this candidate to out."""
        out.append(new_event(kind, self.day.symbol, self.day.trading_date, ts, self.id, self.direction, data))

    def _move(self, target: SetupState) -> None:
        self.state = check_transition(self.state, target)
        if target in TERMINAL_STATES:
            self.limit_minute = NO_LIMIT

    def real(self, oriented: float) -> float:
        """Return the real price of an oriented price."""
        return self.sign * oriented

    def depth_pct(self, anchor: float, second: float) -> float:
        """Return (H - L) / H * 100 with H the real HIGH of the structure (creator's formula)."""
        real_high = anchor if self.sign > 0 else -second
        return (anchor - second) / real_high * 100.0

    def _is_no_wick(self, bar: Oriented) -> bool:
        """Return True for a no-wick candle: body toward the break side, opening-side wick < ratio x body."""
        body = bar.close - bar.open
        if body <= 0:
            return False
        config = self.config
        if (bar.open - bar.low) >= config.nowick_max_wick_ratio * body:
            return False
        if config.nowick_size_filter:
            range_pct = (bar.high - bar.low) / abs(bar.close) * 100.0
            if not config.nowick_min_range_pct - EPSILON <= range_pct <= config.nowick_max_range_pct + EPSILON:
                return False
        return True

    def invalidate(self, reason: InvalidationReason, ts: datetime, data: dict[str, Any], out: list[SetupEvent]) -> None:
        """Move to INVALIDATED with a reason and emit SETUP_INVALIDATED."""
        self._move(SetupState.INVALIDATED)
        self.reason = reason
        self.emit(EventType.SETUP_INVALIDATED, ts, {"reason": reason.value, **data}, out)

    # -- timers on the clock (§4.7) -----------------------------------------------------------

    def deadline(self) -> tuple[datetime, InvalidationReason, int] | None:
        """Return the limit minute's label, the reason and the limit in minutes of the running timer.

        `limit_minute` caches that label's minute number: a new timer input must set both alike
        (tests/core/test_tracker_timer_skip.py holds them equal after every bar).
        """
        config = self.config
        if self.state is SetupState.WAITING_ENTRY and self.liq2_time is not None:
            limit = config.entry_timeout_bars
            return self.liq2_time + timedelta(minutes=limit), InvalidationReason.ENTRY_TIMEOUT, limit
        if self.state in (SetupState.WATCHING_CONSOL, SetupState.WATCHING_LIQ2) and self.anchor_time is not None:
            limit = config.max_duration_min
            return self.anchor_time + timedelta(minutes=limit), InvalidationReason.CONSOL_TIMEOUT, limit
        return None

    def expire(self, now: datetime, out: list[SetupEvent]) -> bool:
        """Time out at the limit minute once that minute is over by `now` (no bar needed); return True if so.

        A bar exactly at the limit is processed by the per-bar rules first (it may trigger); a bar
        after a hole past the limit, or the clock, finds the candidate already timed out, with the
        limit minute as the event time and the same payload as a bar at the limit would give.
        """
        deadline = self.deadline()
        if deadline is None or deadline[0] + _ONE_MINUTE > now:
            return False
        if self.last_bar_time is not None and self.last_bar_time >= deadline[0]:
            return False  # the bar at the limit was processed: its rules decided (trigger or timeout)
        label, reason, limit = deadline
        self.invalidate(reason, label, {"minutes": limit}, out)
        return True

    # -- the per-bar rules ---------------------------------------------------------------------

    def on_bar(self, index: int, minute: int, candle: Bar, out: list[SetupEvent]) -> None:
        """Apply one final bar after the session gate and the gap rule (§5.3 step 3)."""
        self.last_bar_time = candle.ts
        bar = OrientedBar.of(candle, self.sign)
        if self.state is _WAITING_ENTRY:
            self._waiting(minute, candle, bar, False, out)
        else:
            self._consolidating(index, minute, candle, bar, out)

    def _set_anchor(self, index: int, minute: int, bar: Oriented, out: list[SetupEvent]) -> None:
        self.anchor, self.anchor_time, self.anchor_minute, self.anchor_index = bar.high, bar.ts, minute, index
        self.limit_minute = minute + self.config.max_duration_min  # a (re-)anchored structure's time limit
        self.anchor_count, self.anchor_confirmed = 0, False
        self.second, self.second_time, self.second_count, self.second_confirmed = None, None, 0, False
        self.no_wick_candle = bar if self._is_no_wick(bar) else None
        self.emit(self.anchor_event[0], bar.ts, {"price": self.real(bar.high)}, out)

    def _consolidating(self, index: int, minute: int, candle: Bar, bar: Oriented,
                       out: list[SetupEvent]) -> None:
        anchor = self.anchor
        if anchor is None:  # first bar after LIQ #1 anchors the structure
            self._set_anchor(index, minute, bar, out)
            return
        config = self.config
        high, low = bar.high, bar.low
        if high > anchor:  # (a) a break of the first level: LIQ #2 or a structure reset
            reset = self._liq2_failure(minute, anchor, bar)
            if reset is None:
                self._start_waiting(minute, candle, anchor, bar, out)
                return
            if self.second is not None:
                self.emit(EventType.STRUCTURE_RESET, candle.ts,
                           {"reason": reset.value, "price": self.real(high), "previous": self.real(anchor)}, out)
            if self.state is SetupState.WATCHING_LIQ2:
                self._move(SetupState.WATCHING_CONSOL)
            self._set_anchor(index, minute, bar, out)
            return
        second = self.second
        new_second = second is None or low < second
        if new_second:  # (b) a new (deeper) second level
            depth = self.depth_pct(anchor, low)
            if depth > config.max_depth_pct + EPSILON:
                self.second, self.second_time = low, candle.ts
                self.invalidate(InvalidationReason.CONSOL_RANGE_INVALID, candle.ts,
                                {"level": self.real(low), "depth_pct": round(depth, 6)}, out)
                return
            self.second, self.second_time, self.second_minute = low, candle.ts, minute
            self.second_count, self.second_confirmed = 0, False
            self.emit(self.second_event[0], candle.ts, {"price": self.real(low), "depth_pct": round(depth, 6)}, out)
            if self.state is SetupState.WATCHING_LIQ2:
                self._move(SetupState.WATCHING_CONSOL)
                self.emit(EventType.DISARMED, candle.ts, self._levels(), out)
        if self._is_no_wick(bar):
            self.no_wick_candle = bar
        # (c) confirmations, first level before second, then the armed flag
        if not self.anchor_confirmed:
            self.anchor_count += 1
            if self.anchor_count >= (config.high_confirm_bars if self.sign > 0 else config.low_confirm_bars):
                self.anchor_confirmed = True
                self.emit(self.anchor_event[1], candle.ts, {"price": self.real(anchor)}, out)
        second = self.second
        assert second is not None  # set above when there was none
        if not new_second and not self.second_confirmed:
            self.second_count += 1
            if self.second_count >= (config.low_confirm_bars if self.sign > 0 else config.high_confirm_bars):
                self.second_confirmed = True
                self.emit(self.second_event[1], candle.ts, {"price": self.real(second)}, out)
        if (self.state is _WATCHING_CONSOL and self.anchor_confirmed and self.second_confirmed
                and self.depth_pct(anchor, second) >= config.min_depth_pct - EPSILON):
            self._move(SetupState.WATCHING_LIQ2)
            self.emit(EventType.ARMED, candle.ts, self._levels(), out)
        # (d) the 120-minute limit, measured from the bar of the first level
        if minute - self.anchor_minute >= config.max_duration_min:
            self.invalidate(InvalidationReason.CONSOL_TIMEOUT, candle.ts,
                            {"minutes": minute - self.anchor_minute}, out)

    def _levels(self) -> dict[str, Any]:
        anchor, second = self.anchor, self.second
        assert anchor is not None and second is not None
        high, low = (anchor, second) if self.sign > 0 else (-second, -anchor)
        return {"high": high, "low": low, "depth_pct": round(self.depth_pct(anchor, second), 6)}

    def _liq2_failure(self, minute: int, anchor: float, bar: Oriented) -> ResetReason | None:
        """Return None when a break of the first level is a valid LIQ #2 (§4.2), else the reset reason."""
        config = self.config
        second = self.second
        if second is None or self.depth_pct(anchor, second) < config.min_depth_pct - EPSILON:
            return ResetReason.NEW_HIGH
        since_anchor = minute - self.anchor_minute
        if not (self.anchor_confirmed and self.second_confirmed
                and minute - self.second_minute >= config.liq2_wait_min
                and config.min_duration_min <= since_anchor <= config.max_duration_min):
            return ResetReason.PREMATURE
        if self.no_wick_candle is None and not self._is_no_wick(bar):
            return ResetReason.NO_NOWICK
        return None

    # -- after LIQ #2 ----------------------------------------------------------------------------

    def _start_waiting(self, minute: int, candle: Bar, anchor: float, bar: Oriented,
                       out: list[SetupEvent]) -> None:
        if self._is_no_wick(bar):
            self.no_wick_candle = bar  # the latest qualifying bar, LIQ #2 included
        no_wick = self.no_wick_candle
        assert no_wick is not None
        self.frozen_no_wick_candle = no_wick
        self.liq2_time, self.liq2_minute = bar.ts, minute
        self.liq2_bar = bar
        self.liq2_price = self.real(bar.high)
        self.extreme = bar.high
        self._move(SetupState.WAITING_ENTRY)
        self.limit_minute = minute + self.config.entry_timeout_bars
        real_low, real_high = (no_wick.low, no_wick.high) if self.sign > 0 else (-no_wick.high, -no_wick.low)
        # The payload keys are the documented event fields (docs/strategy.md), kept as stored.
        self.emit(EventType.LIQ2_DETECTED, bar.ts, {
            "price": self.liq2_price, "level": self.real(anchor),
            "nwc_time": iso_z(no_wick.ts), "nwc_low": real_low, "nwc_high": real_high,
        }, out)
        self._waiting(minute, candle, bar, True, out)

    def _waiting(self, minute: int, candle: Bar, bar: Oriented, liq2_bar: bool,
                 out: list[SetupEvent]) -> None:
        """Apply §5.3 WAITING_ENTRY: extreme update, retracement, trigger, then the entry timeout."""
        config = self.config
        no_wick = self.frozen_no_wick_candle
        assert no_wick is not None
        high, close = bar.high, bar.close
        if high > self.extreme:
            self.extreme = high
        allowance = min(config.retracement_points, config.retracement_pct / 100.0 * abs(high))
        if high > no_wick.high + allowance:
            self.invalidate(InvalidationReason.RETRACEMENT_EXCEEDED, candle.ts,
                            {"price": self.real(high), "limit": self.real(no_wick.high + allowance)}, out)
            return
        if close < no_wick.low and (config.allow_trigger_on_liq2_bar or not liq2_bar):
            # The fill is the next bar's open; a trigger whose next bar would start at or after the
            # session end has no fill and is dropped. It was still a trigger, so it is no
            # ENTRY_TIMEOUT either: the session end closes the candidate (MARKET_CLOSED).
            if candle.end < self.day.session_end:
                self._trigger(candle, close, out)
            return
        if minute - self.liq2_minute >= config.entry_timeout_bars:
            self.invalidate(InvalidationReason.ENTRY_TIMEOUT, candle.ts, {"minutes": minute - self.liq2_minute}, out)

    def _trigger(self, candle: Bar, close: float, out: list[SetupEvent]) -> None:
        config = self.config
        tick = config.tick_size
        entry = close
        stop = self.extreme + config.sl_buffer
        if config.spike_rule and self.liq2_bar is not None:
            liq2 = self.liq2_bar
            body = abs(liq2.close - liq2.open)
            body_top = max(liq2.open, liq2.close)
            if body > 0 and liq2.high - body_top > config.spike_wick_body_ratio * body:
                stop = body_top + config.spike_buffer
        stop = _ceil_tick(stop, tick)
        target, source, swing_time = self._target(entry)
        target = _ceil_tick(target, tick)
        risk = stop - entry
        reward = entry - target
        ratio = reward / risk if risk > 0 else None
        self.trigger_time = candle.ts
        self.entry, self.stop, self.target = self.real(entry), self.real(stop), self.real(target)
        self.risk_reward = ratio
        data = {"entry_est": self.entry, "sl": self.stop, "tp": self.target, "rr": self.risk_reward,
                "tp_source": source, "swing_time": iso_z(swing_time)}
        if ratio is None or ratio <= config.min_rr:
            self.invalidate(InvalidationReason.NEGATIVE_RISK_REWARD, candle.ts, data, out)
            return
        self._move(SetupState.SETUP_COMPLETE)
        self.emit(EventType.SETUP_COMPLETE, candle.ts, data, out)

    def _target(self, entry: float) -> tuple[float, str, datetime | None]:
        """Return the oriented target before rounding, its source ('swing' or 'lse') and the swing bar time.

        Swing mode: the most recent bar in [t_LIQ1, first level) whose oriented low is strictly
        below the lows of `swing_lookback` bars on each side and below the entry estimate.
        """
        config = self.config
        if config.tp_mode == "swing":
            bars, offset = self.day.bars, self.day.offset
            span = config.swing_lookback
            short = self.sign > 0
            # Bar numbers count every real bar of the day; the list holds those from `offset` on,
            # which reaches back `span` bars before LIQ #1 (SetupTracker.reference_tail).
            for number in range(self.anchor_index - 1, self.liq1_index - 1, -1):
                if number - span < 0 or number + span >= len(bars) + offset:
                    continue
                index = number - offset
                level = bars[index].low if short else -bars[index].high
                if level >= entry:
                    continue
                neighbours = [bars[j].low if short else -bars[j].high
                              for j in range(index - span, index + span + 1) if j != index]
                if all(level < other for other in neighbours):
                    return level - config.tp_buffer, "swing", bars[index].ts
        reference = self.day.reference_low if self.sign > 0 else -self.day.reference_high
        return reference - config.tp_buffer, "lse", None
