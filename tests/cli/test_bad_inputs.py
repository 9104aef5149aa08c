"""Every bad input of issue 13: one `Error:` line (or `unhealthy:`), the documented exit code, nothing written."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slob_cli.adapters.store import Store
from slob_cli.cli.main import app
from slob_cli.core.models import Candle
from tests.sqlfile import damage_root_page, disk_nearly_full, sql_value, with_page_cap

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def _seed(db: Path, tmp: Path | None = None, candles: int = 10) -> None:
    with Store.open(db) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=i), 100.0, 101.0, 99.0, 100.0, 3.0, 2)
                              for i in range(candles)])


def _schema_abc(db: Path, tmp: Path) -> None:
    _seed(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value='abc' WHERE key='schema_version'")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _schema_negative(db: Path, tmp: Path) -> None:
    _seed(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='-1' WHERE key='schema_version'")
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()


def _corrupt_middle(db: Path, tmp: Path) -> None:
    _seed(db, tmp, candles=3000)  # many pages: damage one in the middle, not the header
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size, pages = conn.execute("PRAGMA page_size").fetchone()[0], conn.execute("PRAGMA page_count").fetchone()[0]
    with db.open("r+b") as handle:
        handle.seek(page_size * (pages // 2))
        handle.write(b"\xa5" * page_size)


def _corrupt_candles(db: Path, tmp: Path) -> None:
    _seed(db, tmp, candles=3000)
    damage_root_page(db, "candles")


def _write(name: str, data: bytes) -> Callable[[Path, Path], None]:
    def make(db: Path, tmp: Path) -> None:
        (tmp / name).write_bytes(data)
    return make


def _nothing(db: Path, tmp: Path) -> None:
    pass


# (id, prepare, environment, args, exit code, message fragment)
CASES = [
    ("show-negative-n", _nothing, {}, ["candles", "show", "-n", "-5"], 2,
     "Error: Invalid value for '-n' / '--last'"),
    ("status-negative-max-age", _nothing, {}, ["status", "--max-age", "-1"], 2, "Error: Invalid value for '--max-age'"),
    ("demo-zero-minutes", _nothing, {}, ["demo", "--minutes", "0"], 2, "Error: Invalid value for '--minutes'"),
    ("aggregate-negative-fill", _nothing, {}, ["candles", "aggregate", "--fill-gaps", "-1"], 2,
     "Error: Invalid value for '--fill-gaps'"),
    ("track-year-0001-to-9999", _seed, {}, ["setups", "track", "--from", "0001-01-01", "--to", "9999-12-31"], 2,
     "--from '0001-01-01' is outside the supported dates 1990-01-01..2099-12-31"),
    ("export-year-9999", _seed, {}, ["candles", "export", "--from", "9999-01-01T00:00Z"], 2,
     "outside the supported dates 1990-01-01..2099-12-31"),
    ("record-duration-overflow", _nothing, {}, ["record", "--port", "1", "--duration", "99999999999999h"], 2,
     "must be more than 0 s and at most 366 days"),
    ("strategy-config-not-utf8", _write("bad.toml", b"\xff\xfe[strategy]\n"), {"SLOB_STRATEGY_CONFIG": "bad.toml"},
     ["trade", "--port", "1"], 3, "is not UTF-8 text"),
    ("schema-version-abc", _schema_abc, {}, ["candles", "stats"], 3, "unreadable schema version 'abc'"),
    # no migration starts below 0: it was an unexpected KeyError (exit 1) for a writer
    ("schema-version-negative-writer", _schema_negative, {}, ["candles", "aggregate"], 3,
     "unreadable schema version '-1'"),
    ("schema-version-negative-reader", _schema_negative, {}, ["candles", "show"], 3,
     "unreadable schema version '-1'"),
    # a reader meets a damaged page only when it reads it: still a damaged store (3), not unexpected (1)
    ("corrupt-pages-candles-export", _corrupt_candles, {}, ["candles", "export"], 3, "is damaged (database disk image"),
    ("corrupt-pages-candles-stats", _corrupt_candles, {}, ["candles", "stats"], 3, "is damaged (database disk image"),
    ("corrupt-pages-on-open", _corrupt_middle, {}, ["candles", "aggregate"], 3, "is damaged"),
    # checked by a thread while the tracker reads and computes: still refused before any write
    ("corrupt-pages-setups-track", _corrupt_middle, {}, ["setups", "track", "--symbol", "NQ"], 3, "is damaged"),
    ("corrupt-pages-status-check", _corrupt_middle, {}, ["status", "--check"], 1, "unhealthy: store"),
    ("log-dir-forbidden", _nothing, {"SLOB_LOG_DIR": "/proc/forbidden"}, ["record", "--port", "1", "--duration", "1m"],
     3, "cannot write logs to '/proc/forbidden'"),
    ("env-unterminated-quote", _write(".env", b'SLOB_LOG_LEVEL="INFO\n'), {}, ["status"], 3,
     "line 1 cannot be parsed"),
    ("env-unknown-setting", _write(".env", b"SLOB_LOG_LEVEL=INFO\nslob_display_timezone=UTC\n"), {}, ["status"], 3,
     "Error: env file '.env' line 2: unknown setting slob_display_timezone (did you mean SLOB_DISPLAY_TZ?)"),
    # an empty path was the current directory: a kill switch always on (every setup skipped), or "'.' is a directory"
    ("kill-switch-path-empty", _nothing, {"SLOB_KILL_SWITCH_PATH": ""}, ["run", "--sim", "--speed", "max"], 3,
     "setting SLOB_KILL_SWITCH_PATH = '': an empty path would name the current directory"),
    ("log-dir-blank", _nothing, {"SLOB_LOG_DIR": "  "}, ["status"], 3,
     "setting SLOB_LOG_DIR = '  ': an empty path would name the current directory"),
    ("alert-url-not-a-url", _nothing, {"SLOB_ALERT_URLS": "not a url"}, ["status"], 3,
     "SLOB_ALERT_URLS: item 1 is not an apprise URL"),
    ("symbols-empty-item", _nothing, {}, ["record", "--port", "1", "--symbols", "NQ,,MNQ", "--duration", "1m"], 2,
     "--symbols 'NQ,,MNQ': an empty item in the list"),
    # a speed no clock can run at: it was an unexpected ValueError or OverflowError (exit 1)
    *((f"follow-sim-clock-{speed}", _nothing, {}, ["trade", "--port", "1", "--account", "DU1234567",
                                                   "--follow-sim-clock", speed], 2,
       "--follow-sim-clock needs a positive speed and no --duration") for speed in ("nan", "inf", "1e400")),
    # two ways to follow a simulated gateway's clock: --follow-sim-clock was ignored without a word
    ("lockstep-and-follow", _nothing, {}, ["trade", "--port", "1", "--account", "DU1234567", "--lockstep",
                                           "--follow-sim-clock", "60"], 2,
     "--lockstep follows the simulated gateway's clock: give no --duration or --follow-sim-clock"),
]


@pytest.mark.parametrize(("name", "prepare", "env", "args", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_with_its_exit_code_and_writes_nothing(
        runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
        prepare: Callable[[Path, Path], None], env: dict[str, str], args: list[str], code: int, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    db = tmp_path / "store.db"
    prepare(db, tmp_path)
    before = db.read_bytes() if db.exists() else None
    result = runner.invoke(app, ["--db", str(db), *args])
    output = (result.stderr or result.stdout).strip()
    assert result.exit_code == code, result.output
    assert message in output and len(output.splitlines()) == 1, output
    assert "Traceback" not in result.stdout + result.stderr
    if before is not None:
        assert db.read_bytes() == before, "the store is untouched"
    else:  # not even the empty file a session's run lock makes
        assert not db.exists()


def test_duplicate_symbols_are_removed_in_order() -> None:
    from slob_cli.settings import load_settings

    assert load_settings(overrides={"symbols": "nq,MNQ,NQ,mnq"}).symbols == ["NQ", "MNQ"]


def test_disk_full_is_one_store_error_naming_the_file_and_stores_nothing(tmp_path: Path) -> None:
    from slob_cli.core.models import Tick
    from slob_cli.errors import StoreError

    db = tmp_path / "full.db"
    with with_page_cap(Store.open(db), 2) as store:  # the disk is full after two pages
        ticks = [Tick("NQ", T0 + timedelta(milliseconds=i), 100.0, 1.0) for i in range(5000)]
        with pytest.raises(StoreError, match=f"disk full writing '{db}'"):
            store.insert_ticks(ticks)
        assert sql_value(store.path, "SELECT count(*) FROM ticks") == 0
        assert store.integrity_problem() is None


def test_candles_import_on_a_full_disk_is_one_line(runner: CliRunner, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    disk_nearly_full(monkeypatch, 1)
    rows = "".join(f"{(T0 + timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')},100,101,99,100,1,NQ\n"
                   for i in range(3000))
    (tmp_path / "c.csv").write_text("timestamp,open,high,low,close,volume,symbol\n" + rows)
    result = runner.invoke(app, ["--db", str(tmp_path / "s.db"), "candles", "import", str(tmp_path / "c.csv")])
    assert result.exit_code == 3 and result.stderr.startswith("Error: disk full writing"), result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_risk_only_config_of_docs_trading_md_is_accepted(tmp_path: Path) -> None:
    from slob_cli.adapters.risk_config import load_risk_config
    from slob_cli.adapters.strategy_config import load_strategy_config
    from slob_cli.core.strategy.config import StrategyConfig

    docs = (Path(__file__).parents[2] / "docs" / "trading.md").read_text(encoding="utf-8")
    example = docs.split("```toml\n[risk]", 1)[1].split("```", 1)[0]
    path = tmp_path / "risk.toml"
    path.write_text("[risk]" + example)
    assert load_strategy_config(path) == StrategyConfig()
    risk = load_risk_config(path)
    assert (risk.risk_pct, risk.max_contracts, risk.zero_size_policy) == (0.005, 2, "mnq")


def test_record_on_a_full_disk_ends_with_one_error_line_and_exit_3(runner: CliRunner, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from slob_cli.sim.gateway import SimGatewayThread

    disk_nearly_full(monkeypatch, 30)
    with SimGatewayThread(seed=5, start="2026-03-10T14:35Z", speed=50.0) as gateway:  # fills 30 pages in seconds
        result = runner.invoke(app, ["--db", str(tmp_path / "r.db"), "record", "--port", str(gateway.port),
                                     "--client-id", "63", "--no-warm-up", "--duration", "120s"])
    assert result.exit_code == 3, result.output
    assert result.stderr.strip().splitlines()[-1].startswith("Error: disk full writing"), result.stderr
    assert "Traceback" not in result.stderr


def test_every_slob_name_of_the_env_template_and_compose_file_is_a_known_setting(tmp_path: Path) -> None:
    import re

    from slob_cli.settings import KNOWN_ENV_NAMES, load_settings

    root = Path(__file__).parents[2]
    names = set(re.findall(r"SLOB_[A-Z0-9_]*[A-Z0-9]", (root / ".env.template").read_text()
                           + (root / "docker-compose.yml").read_text()))
    assert names and names <= set(KNOWN_ENV_NAMES)
    assert load_settings(env_file=root / ".env.template").display_tz == "Europe/Stockholm"


@pytest.mark.parametrize("args", [["candles", "stats"], ["candles", "import", "c.csv"], ["setups", "list"]])
def test_a_store_path_that_is_a_directory_is_named_as_one(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "c.csv").write_text("timestamp,open,high,low,close,volume,symbol\n")
    (tmp_path / "store.db").mkdir()
    result = runner.invoke(app, ["--db", str(tmp_path / "store.db"), *args])
    assert result.exit_code == 3, result.output
    assert result.stderr == f"Error: database '{tmp_path / 'store.db'}' is a directory, not a file\n"
    assert list((tmp_path / "store.db").iterdir()) == []


def test_a_write_another_process_keeps_locked_is_one_store_error_naming_the_file(tmp_path: Path) -> None:
    from slob_cli.errors import StoreError

    db = tmp_path / "locked.db"
    _seed(db)
    conn = sqlite3.connect(db, timeout=0.05, check_same_thread=False)  # the store's 30 s, shortened for the test
    conn.execute("PRAGMA busy_timeout=50")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a sqlite3 shell (or another program) in the middle of a write
    try:
        with Store(conn, db) as store, pytest.raises(StoreError, match=f"database '{db}' is locked by another"):
            store.import_candles([Candle("NQ", T0 + timedelta(hours=1), 100.0, 101.0, 99.0, 100.0, 3.0, 2)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sql_value(db, "SELECT count(*) FROM candles") == 10  # it was an unexpected OperationalError (exit 1)
