"""Finish a paper validation: gather the run's data, judge it, write the report, send the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slob_cli.adapters.alerts import Notifier
from slob_cli.core.timefmt import iso_z
from slob_cli.core.validation import Report, Thresholds, evaluate
from slob_cli.errors import ExitCode, InputError
from slob_cli.runtime.alerting import notify_verdict
from slob_cli.runtime.validation_data import EventKey, gather
from slob_cli.runtime.validation_report import default_report_base, write_report

if TYPE_CHECKING:
    from slob_cli.core.strategy.config import StrategyConfig


@dataclass(frozen=True)
class PaperOutcome:
    """A judged run: the report and where it was written."""

    run_id: int
    report: Report
    strict: bool
    markdown: Path
    json: Path
    meta: dict[str, Any] = field(default_factory=dict)  # as the written files carry it (run, database, judged_at, ...)

    @property
    def passed(self) -> bool:
        """Return True when the run passed (warnings count when strict)."""
        return self.report.passed(self.strict)

    @property
    def exit_code(self) -> int:
        """Return 0 when passed, 5 otherwise."""
        return int(ExitCode.OK if self.passed else ExitCode.VALIDATION_FAILED)


def latest_run_id(store: Any, command: str = "paper") -> int:
    """Return the id of the newest run of a command; raise InputError when there is none."""
    run_id = store.latest_run_id(command)
    if run_id is None:
        raise InputError(f"no '{command}' run in the store")
    return run_id


def recorded_duration(store: Any, run_id: int) -> str | None:
    """Return the `duration` argument a run was started with, if it recorded one."""
    import json

    text = store.run_args_text(run_id)
    try:
        args = json.loads(text) if text else {}
    except ValueError:
        return None
    value = args.get("duration") if isinstance(args, dict) else None
    return None if value is None else str(value)


def finish_validation(
    store: Any,
    run_id: int,
    target_seconds: float,
    now: datetime,
    report_base: Path | None = None,
    strict: bool = False,
    replay_config: StrategyConfig | None = None,
    crashed: bool | None = None,
    monitor_only: bool = False,
    notifier: Notifier | None = None,
    thresholds: Thresholds | None = None,
    stats: dict[str, Any] | None = None,
) -> PaperOutcome:
    """Judge one run and write `<base>.md` and `<base>.json` (default: beside the db); alert the verdict.

    `replay_config`: the strategy config the look-ahead check replays the run's stored candles with
    (None: no replay, that criterion only a warning); a day whose stored events another config computed
    is named and not judged as the run's. `slob paper` at its end and `slob report` later both judge
    here with their settings' config, so the two verdicts of one run are the same. `paper` calls it
    before its run row is closed: it passes `crashed=False` and the engine's live `stats`.
    """
    offline = None if replay_config is None else replay_run(store, run_id, replay_config, now)
    data = gather(store, run_id, target_seconds, now, offline, crashed, monitor_only, stats, replay_config)
    report = evaluate(data, thresholds)
    base = report_base or default_report_base(Path(store.path), run_id)
    # judged_at: the wall clock when it was judged, whoever judges (`now` is the run's clock: a sim's day under --sim).
    meta = {"run": run_id, "database": str(store.path), "judged_at": iso_z(datetime.now(timezone.utc)),
            "target_hours": round(target_seconds / 3600, 3), "monitor_only": monitor_only}
    markdown, json_path = write_report(report, base, strict, meta)
    if notifier is not None:
        notify_verdict(notifier, report.verdict(strict), report.passed(strict), str(markdown))
    return PaperOutcome(run_id, report, strict, markdown, json_path, meta)


def replay_run(store: Any, run_id: int, config: StrategyConfig, now: datetime) -> list[EventKey]:
    """Return the offline tracker events of the run's days (calendar with a margin either side)."""
    from datetime import timedelta

    from slob_cli.adapters.calendar import load_calendar
    from slob_cli.runtime.validation_data import offline_events, run_span

    start, end = run_span(store, run_id, now)
    margin = timedelta(days=14)
    calendar = load_calendar(start.date() - margin, end.date() + margin)
    return offline_events(store, run_id, config, calendar, now)
