"""Printing rich tables whole: a number is never cut to '2…' to fit rich's width."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


def wide_console(*renderables: RenderableType) -> Console:
    """Return a stdout Console at least as wide as the widest renderable wants.

    Off a terminal rich assumes 80 columns and shrinks `no_wrap` cells to an ellipsis; a listing
    piped to a file or read on a narrow terminal must still show whole numbers and times.
    """
    from rich.console import Console
    from rich.measure import Measurement

    console = Console()
    options = console.options.update_width(10_000)
    widest = max((Measurement.get(console, options, renderable).maximum for renderable in renderables), default=0)
    return console if widest <= console.width else Console(width=widest)
