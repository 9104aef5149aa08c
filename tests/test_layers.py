"""The layers of docs/architecture.md hold: read slob_cli's import graph with `ast` and check it.

Every import counts, also the lazy ones inside functions. The rules:
- core/ imports nothing of ours but core/ and `errors`;
- adapters/ never import runtime/, sim/ or the doors (cli/, web/);
- sim/ never imports adapters/ib, runtime/ or the doors (its replay reads recorded ticks through
  the store: `adapters/store` is the one adapter it may use);
- runtime/ never imports the doors: cli/ and web/ call runtime, never the other way round;
- web/ (the `slob web` dashboard) never imports cli/, sim/ or adapters/ib;
- the shared leaves (`errors`, `aio`) import nothing of ours;
- only adapters/store/ speaks SQL: no other module holds SQL statement text or touches the
  store's connection (`store.conn`, `._conn`); everyone else calls the store's named methods.
"""

from __future__ import annotations

import ast
import re
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
STORE_PACKAGE = "slob_cli.adapters.store"
# A string that starts like an SQL statement (the house writes SQL keywords in capitals): a keyword, then more.
SQL_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|PRAGMA|WITH|EXPLAIN)\s+\S")


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


def _is_a_store(node: ast.expr) -> bool:
    """Tell whether an expression names a store: `store`, `self.store`, `harness.store`, `reader_store`."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name.lower().endswith("store")


def sql_leaks(root: Path = PACKAGE) -> list[str]:
    """Return one line per place outside adapters/store that holds SQL text or reaches for the store's connection."""
    leaks = []
    for path in sorted(root.rglob("*.py")):
        if within(module_name(path, root), STORE_PACKAGE):
            continue
        where = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.match(node.value):
                statement = node.value.strip().splitlines()[0][:60]
                leaks.append(f"{where}:{node.lineno} holds SQL ({statement!r}): only adapters/store speaks SQL")
            elif isinstance(node, ast.Attribute) and (
                node.attr == "_conn" or (node.attr == "conn" and _is_a_store(node.value))
            ):
                leaks.append(f"{where}:{node.lineno} touches {ast.unparse(node)}: the store's connection is private")
    return leaks


def plant(tmp_path: Path, module: str, source: str) -> Path:
    """Write one module into a scratch package tree and return its root (`.../slob_cli`)."""
    root = tmp_path / "slob_cli"
    path = root / module
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return root


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
    root = plant(tmp_path, module, source)
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
    root = plant(tmp_path, module, source)
    assert layer_breaks(root) == []


def test_only_the_store_speaks_sql() -> None:
    assert sql_leaks() == []


@pytest.mark.parametrize(
    ("module", "source", "found"),
    [
        ("runtime/bad.py", 'ROWS = "SELECT count(*) FROM ticks"\n', "holds SQL ('SELECT count(*) FROM ticks')"),
        ("cli/bad.py", 'def f(symbol):\n    return f"  DELETE FROM ticks WHERE symbol = {symbol}"\n', "DELETE FROM"),
        ("web/bad.py", 'SQL = (\n    "UPDATE orders SET status = ?"\n    " WHERE order_ref = ?"\n)\n', "UPDATE orders"),
        ("runtime/bad.py", 'def f(conn):\n    conn.execute("PRAGMA data_version")\n', "PRAGMA data_version"),
        ("runtime/bad.py", "def f(store):\n    return store.conn\n", "touches store.conn"),
        ("web/bad.py", "def f(self):\n    return self.store._conn.total_changes\n", "touches self.store._conn"),
        ("adapters/ib/bad.py", "def f(reader):\n    return reader._conn\n", "touches reader._conn"),
    ],
)
def test_sql_outside_the_store_is_reported(tmp_path: Path, module: str, source: str, found: str) -> None:
    root = plant(tmp_path, module, source)
    leaks = sql_leaks(root)
    assert len(leaks) == 1 and found in leaks[0] and leaks[0].startswith(f"slob_cli/{module}:"), leaks


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("adapters/store/ok.py", 'def f(self):\n    return self._conn.execute("SELECT 1 FROM ticks")\n'),
        ("runtime/ok.py", 'def f(store):\n    """Update the views; select what changed."""\n    return store.tick_count()\n'),
        ("adapters/ib/ok.py", "def f(ib):\n    return ib.client.conn\n"),
        ("runtime/ok.py", 'KIND = "UPDATE"\nWORDS = "Selected WITH care"\n'),
    ],
)
def test_store_code_and_words_that_only_look_like_sql_are_not_reported(tmp_path: Path, module: str,
                                                                     source: str) -> None:
    root = plant(tmp_path, module, source)
    assert sql_leaks(root) == []
