"""The setup tracker: one symbol's trading days, fed closed M1 candles and clock instants.

Per real bar inside the day's windows (§5.3): the session gate, the reference levels, the gap
rule, every live candidate in creation order, then new candidates (SHORT before LONG). A
synthetic bar (`tick_count == 0`, a flat bar nobody traded) only moves the clock: it is never a
bar for the rules, never the "previous real bar" of the gap rule and never counted as reference
coverage (STRATEGY.md §4.7 [REC]: do not synthesise flat bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from slob_cli.core.models import Bar, Direction
from slob_cli.core.sessions import TradingCalendar, TradingSession, next_session, session_for, trading_date_of
from slob_cli.core.strategy.candidate import NO_LIMIT, Candidate, DayContext
from slob_cli.core.strategy.config import StrategyConfig
from slob_cli.core.strategy.events import EventType, SetupEvent, new_event
from slob_cli.core.strategy.states import TERMINAL_STATES, InvalidationReason, SetupState
from slob_cli.core.timefmt import iso_z

ONE_MINUTE = timedelta(minutes=1)
# Every session bar reads both sides: module globals, as a `Direction.X` read costs about 0.1 µs on
# Python 3.11 (the enum metaclass has a __getattr__).
_SHORT, _LONG = Direction.SHORT, Direction.LONG
_EPOCH_MINUTE = datetime(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class CandidateView:
    """One candidate as the outside world sees it (one row of `slob setups track`)."""

    id: str
    symbol: str
    trading_date: date
    direction: Direction
    state: SetupState
    invalidation_reason: InvalidationReason | None
    liq1_time: datetime | None
    liq1_price: float | None
    high: float | None
    high_time: datetime | None
    low: float | None
    low_time: datetime | None
    nowick_time: datetime | None
    liq2_time: datetime | None
    liq2_price: float | None
    trigger_time: datetime | None
    entry_estimate: float | None
    stop: float | None
    target: float | None
    risk_reward: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON object of `setups track --json` (times ISO 'Z', prices numbers, None)."""
        return {
            "id": self.id,
            "symbol": self.symbol,
            "trading_date": self.trading_date.isoformat(),
            "direction": self.direction.value,
            "state": self.state.value,
            "invalidation_reason": self.invalidation_reason.value if self.invalidation_reason else None,
            "liq1_time": iso_z(self.liq1_time),
            "liq1_price": self.liq1_price,
            "high": self.high,
            "high_time": iso_z(self.high_time),
            "low": self.low,
            "low_time": iso_z(self.low_time),
            "nowick_time": iso_z(self.nowick_time),
            "liq2_time": iso_z(self.liq2_time),
            "liq2_price": self.liq2_price,
            "trigger_time": iso_z(self.trigger_time),
            "entry_estimate": self.entry_estimate,
            "stop": self.stop,
            "target": self.target,
            "risk_reward": self.risk_reward,
        }


@dataclass(frozen=True, slots=True)
class ReferenceWindow:
    """A day's reference window as the rules use it, in place of its bars one by one (`replay_window`).

    The rules read only the extremes and the number of its real bars, and its last few real bars
    (the gap rule's previous bar, the neighbours of a swing target): `last` holds the last
    `SetupTracker.reference_tail()` of them (all when fewer), oldest first.
    """

    high: float | None  # None when the window has no real bar
    low: float | None
    bars: int  # real bars (tick_count not 0) final by the replay's clock
    last: Sequence[Bar]


def view_of(candidate: Candidate) -> CandidateView:
    """Return the public view of a candidate (real prices, HIGH/LOW named as on the chart)."""
    anchor = candidate.real(candidate.anchor) if candidate.anchor is not None else None
    second = candidate.real(candidate.second) if candidate.second is not None else None
    if candidate.direction is Direction.SHORT:
        high, high_time, low, low_time = anchor, candidate.anchor_time, second, candidate.second_time
    else:
        high, high_time, low, low_time = second, candidate.second_time, anchor, candidate.anchor_time
    day = candidate.day
    return CandidateView(
        id=candidate.id, symbol=day.symbol, trading_date=day.trading_date, direction=candidate.direction,
        state=candidate.state, invalidation_reason=candidate.reason,
        liq1_time=candidate.liq1_time, liq1_price=candidate.liq1_price,
        high=high, high_time=high_time, low=low, low_time=low_time,
        nowick_time=candidate.frozen_no_wick_candle.ts if candidate.frozen_no_wick_candle else None,
        liq2_time=candidate.liq2_time, liq2_price=candidate.liq2_price,
        trigger_time=candidate.trigger_time, entry_estimate=candidate.entry,
        stop=candidate.stop, target=candidate.target, risk_reward=candidate.risk_reward,
    )


class _Day:
    """Mutable state of one trading day."""

    __slots__ = (
        "session", "start", "end", "open_label", "last_reference_label", "last_label", "open", "frozen", "tradable",
        "reference_high", "reference_low", "reference_bars", "bars", "offset", "previous", "candidates", "live",
        "active", "freed_at", "counters", "context", "soonest_limit",
    )

    def __init__(self, session: TradingSession) -> None:
        self.session = session
        self.start = session.reference_start
        self.end = session.session_end
        self.open_label = session.session_start
        self.last_reference_label = session.session_start - ONE_MINUTE
        self.last_label = session.session_end - ONE_MINUTE
        self.open = True
        self.frozen = False
        self.tradable = False
        self.reference_high = float("-inf")
        self.reference_low = float("inf")
        self.reference_bars = 0
        self.bars: list[Bar] = []
        self.offset = 0  # real bars of the day before bars[0] (see ReferenceWindow)
        self.previous: Bar | None = None
        self.candidates: list[Candidate] = []
        self.live: list[Candidate] = []
        self.soonest_limit = NO_LIMIT  # at most the smallest Candidate.limit_minute of `live`
        self.active: dict[Direction, Candidate | None] = {Direction.SHORT: None, Direction.LONG: None}
        self.freed_at: dict[Direction, int] = {Direction.SHORT: -1, Direction.LONG: -1}
        self.counters: dict[Direction, int] = {Direction.SHORT: 0, Direction.LONG: 0}
        self.context: DayContext | None = None


def _minute_number(ts: datetime) -> int:
    """Return whole minutes since the epoch (labels are whole UTC minutes)."""
    return (ts.toordinal() - _EPOCH_MINUTE) * 1440 + ts.hour * 60 + ts.minute


class SetupTracker:
    """Track 5/1 SLOB setups of one symbol: a pure, deterministic function of candles and clock instants.

    `on_time(now)` assumes every candle that was final by `now` has already been fed.
    """

    def __init__(self, symbol: str, config: StrategyConfig, calendar: TradingCalendar) -> None:
        self.symbol = symbol
        self.config = config
        self.calendar = calendar
        self._day: _Day | None = None
        self._last_ts: datetime | None = None
        self._last_now: datetime | None = None
        self._quiet_until: datetime | None = None
        self._sessions: dict[date, TradingSession | None] = {}

    # -- public API ------------------------------------------------------------------------------

    def on_candle(self, candle: Bar) -> list[SetupEvent]:
        """Apply one closed M1 candle (strictly after the previous one); return the events it caused."""
        if candle.symbol != self.symbol:
            raise ValueError(f"candle of {candle.symbol!r} fed to the {self.symbol!r} tracker")
        ts = candle.ts
        if self._last_ts is not None and ts <= self._last_ts:
            raise ValueError(f"candle {iso_z(ts)} is not after the previous candle {iso_z(self._last_ts)}")
        self._last_ts = ts
        day = self._day
        if day is not None and day.open and day.start <= ts < day.end:
            events: list[SetupEvent] = []
            self._apply(day, candle, events)
            return events
        quiet = self._quiet_until
        if quiet is not None and ts < quiet:
            return []
        events = []
        day = self._locate(ts, events)
        if day is not None:
            self._apply(day, candle, events)
        return events

    def on_time(self, now: datetime) -> list[SetupEvent]:
        """Apply the clock: freeze the levels at the open, close the session at its end; idempotent."""
        if now.tzinfo is None:
            raise ValueError(f"clock instant {now.isoformat()} has no time zone")
        if self._last_now is not None and now <= self._last_now:
            return []
        self._last_now = now
        events: list[SetupEvent] = []
        day = self._day
        if day is not None and day.open and now >= day.end:
            self._close(day, events)
        session = self._session(trading_date_of(now))
        if (session is not None and session.reference_start <= now
                and (day is None or session.trading_date > day.session.trading_date)):
            day = self._start(session, events)
        if day is not None and day.open:
            if not day.frozen and now >= day.open_label:
                self._freeze(day, events)
            self._expire(day, min(now, day.end), events)  # timers run on the clock (§4.7)
            if now >= day.end:
                self._close(day, events)
        return events

    def candidates(self) -> list[CandidateView]:
        """Return every candidate of the current trading day, in creation order."""
        return [view_of(candidate) for candidate in self._day.candidates] if self._day else []

    def reference_levels(self) -> tuple[float, float] | None:
        """Return (LSE_high, LSE_low) once frozen for the current day, else None."""
        day = self._day
        if day is None or not day.tradable:
            return None
        return day.reference_high, day.reference_low

    def reference_tail(self) -> int:
        """Return how many of a reference window's last real bars `replay_window` needs."""
        return max(1, self.config.swing_lookback)

    def replay_window(
        self, trading_date: date, reference: ReferenceWindow, session_bars: Sequence[Bar], until: datetime
    ) -> list[SetupEvent]:
        """Replay one trading day on this fresh tracker: its reference window summed up, then its session bars.

        `session_bars` are the bars labelled from the session start to the session end that were
        final by `until`, in time order; `reference` sums up the reference window's bars final by
        `until`. The events are those of `on_candle` for every bar of the day's window and then
        `on_time(until)`: reference bars cause no event of their own, and the rules after the open
        read of them only what `reference` holds (`tests/core/test_tracker_replay_window.py`).
        """
        if self._day is not None or self._last_ts is not None or self._last_now is not None:
            raise ValueError("replay_window needs a fresh tracker")
        last = list(reference.last)
        if not (len(last) <= reference.bars and (reference.bars == 0) == (not last)
                and len(last) >= min(reference.bars, self.reference_tail())
                and (reference.bars == 0 or (reference.high is not None and reference.low is not None))):
            raise ValueError(f"inconsistent reference window: {reference.bars} real bars, {len(last)} given")
        session = self._session(trading_date)
        events: list[SetupEvent] = []
        if session is not None and (reference.bars or session_bars or until >= session.reference_start):
            started = self._start(session, events)
            if reference.bars:
                assert reference.high is not None and reference.low is not None
                started.reference_high, started.reference_low = reference.high, reference.low
                started.reference_bars = reference.bars
                started.bars, started.offset, started.previous = last, reference.bars - len(last), last[-1]
                self._last_ts = last[-1].ts
        if self._day is not None and session_bars:
            self._session_bars(self._day, session_bars, events)
        else:
            for bar in session_bars:  # no session that day: bars outside any window only move the clock
                events += self.on_candle(bar)
        events += self.on_time(until)
        return events

    def _session_bars(self, day: _Day, bars: Sequence[Bar], events: list[SetupEvent]) -> None:
        """Apply a session's bars in order, as `on_candle` would one by one (none may lie outside the session).

        The first of them freezes the levels (a synthetic one too); after that a real bar is a bar
        for the rules and a synthetic one only moves the clock; the bar ending at the session end closes it.
        """
        if not day.frozen:
            self._freeze(day, events)
        rules = self._session_bar if day.tradable else None
        symbol, previous, first, end = self.symbol, self._last_ts, day.open_label, day.end
        for bar in bars:
            ts = bar.ts
            if bar.symbol != symbol or (previous is not None and ts <= previous) or not first <= ts < end:
                raise ValueError(f"bar {bar.symbol} {iso_z(ts)} is not the next bar of the {symbol} session "
                                 f"{iso_z(first)} .. {iso_z(end)}")
            previous = ts
            if rules is not None and bar.tick_count:
                rules(day, bar, events)
        self._last_ts = previous
        if previous is not None and previous >= day.last_label:
            self._close(day, events)

    def session(self, trading_date: date) -> TradingSession | None:
        """Return the session of a trading date (None on a day without one)."""
        return self._session(trading_date)

    def window(self, trading_date: date) -> tuple[datetime, datetime] | None:
        """Return [reference start, session end) of a trading date, or None when it has no session.

        The date's candles outside the window only move the clock, so a replay that runs the clock
        (`on_time`) to the end of the day may leave them out: its events are the same.
        """
        session = self._session(trading_date)
        return None if session is None else (session.reference_start, session.session_end)

    def current_session(self) -> TradingSession | None:
        """Return the session of the current trading day, if any day has started."""
        return self._day.session if self._day else None

    # -- days --------------------------------------------------------------------------------------

    def _session(self, trading_date: date) -> TradingSession | None:
        if trading_date not in self._sessions:
            self._sessions[trading_date] = session_for(trading_date, self.calendar)
        return self._sessions[trading_date]

    def _locate(self, ts: datetime, events: list[SetupEvent]) -> _Day | None:
        """Close a finished day, start the day `ts` belongs to, or note how long to stay quiet."""
        day = self._day
        if day is not None and day.open and ts >= day.end:
            self._close(day, events)
        session = self._session(trading_date_of(ts))
        if session is not None and session.reference_start <= ts < session.session_end:
            if day is None or session.trading_date > day.session.trading_date:
                self._quiet_until = None
                return self._start(session, events)
            self._quiet_until = session.session_end  # that day was already closed by the clock
            return None
        if session is not None and ts < session.reference_start:
            self._quiet_until = session.reference_start
            return None
        upcoming = next_session(ts, self.calendar)
        self._quiet_until = upcoming.reference_start if upcoming is not None else None
        return None

    def _start(self, session: TradingSession, events: list[SetupEvent]) -> _Day:
        previous = self._day
        if previous is not None and previous.open:
            self._close(previous, events)
        day = _Day(session)
        self._day = day
        return day

    def _close(self, day: _Day, events: list[SetupEvent]) -> None:
        """End the session: every live candidate becomes INVALIDATED (MARKET_CLOSED) at the session end."""
        self._expire(day, day.end, events)  # a limit reached before the end fired first
        day.open = False
        for candidate in day.live:
            candidate.invalidate(InvalidationReason.MARKET_CLOSED, day.end, {"session_end": iso_z(day.end)}, events)
        day.live = []
        day.active = {Direction.SHORT: None, Direction.LONG: None}

    @staticmethod
    def _expire(day: _Day, now: datetime, events: list[SetupEvent]) -> None:
        """Time out the live candidates whose limit minute is over by `now`; their slot is free again."""
        expired = [candidate for candidate in day.live if candidate.expire(now, events)]
        if expired:
            for candidate in expired:
                day.active[candidate.direction] = None
            day.live = [candidate for candidate in day.live if candidate.state not in TERMINAL_STATES]
            day.soonest_limit = min((candidate.limit_minute for candidate in day.live), default=NO_LIMIT)

    def _day_event(self, day: _Day, kind: EventType, data: dict[str, Any], events: list[SetupEvent]) -> None:
        session = day.session
        events.append(new_event(kind, self.symbol, session.trading_date, session.session_start, None, None, data))

    def _freeze(self, day: _Day, events: list[SetupEvent]) -> None:
        """Freeze LSE_high/LSE_low at the open; no reference bars means no trading that day."""
        day.frozen = True
        expected = day.session.reference_minutes
        if day.reference_bars == 0:
            self._day_event(day, EventType.NO_REFERENCE_DATA, {"expected_bars": expected}, events)
            return
        day.tradable = True
        coverage = round(day.reference_bars / expected, 6)
        day.context = DayContext(self.symbol, day.session.trading_date, day.end, day.reference_high,
                                 day.reference_low, self.config, day.bars, day.offset)
        self._day_event(day, EventType.LSE_LEVELS_FROZEN, {
            "high": day.reference_high, "low": day.reference_low, "bars": day.reference_bars,
            "expected_bars": expected, "coverage": coverage,
        }, events)
        if coverage < self.config.min_reference_coverage:
            self._day_event(day, EventType.REFERENCE_COVERAGE_LOW, {
                "bars": day.reference_bars, "expected_bars": expected, "coverage": coverage,
                "minimum": self.config.min_reference_coverage,
            }, events)

    # -- bars ----------------------------------------------------------------------------------------

    def _apply(self, day: _Day, candle: Bar, events: list[SetupEvent]) -> None:
        """Apply one candle of an open day (its label lies in the day's windows)."""
        ts = candle.ts
        if candle.tick_count == 0:
            pass  # a synthetic bar only moves the clock (see the module docstring)
        elif ts < day.open_label:
            if candle.high > day.reference_high:
                day.reference_high = candle.high
            if candle.low < day.reference_low:
                day.reference_low = candle.low
            day.reference_bars += 1
            day.bars.append(candle)
            day.previous = candle
        else:
            if not day.frozen:
                self._freeze(day, events)
            if day.tradable:
                self._session_bar(day, candle, events)
        if not day.frozen and ts >= day.last_reference_label:
            self._freeze(day, events)
        if ts >= day.last_label:  # this bar's end reaches the session end
            self._close(day, events)

    def _session_bar(self, day: _Day, candle: Bar, events: list[SetupEvent]) -> None:
        """Apply §5.3 to one real NYSE bar: gap rule, live candidates, then LIQ #1 for each side."""
        index = len(day.bars) + day.offset
        day.bars.append(candle)
        previous = day.previous
        day.previous = candle
        live = day.live
        minute = _minute_number(candle.ts) if live else -1
        # §5.3: after the session gate, timers past their limit. A limit minute is over from the next
        # minute on, so while this bar's minute is at most every live limit none can fire.
        if minute > day.soonest_limit:
            self._expire(day, candle.ts, events)
            live = day.live
        if live:
            if (self.config.gap_rule and previous is not None
                    and (candle.low > previous.high or candle.high < previous.low)):
                for candidate in live:
                    candidate.invalidate(InvalidationReason.GAP_DETECTED, candle.ts,
                                         {"previous_bar_time": iso_z(previous.ts)}, events)
                ended = True
            else:
                soonest, ended = NO_LIMIT, False
                for candidate in live:
                    candidate.on_bar(index, minute, candle, events)
                    if candidate.state in TERMINAL_STATES:
                        ended = True
                    elif candidate.limit_minute < soonest:
                        soonest = candidate.limit_minute
                day.soonest_limit = soonest
            if ended:
                for candidate in live:
                    if candidate.state in TERMINAL_STATES:
                        day.active[candidate.direction] = None
                        day.freed_at[candidate.direction] = index
                day.live = [candidate for candidate in live if candidate.state not in TERMINAL_STATES]
        active = day.active
        if active[_SHORT] is None and candle.high > day.reference_high and day.freed_at[_SHORT] != index:
            self._create(day, _SHORT, index, candle, events)
        if active[_LONG] is None and candle.low < day.reference_low and day.freed_at[_LONG] != index:
            self._create(day, _LONG, index, candle, events)

    def _create(self, day: _Day, direction: Direction, index: int, candle: Bar, events: list[SetupEvent]) -> None:
        day.counters[direction] += 1
        letter = "S" if direction is Direction.SHORT else "L"
        candidate_id = f"{self.symbol}-{day.session.trading_date:%Y%m%d}-{letter}{day.counters[direction]}"
        assert day.context is not None
        candidate = Candidate(candidate_id, direction, day.context, index, candle)
        day.candidates.append(candidate)
        day.live.append(candidate)
        day.active[direction] = candidate
        level = day.reference_high if direction is Direction.SHORT else day.reference_low
        candidate.emit(EventType.LIQ1_DETECTED, candle.ts, {"price": candidate.liq1_price, "level": level}, events)
