"""Plain command-line values without pydantic: typer (>= 0.2x) builds a pydantic TypeAdapter for every
option it converts, even one left at its default, and importing pydantic costs more than `slob status`
does in all. Here a plain value (an absent option, a default, digits for a number, a path) is converted
the way typer's adapter would convert it; anything else (a bound crossed, a choice, a date, odd text)
still goes to typer's own adapter, so its checks and error messages stay the reference.
tests/cli/test_plain_params.py holds both conversions side by side.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

NOT_PLAIN = object()
E = TypeVar("E", bound=BaseException)
_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?")


def _within(number: float, info: Any) -> bool:
    return (info.min is None or number >= info.min) and (info.max is None or number <= info.max)


def _plain_path(value: Any, info: Any) -> Any:
    if (info.path_type is not None or info.exists or info.resolve_path or not info.file_okay or not info.dir_okay
            or info.writable or info.allow_dash):
        return NOT_PLAIN
    if isinstance(value, Path):
        path = value
    elif type(value) is str and value and "\0" not in value:
        path = Path(value)
    else:
        return NOT_PLAIN
    if info.readable and os.path.exists(path) and not os.access(path, os.R_OK):
        return NOT_PLAIN  # typer words this error
    return path


def plain_value(annotation: Any, info: Any, value: Any) -> Any:
    """Return what typer's adapter makes of a plain value of `annotation`, or NOT_PLAIN."""
    if info.parser is not None or info.clamp:
        return NOT_PLAIN
    if annotation is str or annotation is bool:
        return value if type(value) is annotation else NOT_PLAIN
    if annotation is int:
        number = int(value) if type(value) is str and _DIGITS.fullmatch(value) else value
        return number if type(number) is int and _within(number, info) else NOT_PLAIN
    if annotation is float:
        number = float(value) if type(value) is str and _DECIMAL.fullmatch(value) else value
        return float(number) if type(number) in (int, float) and _within(number, info) else NOT_PLAIN
    if annotation is Path:
        return _plain_path(value, info)
    return NOT_PLAIN


class PlainParam:
    """Stands in for typer's runtime converter of one parameter; builds typer's own only when needed."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self._full: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        """Convert one parameter's value (typer's RuntimeParam.coerce contract)."""
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if not multiple:
            plain = plain_value(self.descriptor.annotation, self.descriptor.parameter_info, value)
            if plain is not NOT_PLAIN:
                return plain
        if self._full is None:
            from typer._coercion import build_runtime_param

            self._full = build_runtime_param(self.descriptor)
        return self._full.coerce(value, param=param, ctx=ctx)


def install() -> bool:
    """Make typer's parameters convert plain values with PlainParam; return False on a typer without adapters."""
    try:
        from typer._coercion import build_runtime_param  # noqa: F401 - only its presence is checked
        from typer.core import _TyperParameter
    except ImportError:
        return False  # an older typer converts with click's types, without pydantic
    if not hasattr(_TyperParameter, "get_runtime_param"):
        return False

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            self._runtime_param = PlainParam(self.type_descriptor)
        return self._runtime_param

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
    return True


def click_errors(name: str, ours: type[E]) -> tuple[type[E], ...]:
    """Return typer's exception class `ours` and, when click is loaded, click's own class `name`.

    typer >= 0.20 raises its vendored click's exceptions; click itself (one more import on every
    start) can only have raised one when something imported it.
    """
    import sys

    click = sys.modules.get("click")
    return (ours, getattr(click.exceptions, name)) if click is not None else (ours,)
