"""`Store.write_behind()`: writes run in order on a thread of their own, one transaction each; failures are raised."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.errors import StoreError
from tests.adapters.test_store_background_check import _damage_a_middle_page, _store
from tests.sqlfile import sql_rows

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=timezone.utc)


def _put(key: str, value: int):  # noqa: ANN202 - a write as write_behind takes it
    return lambda into: into.put_state(key, value, NOW)


def _states(db: Path) -> list[tuple[str, str]]:
    return sql_rows(db, "SELECT key, value FROM state ORDER BY rowid")


def test_writes_run_in_order_on_another_thread_and_are_all_stored_when_the_block_ends(db_path: Path) -> None:
    threads: list[str] = []
    with Store.open(db_path) as store:
        with store.write_behind() as behind:
            for number in range(5):
                behind.submit(_put(f"k{number}", number))
            behind.submit(lambda into: threads.append(threading.current_thread().name))
            assert store.get_state("k0") in (None, 0)  # the reading connection goes on meanwhile
        assert [store.get_state(f"k{number}") for number in range(5)] == [0, 1, 2, 3, 4]
    assert threads == ["slob-write-behind"]
    assert _states(db_path) == [(f"k{number}", str(number)) for number in range(5)]


def test_a_failing_write_is_rolled_back_whole_and_the_later_writes_are_not_run(db_path: Path) -> None:
    def half_then_fail(into: Store) -> None:
        into.put_state("half", 1, NOW)
        raise StoreError("cannot write: boom")

    with Store.open(db_path) as store:
        with pytest.raises(StoreError, match="boom"), store.write_behind() as behind:
            behind.submit(_put("first", 1))
            behind.submit(half_then_fail)
            for number in range(10):  # refused, or raising the failure once it is known
                behind.submit(_put(f"after{number}", number))
    assert _states(db_path) == [("first", "1")]


def test_the_blocks_own_error_wins_and_what_was_queued_before_it_is_stored_whole(db_path: Path) -> None:
    with Store.open(db_path) as store:
        with pytest.raises(KeyboardInterrupt), store.write_behind() as behind:
            behind.submit(_put("a", 1))
            behind.submit(_put("b", 2))
            raise KeyboardInterrupt
    assert _states(db_path) == [("a", "1"), ("b", "2")]


def test_a_damaged_store_gets_no_write_and_the_checks_finding_is_raised(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _store(db, 3000)
    _damage_a_middle_page(db)
    before = db.read_bytes()
    store = Store.open(db, check_in_background=True)  # the check runs meanwhile; the thread waits for it
    try:
        with pytest.raises(StoreError, match=r"is damaged .*restore it from a backup"), store.write_behind() as behind:
            behind.submit(_put("a", 1))
    finally:
        store.close()
    assert db.read_bytes() == before


def test_inside_a_batch_the_writes_run_at_once_in_the_batchs_transaction(db_path: Path) -> None:
    with Store.open(db_path) as store:
        with pytest.raises(RuntimeError), store.batch():
            with store.write_behind() as behind:
                behind.submit(_put("a", 1))
                assert store.get_state("a") == 1  # run already, on this connection
            raise RuntimeError("the batch fails: nothing of it stays")
    assert _states(db_path) == []


def test_a_full_disk_is_the_one_line_store_error(db_path: Path) -> None:
    from tests.sqlfile import with_page_cap

    with with_page_cap(Store.open(db_path), 1) as store:
        with pytest.raises(StoreError, match=f"disk full writing '{db_path}'"), store.write_behind() as behind:
            behind.submit(lambda into: [into.put_state(f"k{number}", "x" * 2000, NOW) for number in range(50)])
    assert _states(db_path) == []
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_a_write_failing_while_the_block_fails_too_is_logged(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def fail(into: Store) -> None:
        raise StoreError("cannot write: boom")

    with Store.open(db_path) as store:
        with pytest.raises(KeyboardInterrupt), store.write_behind() as behind:
            behind.submit(fail)
            raise KeyboardInterrupt
    assert any("stopped: cannot write: boom" in record.getMessage() for record in caplog.records)


def test_the_switch_interval_is_short_while_the_thread_runs_and_restored_after(db_path: Path) -> None:
    import sys

    before = sys.getswitchinterval()
    seen: list[float] = []
    with Store.open(db_path) as store:
        with pytest.raises(KeyboardInterrupt), store.write_behind() as behind:
            behind.submit(lambda into: seen.append(sys.getswitchinterval()))
            raise KeyboardInterrupt
        assert sys.getswitchinterval() == before
        with store.write_behind() as behind:
            behind.submit(_put("a", 1))
    assert seen == [pytest.approx(min(before, 0.0002))] and sys.getswitchinterval() == before


def test_the_thread_copies_its_writes_into_the_file_after_the_last_so_the_closing_connection_has_little_left(
    db_path: Path,
) -> None:
    with Store.open(db_path) as store:
        before = db_path.stat().st_size
        with store.write_behind() as behind:
            for number in range(200):  # ~200 pages: below SQLite's own checkpoint at 1,000
                behind.submit(_put(f"k{number}", "x" * 3000))  # type: ignore[arg-type]
        assert db_path.stat().st_size > before + 200 * 3000  # in the file, not only in the WAL, before this closes
        assert store.get_state("k199") == "x" * 3000
