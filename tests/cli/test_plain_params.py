"""Plain option values skip typer's pydantic adapters and come out exactly as typer's own conversion makes them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer._coercion import build_runtime_param, resolve_type_descriptor
from typer.models import OptionInfo

from slob_cli.cli.plain_params import NOT_PLAIN, PlainParam, plain_value

ROOT = Path(__file__).resolve().parents[2]
CASES: list[tuple[Any, dict[str, Any], Any]] = [
    (int, {}, 10), (int, {}, "10"), (int, {"min": 1}, "0"), (int, {"min": 1}, 1), (int, {"max": 5}, "6"),
    (int, {}, "010"), (int, {}, " 7"), (int, {}, "-3"), (int, {}, "1_0"), (int, {}, "x"), (int, {}, True),
    (int, {"clamp": True, "min": 1}, "0"),
    (float, {}, 60.0), (float, {"min": 1.0}, "0.5"), (float, {"min": 1.0}, "2"), (float, {}, "2.25"),
    (float, {}, "1e3"), (float, {}, "nan"), (float, {}, 3), (float, {}, ".5"),
    (str, {}, "INFO"), (str, {}, ""), (bool, {}, True), (bool, {}, "yes"),
    (Path, {}, "some/where.db"), (Path, {}, Path("x.db")), (Path, {}, ""), (Path, {"exists": True}, "/nope"),
    (Path, {"dir_okay": False}, "/tmp"), (Path, {"resolve_path": True}, "a/../b"),
]


def _typer(annotation: Any, info: dict[str, Any], value: Any) -> Any:
    descriptor = resolve_type_descriptor(annotation, OptionInfo(**info))
    param = SimpleNamespace(multiple=False, nargs=1, name="x", human_readable_name="--x")
    ours, theirs = PlainParam(descriptor), build_runtime_param(descriptor)
    try:
        expected: Any = theirs.coerce(value, param=param, ctx=None)
    except Exception as exc:  # noqa: BLE001 - typer's verdict, whatever its class
        expected = type(exc)
    plain = plain_value(annotation, descriptor.parameter_info, value)
    if plain is not NOT_PLAIN:
        assert not isinstance(expected, type), f"{value!r} ({annotation.__name__}, {info}): typer refuses it"
        assert plain == expected and type(plain) is type(expected)
    assert PlainParam(descriptor).coerce(None, param=param, ctx=None) is None
    return ours.coerce(value, param=param, ctx=None) if not isinstance(expected, type) else expected


@pytest.mark.parametrize(("annotation", "info", "value"), CASES)
def test_a_plain_value_converts_as_typer_converts_it(annotation: Any, info: dict[str, Any], value: Any) -> None:
    _typer(annotation, info, value)


def test_status_json_starts_without_pydantic_or_click(tmp_path: Path) -> None:
    from slob_cli.adapters.store import Store

    Store.open(tmp_path / "s.db").close()
    script = ("import sys; sys.argv = ['slob', '--db', sys.argv[1], 'status', '--json']\n"
              "from slob_cli.cli.main import run\n"
              "try:\n    run()\nexcept SystemExit as exc:\n    code = exc.code\n"
              "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'click', 'rich'}), file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "s.db")], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.stderr.strip().splitlines()[-1] == "0 []"
    assert '"runs": []' in result.stdout
