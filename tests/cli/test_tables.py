"""cli/tables.py: a listing is printed whole (no number cut to fit), with rich's public API only."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

import slob_cli.cli.tables as tables
from slob_cli.cli.tables import fitting_console, wide_console


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


def _listing(rows: int = 3, folding_text: str = "short") -> Table:
    table = Table(title="orders", title_justify="left")
    for name in ("ref", "price", "quantity", "when"):
        table.add_column(name, no_wrap=True, overflow="fold")
    table.add_column("note", overflow="fold")
    for index in range(rows):
        table.add_row(f"NQ-20260310-S{index}-ENTRY", f"{25_491.25 + index:,.2f}", f"{1_234_567 + index:,}",
                      f"2026-03-10 14:{30 + index}:00 Europe/Stockholm", folding_text)
    return table


def _printed(console: Console, renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=console.width, color_system=None).print(renderable)
    return out.getvalue()


def test_a_table_whose_whole_columns_fit_keeps_the_terminal_width_and_folds_its_text() -> None:
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("why", overflow="fold")
    table.add_row("NQ-1", "a long reason " * 12)
    console = fitting_console(table)
    assert console.width == 80
    text = _printed(console, table)
    assert max(len(line) for line in text.splitlines()) <= 80 and "NQ-1" in text


def test_whole_columns_wider_than_the_terminal_widen_the_console_just_enough_and_nothing_is_cut() -> None:
    table = _listing(folding_text="a note that may fold over as many rows as it will " * 3)  # no word over 4
    console = fitting_console(table)
    assert console.width > 80
    text = _printed(console, table)
    assert "…" not in text
    for index in range(3):
        assert f"{25_491.25 + index:,.2f}" in text and f"{1_234_567 + index:,}" in text
        assert f"NQ-20260310-S{index}-ENTRY" in text and f"14:{30 + index}:00 Europe/Stockholm" in text
    # Just enough: the whole columns, borders and padding, and the note's header; one column less would cut.
    assert max(len(line) for line in text.splitlines()) == console.width
    narrower = _printed(Console(width=console.width - 1), table)
    whole = ["┃ note ", *(f"{25_491.25 + i:,.2f}" for i in range(3)), *(f"{1_234_567 + i:,}" for i in range(3))]
    assert all(part in text for part in whole)
    assert not all(part in narrower for part in whole)


@pytest.mark.parametrize("terminal", [False, True])
def test_piped_a_folding_column_wraps_between_words_and_never_splits_one(
        monkeypatch: pytest.MonkeyPatch, terminal: bool) -> None:
    """Piped to a file, `grep CONSOL_RANGE_INVALID` must find it: a folding column keeps its longest word whole."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1" if terminal else "0")
    reason = "CONSOL_RANGE_INVALID at 2026-03-10T14:31:00Z"
    table = _listing(folding_text=reason)
    console = fitting_console(table)
    assert console.is_terminal is terminal
    text = _printed(console, table)
    whole = "CONSOL_RANGE_INVALID" in text and "2026-03-10T14:31:00Z" in text
    assert whole is not terminal  # a terminal folds at the header's longest word; piped, every word whole
    assert reason not in text  # still text: it wraps between its words, so the table is no wider than that
    assert max(len(line) for line in text.splitlines()) == console.width


def test_wide_console_gives_every_column_its_widest_cell() -> None:
    table = _listing(folding_text="a note " * 30)
    text = _printed(wide_console(table), table)
    assert ("a note " * 30).strip() in text  # on one line: nothing folds


def test_a_group_is_as_wide_as_its_widest_table_and_plain_text_never_widens() -> None:
    table = _listing()
    group = Group(Text("/a/very/long/path/" * 10), table)
    assert fitting_console(group).width == fitting_console(table).width > 80
    assert fitting_console(Text("/a/very/long/path/" * 10)).width == 80


def test_tables_uses_no_private_rich_name() -> None:
    tree = ast.parse(Path(tables.__file__).read_text(encoding="utf-8"))
    private = sorted({node.attr for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and node.attr.startswith("_")})
    assert private == [], private
