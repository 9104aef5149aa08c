"""The entry point builds only the sub-command a command line names, and nothing a user sees changes.

`run()` narrows the app to the named sub-command before typer turns commands into click commands
(the cost of every start-up); each case below runs the whole tree and the narrowed one on the same
arguments and a store, and compares exit code and output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli import main
from slob_cli.cli.main import app, invoked_command, narrow_to


@pytest.fixture
def whole_tree() -> Iterator[None]:
    """Give the test the app as registered, and put it back afterwards (narrowing changes it)."""
    commands, groups = list(app.registered_commands), list(app.registered_groups)
    yield
    app.registered_commands, app.registered_groups = commands, groups


def _names() -> list[str]:
    return [info.name for info in app.registered_commands] + [info.name for info in app.registered_groups]  # type: ignore[misc]


@pytest.mark.parametrize(("args", "named"), [
    (["setups", "track", "--help"], "setups"),
    (["--db", "x.db", "status", "--json"], "status"),
    (["--db=x.db", "--log-level", "INFO", "--log-json", "candles", "stats"], "candles"),
    (["--no-log-json", "--env-file", "e", "run", "--sim"], "run"),
    (["--version"], ""),
    (["--db", "x.db", "--version", "status"], ""),
    (["--help", "--version"], None),
    (["--help", "status"], None),
    (["--bogus", "status"], None),
    ([], None),
    (["--db"], None),
])
def test_invoked_command_is_the_first_word_after_the_root_options(args: list[str], named: str | None) -> None:
    assert invoked_command(args) == named


def _cases(tmp_path: Path) -> list[list[str]]:
    db = str(tmp_path / "store.db")
    Store.open(db).close()
    cases = [[name, "--help"] for name in _names()]
    cases += [["setups", sub, "--help"] for sub in ("track", "list", "show")]
    cases += [["candles", sub, "--help"] for sub in ("aggregate", "import", "export", "show", "stats")]
    cases += [
        ["--db", db, "status", "--max-age", "-1"],
        ["--db", db, "setups", "list", "--json"],
        ["--db", db, "candles", "stats"],
        ["setups", "bogus"],
        ["status", "--bogus"],
        ["bogus"],
        ["--db", db, "candles"],
        ["--db", db, "backtest", "--from", "2026-13-01"],
        ["--version"], ["--version", "status", "--bogus"], ["--log-level", "LOUD", "--version"], ["--version", "--help"],
        ["--help", "--version"], ["--db"], ["--db", "--version"],
    ]
    return cases


def test_a_narrowed_app_answers_every_command_line_as_the_whole_tree(whole_tree: None, tmp_path: Path) -> None:
    runner = CliRunner()
    full_tree = {name: name for name in _names()}
    assert len(full_tree) == len(main.COMMAND_ORDER)
    for args in _cases(tmp_path):
        whole = runner.invoke(app, args)
        commands, groups = list(app.registered_commands), list(app.registered_groups)
        narrowed = narrow_to(invoked_command(args))
        try:
            version_only = invoked_command(args) == main.VERSION_ONLY
            assert narrowed == (version_only or args[0] in full_tree or (args[:1] == ["--db"] and len(args) > 2 and args[2] in full_tree)), args
            if narrowed:
                assert len(app.registered_commands) + len(app.registered_groups) == (0 if version_only else 1)
            alone = runner.invoke(app, args)
        finally:
            app.registered_commands, app.registered_groups = commands, groups
        assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args


def _run_building(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> list[list[str]]:
    """Run the entry point on argv (it must exit 0); return the sub-commands typer was given each time it built the app."""
    built: list[list[str]] = []
    real = main.typer.main.get_command

    def recording(typer_app):  # noqa: ANN001, ANN202
        built.append(_names())
        return real(typer_app)

    monkeypatch.setattr(main.typer.main, "get_command", recording)
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as ended:
        main.run()
    assert ended.value.code == 0
    return built


def test_run_narrows_the_app_before_typer_builds_it(whole_tree: None, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Store.open(tmp_path / "s.db").close()
    assert _run_building(monkeypatch, ["slob", "--db", str(tmp_path / "s.db"), "status", "--json"]) == [["status"]]
    assert isinstance(json.loads(capsys.readouterr().out), dict)  # status printed its JSON (its shape is tested elsewhere)


def test_version_builds_no_sub_command(whole_tree: None, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from slob_cli import __version__

    assert _run_building(monkeypatch, ["slob", "--version"]) == [[]]
    assert capsys.readouterr().out == f"slob {__version__}\n"
