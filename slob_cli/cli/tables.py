"""Printing rich tables whole: a number is never cut to '2…' to fit rich's width."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.table import Column


def wide_console(*renderables: RenderableType) -> Console:
    """Return a stdout Console at least as wide as the widest renderable wants.

    Off a terminal rich assumes 80 columns and shrinks `no_wrap` cells to an ellipsis; a listing
    piped to a file or read on a narrow terminal must still show whole numbers and times.
    """
    from rich.measure import Measurement

    return _console_for(renderables, lambda console, options, renderable: Measurement.get(
        console, options, renderable).maximum)


def fitting_console(*renderables: RenderableType) -> Console:
    """Return a stdout Console (the terminal's width, or 80 off one) widened only when a renderable cannot fit.

    Tables built so their text columns fold (runtime/dashboard_view.listing_table) keep the
    terminal's width; one whose whole columns alone are wider gets the width it needs, so rich
    never cuts a number to fit. Off a terminal a folding column keeps its longest word whole too.
    """
    return _console_for(renderables, _narrowest)


def needed_width(renderable: RenderableType) -> int:
    """Return the columns a renderable needs so that no `no_wrap` cell is cut (fitting_console's measure)."""
    from rich.console import Console

    console = Console()
    return _narrowest(console, console.options.update_width(10_000), renderable)


def _narrowest(console: Console, options: ConsoleOptions, renderable: RenderableType) -> int:
    """Return the width a renderable needs so rich cuts no `no_wrap` cell (nor a folding column's header).

    rich's own minimum for a table counts a `no_wrap` cell by its longest word, yet shrinks it
    with an ellipsis when the table does not fit: such a column needs its whole width. A column
    that may fold needs no more than its header's longest word on a terminal; off one (piped to a
    file or grep) it needs its longest word, so its text wraps between words and never splits one
    (a name, a time, a number). Measured with rich's public `Measurement`: the table's widest form
    (every column whole), less what each folding column's widest cell wants beyond that word.
    """
    from rich.console import Group
    from rich.measure import Measurement
    from rich.table import Table

    if isinstance(renderable, Group):
        return max((_narrowest(console, options, part) for part in renderable.renderables), default=0)
    if not isinstance(renderable, Table):  # text folds: a word longer than the terminal (a path) widens nothing
        return min(Measurement.get(console, options, renderable).minimum, console.width)
    widest = needed = Measurement.get(console, options, renderable).maximum
    for column in renderable.columns:
        if not column.no_wrap:
            needed -= max(0, _widest_cell(console, options, column) - _longest_word(console, options, column))
    if console.is_terminal or needed == widest:
        return needed
    # rich shrinks the widest folding columns evenly, whatever their longest words: two of them may
    # need more than their sum. The narrowest width (by halves) whose printout keeps every word whole.
    words = {word for column in renderable.columns if not column.no_wrap for cell in column.cells
             for word in _plain(console, cell).split()}
    while needed < widest:
        middle = (needed + widest) // 2
        if _every_word_whole(renderable, middle, words):
            widest = middle
        else:
            needed = middle + 1
    return needed


def _plain(console: Console, cell: RenderableType) -> str:
    """Return a cell's text as printed (markup rendered), or '' for a cell that is not text."""
    from rich.text import Text

    if isinstance(cell, str):
        return console.render_str(cell).plain
    return cell.plain if isinstance(cell, Text) else ""


def _every_word_whole(renderable: RenderableType, width: int, words: set[str]) -> bool:
    """Return True when the renderable printed `width` columns wide shows each of `words` on one line."""
    import io

    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    printed = out.getvalue()
    return all(word in printed for word in words)


def _longest_word(console: Console, options: ConsoleOptions, column: Column) -> int:
    """Return the narrowest a folding column may be: its header's longest word, or off a terminal any cell's."""
    from rich.measure import Measurement

    header = max((len(word) for word in str(column.header).split()), default=1)
    if console.is_terminal:
        return header
    return max([header, *(Measurement.get(console, options, cell).minimum for cell in column.cells)])


def _widest_cell(console: Console, options: ConsoleOptions, column: Column) -> int:
    """Return the width of a column's widest cell or header, unpadded, as the table lays it out whole."""
    from rich.measure import Measurement

    if column.width is not None:
        return column.width
    widest = max(Measurement.get(console, options, cell).maximum for cell in (column.header, *column.cells))
    if column.max_width is not None:
        widest = min(widest, column.max_width)
    return max(widest, column.min_width or 0)


def _console_for(renderables: tuple[RenderableType, ...],
                 needed: Callable[[Console, ConsoleOptions, RenderableType], int]) -> Console:
    from rich.console import Console

    console = Console()
    options = console.options.update_width(10_000)
    widest = max((needed(console, options, renderable) for renderable in renderables), default=0)
    return console if widest <= console.width else Console(width=widest)
