"""The layers of docs/architecture.md hold: read slob_cli's import graph with `ast` and check it.

Every import counts, also the lazy ones inside functions. The rules:
- core/ imports nothing of ours but core/ and `errors`;
- adapters/ never import runtime/, sim/ or the doors (cli/, web/);
- sim/ never imports adapters/ib, runtime/ or the doors (its replay reads recorded ticks through
  the store: `adapters/store` is the one adapter it may use);
- runtime/ never imports the doors: cli/ and web/ call runtime, never the other way round;
- web/ (the `slob web` dashboard) never imports cli/, sim/ or adapters/ib;
- the shared leaves (`errors`, `aio`) import nothing of ours.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "slob_cli"

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "slob_cli.adapters": ("slob_cli.runtime", "slob_cli.cli", "slob_cli.web", "slob_cli.sim"),
    "slob_cli.sim": ("slob_cli.adapters.ib", "slob_cli.runtime", "slob_cli.cli", "slob_cli.web"),
    "slob_cli.runtime": ("slob_cli.cli", "slob_cli.web"),
    # web/ is a presentation layer beside cli/: read models from runtime/, never the broker or the sim
    "slob_cli.web": ("slob_cli.cli", "slob_cli.sim", "slob_cli.adapters.ib"),
}
CORE_MAY_IMPORT = ("slob_cli.core", "slob_cli.errors")
LEAVES = ("slob_cli.errors", "slob_cli.aio")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """Return the dotted module name of a file under the package root."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[str, int]]:
    """Return every slob_cli module a file imports (anywhere in it) with the line of the import."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from slob_cli.runtime import clock` imports the module slob_cli.runtime.clock
            found.extend((f"{target}.{alias.name}", node.lineno) for alias in node.names)
    return [(name, line) for name, line in found if name == "slob_cli" or name.startswith("slob_cli.")]


def within(name: str, prefix: str) -> bool:
    """Tell whether module `name` is `prefix` or lies inside it."""
    return name == prefix or name.startswith(prefix + ".")


def broken_rules(module: str, imported: str) -> str | None:
    """Return the rule an import breaks, or None when it is allowed."""
    if within(module, "slob_cli.core"):
        if not any(within(imported, allowed) for allowed in CORE_MAY_IMPORT):
            return "core imports nothing of ours but core and errors"
    for leaf in LEAVES:
        if within(module, leaf):
            return f"{leaf} is a leaf: it imports nothing of ours"
    for layer, forbidden in FORBIDDEN.items():
        if within(module, layer):
            for target in forbidden:
                if within(imported, target):
                    return f"{layer} never imports {target}"
    return None


def layer_breaks(root: Path = PACKAGE) -> list[str]:
    """Return one line per import statement under root that breaks a rule."""
    breaks = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        reported: set[int] = set()
        for imported, line in imported_modules(path, root):
            rule = broken_rules(module, imported)
            if rule is not None and line not in reported:
                reported.add(line)
                breaks.append(f"{path.relative_to(root.parent)}:{line} imports {imported}: {rule}")
    return breaks


def test_every_import_in_slob_cli_keeps_the_layers() -> None:
    assert layer_breaks() == []


def test_the_graph_sees_every_layer() -> None:
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    for layer in ("slob_cli.core", "slob_cli.adapters", "slob_cli.runtime", "slob_cli.cli", "slob_cli.sim"):
        assert any(within(module, layer) for module in modules), layer


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("core/bad.py", "import slob_cli.adapters.store\n", "core imports nothing of ours"),
        ("core/bad.py", "def f():\n    from slob_cli.runtime.clock import SystemClock\n", "core imports nothing"),
        ("core/bad.py", "from ..settings import Settings\n", "core imports nothing of ours"),
        ("adapters/bad.py", "def f():\n    from slob_cli.runtime import logging\n", "never imports slob_cli.runtime"),
        ("adapters/ib/bad.py", "from ...cli import main\n", "never imports slob_cli.cli"),
        ("sim/bad.py", "from slob_cli.adapters.ib.codes import classify\n", "never imports slob_cli.adapters.ib"),
        ("sim/bad.py", "from slob_cli.adapters import ib\n", "never imports slob_cli.adapters.ib"),
        ("sim/bad.py", "import slob_cli.runtime.clock\n", "never imports slob_cli.runtime"),
        ("runtime/bad.py", "async def f():\n    from slob_cli.cli.main import app\n", "never imports slob_cli.cli"),
        ("runtime/bad.py", "from slob_cli.web.server import serve_web\n", "never imports slob_cli.web"),
        ("aio.py", "from slob_cli.errors import SlobError\n", "is a leaf"),
    ],
)
def test_an_import_against_the_rules_is_reported(
    tmp_path: Path, module: str, source: str, rule: str
) -> None:
    root = tmp_path / "slob_cli"
    path = root / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    breaks = layer_breaks(root)
    assert len(breaks) == 1 and rule in breaks[0], breaks


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("core/ok.py", "from slob_cli.core.models import Tick\nfrom slob_cli.errors import SlobError\n"),
        ("adapters/ok.py", "from slob_cli.core.clock import Clock\nfrom slob_cli.aio import first_of\n"),
        ("sim/ok.py", "from slob_cli.adapters.store import Store\n"),
        ("runtime/ok.py", "def f():\n    from slob_cli.sim.gateway import SimGatewayThread\n"),
        ("cli/ok.py", "from slob_cli.runtime.engine import Engine\n"),
    ],
)
def test_an_allowed_import_is_not_reported(tmp_path: Path, module: str, source: str) -> None:
    root = tmp_path / "slob_cli"
    path = root / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    assert layer_breaks(root) == []
