"""Render a validation Report as Markdown, JSON or a rich table, and write the files next to the db."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from slob_cli.core.pnl import money_text, points_text
from slob_cli.core.validation import Report
from slob_cli.errors import InputError


def report_dict(report: Report, strict: bool = False, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the report as JSON-ready data: verdict, criteria, figures and run metadata."""
    return {
        "passed": report.passed(strict),
        "strict": strict,
        "verdict": report.verdict(strict),
        "meta": meta or {},
        "criteria": [
            {"name": c.name, "passed": c.passed, "severity": c.severity.value, "detail": c.detail}
            for c in report.criteria
        ],
        "figures": report.figures,
    }


def to_json(report: Report, strict: bool = False, meta: dict[str, Any] | None = None) -> str:
    """Return the report as indented JSON text."""
    return json.dumps(report_dict(report, strict, meta), indent=2, default=str)


def _mark(passed: bool, severity: str) -> str:
    if passed:
        return "PASS"
    return "FAIL" if severity == "error" else "WARN"


# The figures that are money (the JSON keeps their numbers): signed, or not (commission).
_MONEY = {"pnl.money": True, "pnl.commission": False}
# The figures that are points, signed as status and the session summary write them.
_POINTS = {"pnl.points", "entry_slippage_points.mean", "entry_slippage_points.worst"}


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report, strict: bool = False, meta: dict[str, Any] | None = None) -> str:
    """Return the report as a Markdown document."""
    data = report_dict(report, strict, meta)
    lines = ["# slob paper validation", "", f"**Verdict: {data['verdict']}**" + (" (strict)" if strict else ""), ""]
    for key, value in (meta or {}).items():
        lines.append(f"- {key}: {_cell(value)}")
    if meta:
        lines.append("")
    lines += ["## Criteria", "", "| result | criterion | severity | detail |", "|---|---|---|---|"]
    for c in data["criteria"]:
        lines.append(f"| {_mark(c['passed'], c['severity'])} | {c['name']} | {c['severity']} | {_cell(c['detail'])} |")
    lines += ["", "## Figures", "", "| figure | value |", "|---|---|"]
    for key, value in _flatten(report.figures):
        if key in _MONEY and isinstance(value, int | float):  # as status and the session summary write it
            value = money_text(value, signed=_MONEY[key])
        elif key in _POINTS and isinstance(value, int | float):
            value = points_text(value)
        lines.append(f"| {key} | {_cell(value)} |")
    return "\n".join(lines) + "\n"


def _flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat += _flatten(value, name + ".")
        else:
            flat.append((name, "-" if value is None or value == {} else value))
    return flat


def to_table(report: Report, strict: bool = False) -> Table:
    """Return the criteria as a rich table titled with the verdict."""
    table = Table(title=f"Validation: {report.verdict(strict)}", title_justify="left")
    for column in ("result", "criterion", "severity", "detail"):  # the tokens never fold; names and details wrap
        table.add_column(column, overflow="fold", no_wrap=column in ("result", "severity"))
    styles = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}
    for c in report.criteria:
        mark = _mark(c.passed, c.severity.value)
        table.add_row(f"[{styles[mark]}]{mark}[/]", c.name, c.severity.value, c.detail)
    return table


def write_report(
    report: Report, base: Path, strict: bool = False, meta: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write `<base>.md` and `<base>.json`; return both paths (InputError, one line, when they cannot be)."""
    markdown, json_path = base.with_name(base.name + ".md"), base.with_name(base.name + ".json")
    check_report_base(base)
    try:
        markdown.write_text(to_markdown(report, strict, meta), encoding="utf-8")
        json_path.write_text(to_json(report, strict, meta) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {markdown} and .json: {exc.strerror or exc}") from None
    return markdown, json_path


def check_report_base(base: Path) -> None:
    """Refuse (InputError) a report place that cannot be written, before a run whose end writes it starts."""
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the report to {base}.md and .json: {exc.strerror or exc}") from None
    if not os.access(base.parent, os.W_OK):
        raise InputError(f"cannot write the report to {base}.md and .json: {base.parent} is not writable")
    for target in (base.with_name(base.name + ".md"), base.with_name(base.name + ".json")):
        if target.is_dir():
            raise InputError(f"cannot write the report to {base}.md and .json: {target} is a directory")
    try:  # access() says yes to root everywhere (/proc too): only a file made there tells
        handle, probe = tempfile.mkstemp(prefix=".slob-report-", dir=base.parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write the report to {base}.md and .json: {exc.strerror or exc}") from None


def default_report_base(db_path: Path, run_id: int) -> Path:
    """Return where a run's report goes by default: beside the db, named by the run."""
    return db_path.with_name(f"{db_path.stem}-paper-run{run_id}")
