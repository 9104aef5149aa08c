"""Read-only views of the store shared by `slob status`, `slob dashboard` and the validation report.

Every function takes the store (possibly opened read-only) and reads through its named queries
(adapters/store/views.py); what is shown is decided here. Status words
written by other parts (order status, setup state) are compared case-insensitively, so both IB's
`Filled` and a lower-case `filled` count as done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slob_cli.core.models import INSTRUMENTS, SAME_PRICES, Direction
from slob_cli.core.pnl import mark_open, money_sum, money_text, points_text, price_text
from slob_cli.core.sessions import trading_date_of  # noqa: F401 - re-exported for the views' callers
from slob_cli.core.timefmt import iso_z
from slob_cli.core.words import counted  # noqa: F401 - re-exported for the views' callers

if TYPE_CHECKING:
    from slob_cli.adapters.store import Store
    from slob_cli.runtime.lock import LockHolder

UTC = timezone.utc
NewestTick = tuple[int, int | None] | None  # (ts us, run_id) of the newest stored tick (Store.newest_tick), or None


def parse_time(text: str | None) -> datetime | None:
    """Parse a stored UTC ISO time (`...Z` or with offset); None stays None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _payload(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


class StoreMemo:
    """Answers of read-only queries, kept until the store changes or another process holds its lock.

    SQLite's `PRAGMA data_version` moves whenever another connection commits, so a reader that asks
    often (`slob web`) answers an unchanged store from memory. Only for a connection that itself
    never writes (its own commits do not move the number). Whether a run is running or died (and
    so whether a `--sim` run's orders are live) is decided by the lock holder, which changes
    without a write when a process is killed: it is part of the key.
    """

    def __init__(self) -> None:
        self._version: tuple[int, Any] | None = None
        self._answers: dict[Any, Any] = {}

    def reader(self, store: Store, holder: LockHolder | None) -> Callable[[Any, Callable[[], Any]], Any]:
        """Return read(key, compute): the kept answer for key while the store and its lock holder are unchanged.

        `holder` is the lock holder the caller read for this answer (lock.current_holder, once per call).
        """
        version = (store.data_version(), holder)
        if version != self._version:
            self._answers.clear()
            self._version = version

        def read(key: Any, compute: Callable[[], Any]) -> Any:
            if key not in self._answers:
                self._answers[key] = compute()
            return self._answers[key]

        return read


def backtest_runs(store: Store, limit: int = 5) -> list[dict[str, Any]]:
    """Return the newest stored backtest runs (`slob backtest`), newest first, without their trades."""
    return store.backtest_run_rows(limit)


def recent_runs(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    """Return the latest runs, newest first."""
    return store.recent_run_rows(limit)


# The prices of a setup row and of an order row: the page shows their texts (`high_text`, ...), not the numbers.
SETUP_PRICES = ("high", "low", "liq1_price", "liq2_price", "entry_estimate", "stop", "target")
ORDER_PRICES = ("limit_price", "stop_price")


def with_texts(row: dict[str, Any], prices: Sequence[str] = (), points: Sequence[str] = ()) -> dict[str, Any]:
    """Add `<key>_text` beside each price and points figure of a row (core/pnl's words); return the row.

    The web page shows these texts, so a price reads there as `slob status` and `slob dashboard` print it;
    the numbers stay beside them for charts, colours and JSON readers.
    """
    for key in prices:
        row[f"{key}_text"] = price_text(row.get(key))
    for key in points:
        row[f"{key}_text"] = points_text(row.get(key))
    return row


def open_setups(store: Store) -> list[dict[str, Any]]:
    """Return setups in a non-terminal state, oldest first (with their prices' texts)."""
    return [with_texts(row, SETUP_PRICES) for row in store.open_setup_rows()]


def working_orders(store: Store) -> list[dict[str, Any]]:
    """Return orders that are neither filled nor cancelled nor rejected (with their prices' texts)."""
    return [with_texts(row, ORDER_PRICES) for row in store.working_order_rows()]


def open_positions(store: Store) -> list[dict[str, Any]]:
    """Return trades whose entry filled and whose exit has not happened yet, with their stop and target."""
    return store.open_position_rows()


def day_pnl(store: Store, trading_date: date) -> dict[str, Any]:
    """Return the realised P&L of the closed trades of one New York trading date (each trade's core/pnl result)."""
    wanted = trading_date.isoformat()
    rows = store.closed_trade_rows_of(wanted)
    chosen = []
    for row in rows:
        day = row["trading_date"]
        if day is None:
            moment = parse_time(row["entry_time"]) or parse_time(row["exit_time"])
            day = trading_date_of(moment).isoformat() if moment else None
        if day == wanted:
            chosen.append(row)
    pnl, commission = money_sum(r["pnl_money"] for r in chosen), money_sum(r["commission"] for r in chosen)
    points = round(sum(r["pnl_points"] or 0.0 for r in chosen), 2)
    return {
        "trading_date": wanted,
        "closed_trades": len(chosen),
        "pnl_points": points,
        "pnl_points_text": points_text(points),
        "pnl_money": pnl,
        "commission": commission,
        "trades": [{"setup_id": r["setup_id"], "pnl_points": r["pnl_points"], "pnl_points_text": points_text(r["pnl_points"]),
                    "gross_money": r["gross_money"],
                    "commission": r["commission"], "pnl_money": r["pnl_money"],
                    "pnl_money_text": money_text(r["pnl_money"])} for r in chosen],
        # The money as every screen writes it (core/pnl.money_text): the web page shows these texts.
        "pnl_money_text": money_text(pnl),
        "commission_text": money_text(commission, signed=False),
    }


@dataclass(frozen=True)
class StoreClock:
    """The clock a store's newest run lives by: the wall clock, or a simulated run's own virtual clock."""

    now: datetime
    simulated: bool = False
    run_id: int | None = None
    run_ended: bool = False
    run_died: bool = False  # over without an end record (killed): named `died`, as the runs table names it
    # Each symbol's newest tick as a sim run's clock read it (Store.newest_tick), passed along so a refresh reads
    # it once (newest_tick); None when not read (the wall clock's "now").
    newest_ticks: Mapping[str, tuple[int, int | None]] | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str | None:
        """Return the name of a simulated clock, the one wording of every screen: `simulated clock of sim run 2 (ended)`.

        status ("Now: ... on the simulated clock of sim run 2 (ended)"), `status --check` and the heartbeat's
        age ("7 min ago on the simulated clock of ..."), dashboard and `/api/header` (`clock.label`) all say it
        so. None on the wall clock, which needs no name.
        """
        if not self.simulated:
            return None
        state = "died" if self.run_died else "ended" if self.run_ended else "running"
        return f"simulated clock of sim run {self.run_id} ({state})"

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {"now": iso_z(self.now), "simulated": self.simulated, "run_id": self.run_id,
                "run_ended": self.run_ended, "label": self.label}


def is_sim_run(run: dict[str, Any]) -> bool:
    """Return True for a run on the simulated gateway (its times are virtual)."""
    return run.get("data_mode") == "sim" or is_embedded_sim_run(run)


def is_embedded_sim_run(run: dict[str, Any]) -> bool:
    """Return True for a `--sim` run (`run --sim`, `paper --sim`): its gateway was embedded and died with it."""
    return bool(_payload(run.get("args")).get("sim"))


def on_sim_clock(run: dict[str, Any]) -> bool:
    """Return True for a run whose times are a simulated gateway's (--sim, or trade --follow-sim-clock/--lockstep).

    Its args say so (`sim_clock`, which every session writes). Simulated *data* is not a simulated clock:
    `trade` or `paper` on this machine's clock against `slob sim-gateway` (data mode sim) is read on the
    wall clock, as its paper report reads it. A row from before `sim_clock` existed is told by its data.
    """
    args = _payload(run.get("args"))
    if "sim_clock" in args:
        return bool(args.get("sim") or args["sim_clock"])
    return is_sim_run(run)


def store_clock(store: Store, wall_now: datetime, holder: LockHolder | None) -> StoreClock:
    """Return "now" for a store: a simulated newest run's last virtual instant, else the wall clock.

    `holder` is the live lock holder (lock.current_holder): it tells whether that run has died.

    A sim run stores virtual times (a day in 2026-01 while the wall clock says otherwise), so its
    "today", ages and P&L are read on its own clock. The rule: "now" is the latest of
    - its newest heartbeat and the newest stored tick (the gateway's own stamps), and
    - once it has ended, its recorded end, when that was stamped on the same clock (ended_on_its_clock):
      the session writes it last, from its clock, a moment after its final heartbeat (a `trade
      --follow-sim-clock 60` stopped by Ctrl-C ends some virtual seconds after its last tick).
    So no time the screens show of that run (its end, heartbeat, last tick) lies after "now", and no age
    is negative. A running sim run's "now" is its newest heartbeat or tick: its clock is not read from here.
    With none of these, its end or else its start.
    """
    run = store.newest_run_row()
    if run is None or not on_sim_clock(run):
        return StoreClock(wall_now)
    # Index probes only (the newest heartbeat, the newest tick per symbol): pages ask for this often.
    health = store.newest_heartbeat()
    moments = [parse_time(health[0]) if health and health[1] == run["id"] else None]
    ticks = {symbol: tick for symbol in store.symbols_in("ticks") if (tick := store.newest_tick(symbol)) is not None}
    moments += [datetime.fromtimestamp(ts / 1_000_000, tz=UTC) for ts, _ in ticks.values()]
    if ended_on_its_clock(run):
        moments.append(parse_time(run["ended_at"]))
    known = [m for m in moments if m is not None]
    if not known:
        known = [m for m in (parse_time(run["ended_at"]), parse_time(run["started_at"])) if m is not None][:1]
    over = run_over(run, holder)
    return StoreClock(max(known) if known else wall_now, True, run["id"], over, over and run["ended_at"] is None,
                      ticks)


def newest_tick(store: Store, clock: StoreClock, symbol: str | None) -> NewestTick:
    """Return a symbol's (without one, any symbol's) newest tick as Store.newest_tick reads it.

    On a sim run's clock, from the newest ticks the clock read (StoreClock.newest_ticks): a header or frame
    reads each symbol's newest tick once. A symbol the clock found no tick of has none.
    """
    read = clock.newest_ticks
    if read is None:
        return store.newest_tick(symbol)
    if symbol is not None:
        return read.get(symbol)
    return store.newest_tick(None, {name: tick[0] for name, tick in read.items()})


def ended_on_its_clock(run: dict[str, Any]) -> bool:
    """Return True when a run's recorded end is on its simulated clock, so it can stand beside its virtual times.

    A session stamps its end from its own clock (cli/guard.run_guard): the gateway's for `--sim` and for one
    whose args say `sim_clock` (which every session writes). A row from before `sim_clock` that is told a sim
    run by its data alone may have ended on the wall clock: its end is not taken.
    """
    args = _payload(run.get("args"))
    return run.get("ended_at") is not None and (bool(args.get("sim")) or bool(args.get("sim_clock")))


TRACKING_COMMANDS = ("trade", "run", "paper")  # sessions whose engine tracks setups and stores their events


def tracking_session_day(store: Store, wall_now: datetime) -> tuple[str, date] | None:
    """Return (who, New York date) of the session tracking setups on this store now, or None when none runs.

    `setups track` must not rewrite that day under it: the engine numbers its events on from what it
    stored, and a different event under a number it meets next stops the session.
    """
    from slob_cli.runtime.lock import current_holder, read_record

    record = read_record(store.path)
    if record is None or record.command not in TRACKING_COMMANDS:
        return None  # no tracking session's record, so no tracking holder (and no read of the kernel's lock table)
    holder = current_holder(store.path)
    if holder is None or holder.command not in TRACKING_COMMANDS:
        return None
    return holder.describe(), trading_date_of(store_clock(store, wall_now, holder).now)


def refuse_the_day_a_session_tracks(store: Store, touches: Callable[[date], bool], doing: str, effect: str,
                                    leave_out: Callable[[date], str], later: str) -> None:
    """Refuse (exit 2) to write what a running trade/run/paper session tracks: the day it is tracking.

    `touches(day)` says whether the command's writes fall on that New York date (asked only while such
    a session runs); `doing` names them ("tracking"), `effect` what they would do under the session,
    `leave_out(day)` how to leave the day out, `later` what to do once the session has ended.
    """
    from slob_cli.errors import UsageError

    busy = tracking_session_day(store, datetime.now(timezone.utc))
    if busy is not None and touches(busy[1]):
        who, day = busy
        raise UsageError(f"{who} is tracking {day} on this store: {doing} that day now would {effect}; "
                         f"leave the day out ({leave_out(day)}) or {later} once the session has ended")


def run_over(run: dict[str, Any], holder: LockHolder | None) -> bool:
    """Return True when a run has ended, or its process died without writing its end (not the lock `holder`'s)."""
    from slob_cli.runtime.lock import holds_run

    return run["ended_at"] is not None or not holds_run(holder, run["id"], run.get("pid"))


def ended_sim_runs(store: Store, holder: LockHolder | None, run_ids: Iterable[int | None]) -> set[int]:
    """Return which of `run_ids` are `--sim` runs that have ended (their embedded gateway and its orders no longer exist).

    A `--sim` run whose process died without writing its end took its embedded gateway with it: ended too.
    A session against `slob sim-gateway` (data `sim`, no `--sim`) is not one: that gateway outlives it and
    keeps its orders and position working, as IB Gateway would. Only the runs asked about are read (the
    book's, on every refresh), never every run the store ever had.
    """
    wanted = sorted({run_id for run_id in run_ids if run_id is not None})
    if not wanted:
        return set()
    sim = [row for row in store.run_end_rows(wanted) if is_embedded_sim_run(row)]
    ended = {row["id"] for row in sim if row["ended_at"] is not None}
    died = [row for row in sim if row["ended_at"] is None]
    if died:
        from slob_cli.runtime.lock import holds_run

        ended |= {row["id"] for row in died if not holds_run(holder, row["id"], row["pid"])}
    return ended


def last_price(store: Store, symbol: str) -> float | None:
    """Return the newest known price of a symbol: its latest tick, else its latest candle's close.

    A symbol with no data of its own (MNQ traded on NQ's setups, risk's trade_symbol) reads its twin's.
    """
    price = store.newest_price(symbol)
    if price is None and symbol in SAME_PRICES:
        price = store.newest_price(SAME_PRICES[symbol])
    return price


def live_book(store: Store, holder: LockHolder | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return working orders and open positions, marked: last price, unrealized P&L, distance to stop/target.

    Rows of an ended sim run carry `ended_sim_run` (its gateway is gone: they are not live); `holder` is
    the live lock holder (lock.current_holder), which tells a running sim run from a died one.
    """
    orders = working_orders(store)
    positions = mark_positions(store, open_positions(store))
    ended = ended_sim_runs(store, holder, [row.get("run_id") for row in orders + positions])
    for order in orders:
        order["ended_sim_run"] = order.get("run_id") in ended
    for position in positions:
        position["ended_sim_run"] = position.get("run_id") in ended
    return orders, positions


def mark_positions(store: Store, positions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return open positions marked at the last price: unrealized points and money, distance to stop/target."""
    marked = []
    for row in positions:
        position = dict(row)
        marked.append(position)
        price = last_price(store, position["symbol"])
        position.update(last_price=price, unrealized_points=None, unrealized_money=None,
                        unrealized_money_text=money_text(None), to_stop=None, to_target=None)
        if price is not None and position["entry_price"] is not None:
            _mark(position, price)
        with_texts(position, POSITION_PRICES, POSITION_POINTS)
    return marked


# A marked position's prices and points: the page shows their texts.
POSITION_PRICES = ("entry_price", "last_price", "stop", "target")
POSITION_POINTS = ("unrealized_points", "to_stop", "to_target")


def _mark(position: dict[str, Any], price: float) -> None:
    multiplier = INSTRUMENTS[position["symbol"]].multiplier if position["symbol"] in INSTRUMENTS else 1.0
    mark = mark_open(Direction(str(position["direction"]).upper()), multiplier, position["quantity"],
                     position["entry_price"], position.get("entry_commission") or 0.0, price,
                     position.get("stop"), position.get("target"))
    position.update(unrealized_points=mark.points, unrealized_money=mark.unrealized,
                    unrealized_money_text=money_text(mark.unrealized), to_stop=mark.to_stop, to_target=mark.to_target)


def human_age(seconds: float | None) -> str:
    """Return an age as people say it: "3 s", "2 h 5 min", "41 days" ("-" when unknown)."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        rest = int(seconds - minutes * 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def ago(seconds: float | None) -> str:
    """Return how long ago something was, as every screen says it: "3 s ago", "2 h 5 min ago" ("-" when unknown).

    status, dashboard and the web page (through `/api/header`'s `ages`) all take their ages from here.
    """
    return "-" if seconds is None else f"{human_age(seconds)} ago"


def last_health(store: Store) -> dict[str, Any] | None:
    """Return the newest health heartbeat, payload decoded, or None."""
    row = store.newest_health_row()
    if row is None:
        return None
    row["payload"] = _payload(row["payload"])
    row["connected"] = None if row["connected"] is None else bool(row["connected"])
    return row


@dataclass(frozen=True)
class SessionHealth:
    """The heartbeat shown beside a session: the lock holder's run's own, never an earlier run's.

    While a session runs, only its own run's newest health row counts (`row` is None until it has
    written one: its first seconds). With no session running, the store's newest row is shown as what
    it is: the final heartbeat of the run that wrote it (`of_holder` False).
    """

    row: dict[str, Any] | None
    run_id: int | None  # the holder's run (None before its runs row exists), else the run that wrote `row`
    of_holder: bool  # True: about the running session (its own row, or none yet)

    def age(self, now: datetime) -> float | None:
        """Return the row's age in seconds on the store's clock (`now`), or None without a row."""
        moment = parse_time(self.row["ts"]) if self.row else None
        return None if moment is None else (now - moment).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: whose heartbeat is shown."""
        return {"run_id": self.run_id, "of_running_session": self.of_holder, "written": self.row is not None}


def session_health(store: Store, holder: Any) -> SessionHealth:
    """Return the heartbeat to show beside the lock holder `holder` (None: no session runs).

    Only the holder writes health rows while it holds the lock, so the store's newest row is its run's
    once it has written one; before that the newest row is an earlier run's and is not shown.
    """
    newest = last_health(store)
    if holder is None:
        return SessionHealth(newest, None if newest is None else newest["run_id"], False)
    run_id = holder.run_id if holder.names_run else store.live_run_id_of(holder.pid)  # None: no run row yet
    own = newest is not None and run_id is not None and newest["run_id"] == run_id
    return SessionHealth(newest if own else None, run_id, True)


def reference_levels(store: Store, trading_date: date, symbol: str | None = None) -> dict[str, Any] | None:
    """Return the frozen reference (LSE) high and low of a trading date, or None before they freeze."""
    row = store.reference_level_row(trading_date.isoformat(), symbol)
    if row is None:
        return None
    data = _payload(row[2])  # the event's data: its levels
    return {"symbol": row[0], "frozen_at": row[1], "high": data.get("high"), "low": data.get("low")}


# Tracker steps that build a structure; the events pane leaves them out so orders, fills and trades show.
_TRACKER_STEPS = ("HIGH_SET", "LOW_SET", "HIGH_CONFIRMED", "LOW_CONFIRMED", "STRUCTURE_RESET", "ARMED", "DISARMED")


def latest_events(store: Store, limit: int = 10) -> list[dict[str, Any]]:
    """Return the newest events, newest first: runs' events, setup milestones, fills and closed trades."""
    operational = store.newest_run_event_rows(limit)
    setup = store.newest_setup_event_rows(_TRACKER_STEPS, limit)
    fills = store.newest_fill_event_rows(limit)
    trades = store.newest_closed_trade_event_rows(limit)
    for row in fills:
        row["detail"] = fill_text(row["side"], row["quantity"], row["price"])
    for row in trades:
        row["detail"] = "-" if row["pnl_money"] is None else f"{money_text(row['pnl_money'])} net"
    merged = operational + setup + fills + trades
    for row in merged:
        row["payload"] = _payload(row["payload"])
    merged.sort(key=lambda row: parse_time(row["ts"]) or datetime.min.replace(tzinfo=UTC), reverse=True)
    return merged[:limit]


def latest_tick_time(store: Store, symbol: str | None = None) -> datetime | None:
    """Return the time of the newest stored tick (of a symbol, or any)."""
    value = store.newest_tick_us(symbol)
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def local_time(text: str | None, zone: ZoneInfo, with_date: bool = True) -> str:
    """Return a stored UTC time shown in the display zone (`-` when missing)."""
    moment = parse_time(text)
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def format_quantity(value: float | None) -> str:
    """Return a quantity of contracts as status, dashboard and the web page write them (`1`, `2`), or `-`."""
    return "-" if value is None else f"{value:g}"


def fill_text(side: str | None, quantity: float | None, price: float | None) -> str:
    """Return a fill as the dashboard's events and the web page's chart show it: `SELL 1 @ 25,271.00`.

    The side is the trader's word (BUY or SELL) for IB's BOT/SLD (or BUY/SELL), the numbers are status's.
    """
    word = "BUY" if str(side or "").upper().startswith("B") else "SELL" if side else "-"
    return f"{word} {format_quantity(quantity)} @ {price_text(price)}"

