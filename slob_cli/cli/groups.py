"""A click group whose command list shows each command's whole first sentence (the root and its sub-apps)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperGroup

if TYPE_CHECKING:  # typer >= 0.20 vendors click: its groups take these, not click's own
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter


class WholeHelpGroup(TyperGroup):
    """List commands with their whole first sentence (click would cut it at ~45 characters, mid-word)."""

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """Write one line per command with its whole first sentence."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
