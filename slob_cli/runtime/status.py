"""What `slob status` reports: runs, the lock holder, open setups, orders, positions, P&L, health."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone, tzinfo
from typing import Any

from slob_cli.core.timefmt import iso_z
from slob_cli.errors import StoreError, StoreMissing, StoreNeedsMigration
from slob_cli.runtime import views
from slob_cli.runtime.lock import LockHolder, current_holder, holds_run, last_pulse, process_stopped

DEFAULT_HEARTBEAT_MAX_AGE = 60.0  # real seconds; `status --check --max-age`, and the mark of dashboard and web


@dataclass(frozen=True)
class Liveness:
    """Whether the session holding the lock shows life now: one verdict for status, dashboard and web.

    A wall-clock session is judged by its newest heartbeat (a health row every 8 s). A run on a
    simulated clock writes its health rows on virtual time (every 15 virtual minutes under lockstep,
    so they are the same at any speed): their age says nothing of now, so it is judged by the
    real-time pulse its engine (or recorder) puts on the lock record (`lock.pulse`). `age_seconds` is
    always real seconds; the heartbeat's own age stays on the run's clock (`heartbeat_clock`).

    A session started by an older slob never pulses (its lock record does not say `pulses`): on a
    simulated clock, or with no heartbeat at all (an older `record`), nothing in real time can judge
    it, so its process does: "unknown" (alive, `note` says why it is not judged) unless the process
    is stopped (then "stale"). A wall-clock session with heartbeats is judged by them, as ever.

    Only the holder's own run's heartbeats count (views.session_health). In a session's first seconds,
    before its first heartbeat, a session that pulses is judged by its pulse (the lock's taking is the
    first): "no heartbeat yet, started N s ago", never an earlier run's heartbeat.
    """

    state: str  # "fresh", "stale", "silent" (no sign of life yet), "unknown" (see above) or "none" (no session)
    age_seconds: float | None  # real seconds since the last sign of life
    sign: str | None  # "heartbeat" (its newest health row), "pulse" (the lock record) or "process" (no pulse)
    limit_seconds: float
    heartbeat_clock: str  # whose clock the heartbeat's age is read on: "wall" or "sim"
    note: str | None = None  # why a session is judged by its process only, e.g. "no pulse: started by an older slob"
    started_seconds: float | None = None  # real seconds since the holder took the lock (None: not known)
    clock_label: str | None = None  # the simulated clock the heartbeat's age is read on (views.StoreClock.label)

    @property
    def stale(self) -> bool:
        """Return True when a running session has shown no life within the limit."""
        return self.state in ("stale", "silent")

    def problem(self, holder: LockHolder | None) -> str | None:
        """Return why the session is unhealthy (one line), or None."""
        if holder is None or self.state == "none":
            return "no slob session holds the lock"
        if self.state == "silent":
            return f"{holder.describe()} has written no heartbeat"
        if self.state == "stale" and self.sign == "process":
            return f"{holder.describe()} is stopped ({self.note})"
        if self.state == "stale":  # its age worded as every screen words ages (views.ago), the limit likewise
            limit = self.limit_text()
            if self.sign == "heartbeat":
                return f"last heartbeat {views.ago(self.age_seconds)} ({limit})"
            if self.heartbeat_clock == "sim":
                return f"last sign of life of its sim run {views.ago(self.age_seconds)} (real time; {limit})"
            before = self.heartbeat_text(None, writes_heartbeats(holder))
            return f"{before}; its last pulse {views.ago(self.age_seconds)} ({limit})"
        return None

    def limit_text(self) -> str:
        """Return the age limit as the verdicts word it, fresh or stale: `limit 1 min` (views.human_age)."""
        return f"limit {views.human_age(self.limit_seconds)}"

    def stale_text(self, holder: LockHolder | None) -> str | None:
        """Return the running session's stale verdict as status's `Alive:` line, the dashboard and the web page
        show it (`STALE, last heartbeat 1 min 15 s ago (limit 1 min)`); None while it shows life or none runs."""
        return f"STALE, {self.problem(holder)}" if self.stale else None  # stale means a holder: none is state "none"

    def heartbeat_text(self, health_age: float | None, heartbeats: bool = True) -> str:
        """Return `heartbeat 5 s ago`, or before the session's first: `no heartbeat yet, started 3 s ago`.

        A holder that writes no heartbeats (`heartbeats=False`: `slob migrate`) is only `started 3 s ago`.
        """
        if health_age is not None:
            return f"heartbeat {self.heartbeat_age(health_age)}"
        none = "no heartbeat yet" if heartbeats else ""
        started = self.started_age()
        if started is None:
            return none or "started at an unknown time"
        return ", ".join(part for part in (none, f"started {started}") if part)

    def heartbeat_age(self, health_age: float | None) -> str:
        """Return a heartbeat's age as people say it, naming the simulated clock it is read on (StoreClock.label)."""
        on = f" on the {self.clock_label}" if self.clock_label else ""
        return "none yet" if health_age is None else f"{views.ago(health_age)}{on}"

    def alive_age(self) -> str | None:
        """Return how long ago the session last showed life (real time), e.g. `2 s ago`; None when not known."""
        return None if self.age_seconds is None else views.ago(self.age_seconds)

    def started_age(self) -> str | None:
        """Return how long ago the holder took the lock (real time), e.g. `3 s ago`; None when not known."""
        return None if self.started_seconds is None else views.ago(self.started_seconds)

    def describe(self, health_age: float | None, heartbeats: bool = True) -> str:
        """Return the sign of life and the heartbeat, e.g. `alive 2 s ago (real time), heartbeat 7 min ago on the
        simulated clock of sim run 2 (running)`."""
        heartbeat = self.heartbeat_text(health_age, heartbeats)
        if self.sign == "process":
            return f"alive ({self.note}; judged by its process only), {heartbeat}"
        if self.sign != "pulse":
            return heartbeat
        return f"alive {self.alive_age()} (real time), {heartbeat}"

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {**asdict(self), "stale": self.stale}


def writes_heartbeats(holder: LockHolder) -> bool:
    """Return False for `slob migrate`: it pulses while it upgrades, but no heartbeat ever comes from it."""
    return holder.command != "migrate"


def running_text(holder: LockHolder, simulated: bool, zone: tzinfo | None = None) -> str:
    """Return the lock holder as status, dashboard and web name it, e.g. `slob run (pid 42, since ...)`.

    Its start (the lock's taking) is on the wall clock; beside a simulated "now" (a sim run's own clock)
    that is said: `since 2026-12-05 09:07:48 on the wall clock`.
    """
    return holder.describe(zone, "wall" if simulated else None)


def judge_liveness(db_path: str | os.PathLike[str], clock: views.StoreClock, running: LockHolder | None,
                   health_age: float | None, wall_now: datetime,
                   limit: float = DEFAULT_HEARTBEAT_MAX_AGE) -> Liveness:
    """Judge the lock holder's liveness: by its heartbeat on the wall clock, by its pulse on a simulated one.

    `health_age` is the age of the holder's own run's newest heartbeat (views.session_health), None before its first.
    """
    heartbeat_clock = "sim" if clock.simulated else "wall"
    if running is None:
        return Liveness("none", None, None, limit, heartbeat_clock, clock_label=clock.label)
    started = views.parse_time(running.started_at)
    since = None if started is None else round(max((wall_now - started).total_seconds(), 0.0), 1)
    return replace(_judge(db_path, clock, running, health_age, wall_now, limit, heartbeat_clock),
                   started_seconds=since, clock_label=clock.label)


def _judge(db_path: str | os.PathLike[str], clock: views.StoreClock, running: LockHolder, health_age: float | None,
           wall_now: datetime, limit: float, heartbeat_clock: str) -> Liveness:
    if clock.simulated and not clock.run_ended:  # the newest run, a sim run, is the holder
        if running.pulses is None:  # it never pulses: the lock record's time is only when it was taken
            return _by_process(running, limit, heartbeat_clock)
        age, sign = _pulse_age(db_path, wall_now), "pulse"
    else:
        age, sign = (None if health_age is None else round(health_age, 1)), "heartbeat"
        if age is None and running.pulses:  # before its first heartbeat: its pulses (the lock's taking first)
            age, sign = _pulse_age(db_path, wall_now), "pulse"
        if age is None and running.pulses is None:  # e.g. an older `record`, which wrote no heartbeats
            return _by_process(running, limit, heartbeat_clock)
    if age is None:
        return Liveness("silent", None, sign, limit, heartbeat_clock)
    return Liveness("stale" if age > limit else "fresh", age, sign, limit, heartbeat_clock)


@dataclass(frozen=True)
class SessionHeader:
    """What status, dashboard and web show first: the lock holder, its heartbeat and liveness, whose clock.

    One reading (read_header) for all three, so they show the same holder and the same figures.
    """

    clock: views.StoreClock  # whose clock `now` and the heartbeat's age are read on
    running: LockHolder | None  # the live lock holder, read once (lock.current_holder)
    beat: views.SessionHealth  # whose heartbeat is shown: the holder's own run's, else the last run's
    health_age: float | None  # the heartbeat's age on `clock`, to a tenth of a second (None: no heartbeat shown)
    liveness: Liveness  # the holder's verdict, in real seconds

    @property
    def health(self) -> dict[str, Any] | None:
        """Return the heartbeat row shown (views.session_health), or None."""
        return self.beat.row

    @property
    def connected(self) -> bool | None:
        """Return the running session's gateway link by its heartbeat (None: no session runs, or none written)."""
        return None if self.running is None or self.beat.row is None else self.beat.row["connected"]


def read_header(store: Any, db_path: str | os.PathLike[str], wall_now: datetime,
                max_age: float = DEFAULT_HEARTBEAT_MAX_AGE, memo: views.StoreMemo | None = None) -> SessionHeader:
    """Read the header of status, dashboard and web: the lock holder once, its heartbeat, liveness and clock.

    The heartbeat's age is rounded once, here, so every surface shows the same whole seconds of it.
    With a memo, the heartbeat row is kept while the store and the holder are unchanged.
    """
    running = current_holder(db_path)
    clock = views.store_clock(store, wall_now, running)
    if memo is None:
        beat = views.session_health(store, running)
    else:
        beat = memo.reader(store, running)("health", lambda: views.session_health(store, running))
    age = beat.age(clock.now)
    health_age = None if age is None else round(age, 1)
    liveness = judge_liveness(db_path, clock, running, health_age, wall_now, max_age)
    return SessionHeader(clock, running, beat, health_age, liveness)


def age_texts(header: SessionHeader, tick_age: float | None) -> dict[str, str | None]:
    """Return the text of every age a header shows, worded as status and dashboard print them (None: not shown).

    `last_tick` (`3 s ago`), `heartbeat` (`7 min ago on the simulated clock of sim run 2 (running)`), `alive`
    (`1 s ago`, real time)
    and `started` (`3 s ago`, real time): the web page shows these texts instead of wording ages itself.
    """
    live = header.liveness
    return {"last_tick": None if tick_age is None else views.ago(tick_age),
            "heartbeat": None if header.health_age is None else live.heartbeat_age(header.health_age),
            "alive": live.alive_age(), "started": live.started_age()}


class StoreBeingMade(StoreError):
    """The store cannot be read yet: the session holding its lock is creating or upgrading it."""

    def __init__(self, holder: LockHolder, liveness: Liveness, doing: str) -> None:
        self.holder = holder
        self.liveness = liveness
        self.what = f"{holder.describe()} is {doing}"  # e.g. `slob run (pid 42, since ...) is creating the store`
        self.life = liveness.describe(None, writes_heartbeats(holder))  # its sign of life
        super().__init__(f"{self.what}, {self.life}: nothing in it can be read until it has finished")


def open_for_reading(db_path: str | os.PathLike[str], limit: float = DEFAULT_HEARTBEAT_MAX_AGE) -> Any:
    """Open the store read-only (status, dashboard, web); raise StoreBeingMade while a session makes it ready.

    A session of this slob creates a new store (its lock made the file, still empty) or upgrades an
    older one as it opens it; nothing in it can be read meanwhile, so the session is judged by its
    pulse alone (its start pulse shows life meanwhile). With no pulsing session holding the lock, the
    store is missing or needs a migration, and that error stands.
    """
    from slob_cli.adapters.store import Store

    try:
        return Store.open(db_path, readonly=True)
    except StoreNeedsMigration as exc:
        error: StoreError = exc
        doing = f"upgrading the store (schema v{exc.version} to v{exc.target})" if exc.version else "creating the store"
    except StoreMissing as exc:
        if not exc.empty:
            raise
        error, doing = exc, "creating the store"
    holder = current_holder(db_path)
    if holder is None or not holder.pulses:
        raise error
    wall_now = datetime.now(timezone.utc)
    # No run of the store can be read, so no run's clock: the wall clock's, on which its pulse is kept.
    # With no heartbeat to read (None), a session that pulses is judged by its pulse (_judge).
    verdict = judge_liveness(db_path, views.StoreClock(wall_now), holder, None, wall_now, limit)
    raise StoreBeingMade(holder, verdict, doing) from None


def open_when_ready(db_path: str | os.PathLike[str], wait: float, notice: Callable[[str], None],
                    limit: float = DEFAULT_HEARTBEAT_MAX_AGE, interval: float = 0.2) -> Any:
    """Open the store read-only (dashboard, web), waiting up to `wait` real seconds while a session makes it ready.

    Says once, through `notice`, whom it waits for: always when it waits at all (`wait` > 0, a live maker), however
    long the first look took on a loaded machine. A maker that is stale (hung), or still at work when the wait is
    over (a last look at its end), raises its StoreBeingMade as open_for_reading does; any other error stands at once.
    """
    import time

    ends = time.monotonic() + wait
    told = False
    while True:
        try:
            return open_for_reading(db_path, limit)
        except StoreBeingMade as exc:
            left = ends - time.monotonic()
            if exc.liveness.stale or wait <= 0 or (told and left <= 0):
                raise
            if not told:
                notice(f"{exc.what}, {exc.life}: waiting up to {wait:g} s for it to finish")
                told = True
        time.sleep(min(interval, max(left, 0.0)))


def _pulse_age(db_path: str | os.PathLike[str], wall_now: datetime) -> float | None:
    """Return the real seconds since the holder's last pulse (or its taking of the lock), or None."""
    moment = last_pulse(db_path)
    return None if moment is None else round(max((wall_now - moment).total_seconds(), 0.0), 1)


def _by_process(running: LockHolder, limit: float, heartbeat_clock: str) -> Liveness:
    """Judge a holder that never pulses by its process: alive unless stopped (it holds the lock, it is no zombie)."""
    older = not (running.command == "session" and running.started_at == "unknown")
    note = "no pulse: started by an older slob" if older else "no pulse: its lock record is missing"
    state = "stale" if process_stopped(running.pid) else "unknown"
    return Liveness(state, None, "process", limit, heartbeat_clock, note)


@dataclass(frozen=True)
class StatusReport:
    """A read-only picture of one store at one moment."""

    db_path: str
    now: str
    running: LockHolder | None
    runs: list[dict[str, Any]]
    open_setups: list[dict[str, Any]]
    working_orders: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    today: dict[str, Any]
    health: dict[str, Any] | None  # the running session's own newest heartbeat; with none running, the last run's
    health_age_seconds: float | None
    clock: dict[str, Any] | None = None  # whose clock `now`, `today` and the ages are read on
    liveness: Liveness | None = None  # the holder's verdict, in real seconds
    connected: bool | None = None  # the gateway link of the running session (None: no session runs)
    backtests: list[dict[str, Any]] = field(default_factory=list)  # the newest `slob backtest` runs
    health_of: dict[str, Any] | None = None  # whose heartbeat `health` is (views.SessionHealth.to_dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        data = asdict(self)
        data["running"] = asdict(self.running) if self.running else None
        data["liveness"] = self.liveness.to_dict() if self.liveness else None
        return data


def collect_status(store: Any, db_path: str | os.PathLike[str], now: datetime, run_limit: int = 10,
                   memo: views.StoreMemo | None = None,
                   max_age: float = DEFAULT_HEARTBEAT_MAX_AGE) -> StatusReport:
    """Read the status of a store (open it read-only) as of `now`; never locks, never writes.

    With a memo (a reader that asks often), rows are read again only when the store has changed;
    the clock, the ages and the lock holder (once: read_header) are read every time.
    """
    header = read_header(store, db_path, now, max_age, memo)
    running, now = header.running, header.clock.now
    read = memo.reader(store, running) if memo is not None else (lambda key, compute: compute())
    orders, positions = read("book", lambda: views.live_book(store, running))
    trading_date = views.trading_date_of(now)
    return StatusReport(
        db_path=os.fspath(db_path),
        now=iso_z(now) or "",  # never None: now is an instant
        running=running,
        runs=[_with_state(run, running) for run in read(("runs", run_limit), lambda: views.recent_runs(store, run_limit))],
        open_setups=read("open_setups", lambda: views.open_setups(store)),
        working_orders=orders,
        positions=positions,
        today=read(("today", trading_date), lambda: views.day_pnl(store, trading_date)),
        health=header.health,
        health_age_seconds=header.health_age,
        clock=header.clock.to_dict(),
        liveness=header.liveness,
        connected=header.connected,
        backtests=read("backtests", lambda: views.backtest_runs(store)),
        health_of=header.beat.to_dict(),
    )


def _with_state(run: dict[str, Any], running: LockHolder | None) -> dict[str, Any]:
    """Return a run row with its `state`: ended (an exit code), running (its process holds the lock) or died."""
    if run["exit_code"] is not None:
        state = "ended"
    else:
        state = "running" if holds_run(running, run["id"], run["pid"]) else "died"
    return {**run, "state": state}


def check_health(report: StatusReport) -> str | None:
    """Return why the session is unhealthy, or None when a live holder shows life within the limit."""
    if report.liveness is None:
        return "no slob session holds the lock"
    return report.liveness.problem(report.running)
