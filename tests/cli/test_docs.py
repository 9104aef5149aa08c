"""Help text is documentation: every command has help with an example, options have help, docs list it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from slob_cli.cli.main import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def is_group(command: Any) -> bool:
    # typer ships its own click; duck-type rather than isinstance against the `click` package.
    return hasattr(command, "commands")


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield (path, command) for every command below the root, groups included."""
    if path:
        yield path, command
    if is_group(command):
        for name, child in sorted(command.commands.items()):
            yield from walk(child, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


def test_root_registers_commands() -> None:
    assert {"candles", "demo"} <= {path[0] for path, _ in COMMANDS}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_has_help_with_example_and_option_help(path: tuple[str, ...], command: Any) -> None:
    assert (command.help or "").strip(), f"slob {' '.join(path)} has no help text"
    if not is_group(command):
        assert "Example: slob" in (command.help or ""), f"slob {' '.join(path)} help has no 'Example: slob ...'"
    for parameter in command.params:
        if parameter.param_type_name == "option" and parameter.name != "help":
            assert (parameter.help or "").strip(), f"slob {' '.join(path)} option {parameter.opts[0]} has no help"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command_is_in_docs_commands_md(path: tuple[str, ...], command: Any) -> None:
    assert f"slob {' '.join(path)}" in DOCS.read_text(), f"docs/commands.md does not mention slob {' '.join(path)}"
