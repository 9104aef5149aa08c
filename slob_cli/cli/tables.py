"""Printing rich tables whole: a number is never cut to '2…' to fit rich's width."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType


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
    never cuts a number to fit.
    """
    return _console_for(renderables, _narrowest)


def _narrowest(console: Console, options: ConsoleOptions, renderable: RenderableType) -> int:
    """Return the width a renderable needs so rich cuts no `no_wrap` cell (nor a folding column's header).

    rich's own minimum for a table counts a `no_wrap` cell by its longest word, yet shrinks it
    with an ellipsis when the table does not fit: such a column needs its whole width. A column
    that may fold needs no more than its header's longest word.
    """
    from rich.console import Group
    from rich.measure import Measurement
    from rich.table import Table

    if isinstance(renderable, Group):
        return max((_narrowest(console, options, part) for part in renderable.renderables), default=0)
    if not isinstance(renderable, Table):  # text folds: a word longer than the terminal (a path) widens nothing
        return min(Measurement.get(console, options, renderable).minimum, console.width)
    needed = renderable._extra_width
    for column in renderable.columns:
        if column.no_wrap:
            needed += renderable._measure_column(console, options, column).maximum
        else:
            header = max((len(word) for word in str(column.header).split()), default=1)
            needed += header + renderable._get_padding_width(column._index)
    return needed


def _console_for(renderables: tuple[RenderableType, ...],
                 needed: Callable[[Console, ConsoleOptions, RenderableType], int]) -> Console:
    from rich.console import Console

    console = Console()
    options = console.options.update_width(10_000)
    widest = max((needed(console, options, renderable) for renderable in renderables), default=0)
    return console if widest <= console.width else Console(width=widest)
