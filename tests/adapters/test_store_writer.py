"""The store's writer thread: the loop's writes queued, committed in order, read back, failures reported."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store, to_us
from slob_cli.adapters.store.db import TICK_INSERT
from slob_cli.adapters.store.writer import values_sql
from slob_cli.core.models import Tick
from slob_cli.errors import StoreError
from tests.sqlfile import sql_rows, sql_value, with_page_cap

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)


def _other_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=30, isolation_level=None)


def test_queued_events_and_ticks_are_read_back_in_order_without_an_explicit_flush(store: Store) -> None:
    with store.background_writes():
        for number in range(5):
            store.log_event("STEP", T0 + timedelta(seconds=number), {"n": number}, run_id=7, symbol="NQ")
        values: list[float] = []
        for number in range(10_000):
            values += (to_us(T0) + number, 20_000.0 + number / 4, 1.0)
        store.insert_tick_values("NQ", "NQH6", 3, values)
        store.insert_ticks([Tick("MNQ", T0, 20_000.25, 2.0)], run_id=3)
        # Reading through the store's own connection waits for what was queued before.
        assert [json.loads(payload)["n"] for _, _, payload, _ in store.run_events(7)] == [0, 1, 2, 3, 4]
        assert store.tick_count() == 10_001
    rows = sql_rows(store.path, "SELECT symbol, local_symbol, run_id, ts, price FROM ticks ORDER BY id")
    assert rows[0] == ("NQ", "NQH6", 3, to_us(T0), 20_000.0)
    assert [row[3] for row in rows[:10_000]] == [to_us(T0) + number for number in range(10_000)]
    assert rows[-1] == ("MNQ", None, 3, to_us(T0), 20_000.25)


def test_a_write_is_queued_without_waiting_for_a_locked_database_then_committed(store: Store, db_path: Path) -> None:
    other = _other_connection(db_path)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    with store.background_writes() as writer:
        store.log_event("QUEUED", T0, {"while": "locked"})  # returns at once: the loop never waits on disk
        assert writer.outstanding == 1
        assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        other.execute("COMMIT")
        writer.flush()
        assert other.execute("SELECT type FROM events").fetchall() == [("QUEUED",)]
    other.close()


def test_a_closed_candle_is_queued_too_and_read_back_by_the_store(store: Store, db_path: Path) -> None:
    from slob_cli.core.models import Candle

    candle = Candle("NQ", T0, 20_000.0, 20_004.0, 19_999.0, 20_002.0, 7.0, 5)
    other = _other_connection(db_path)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock: the close must not wait for it
    with store.background_writes() as writer:
        assert store.upsert_candles([candle]) == 1
        assert writer.outstanding == 1
        other.execute("COMMIT")
        assert store.candles("NQ") == [candle], "a read waits for the queued write: read your own writes"
    other.close()


def test_leaving_the_block_commits_what_is_queued(db_path: Path) -> None:
    with Store.open(db_path) as store, store.background_writes():
        for number in range(100):
            store.log_event("LAST", T0, {"n": number})
    assert sql_value(db_path, "SELECT count(*) FROM events WHERE type='LAST'") == 100


def test_awaiting_the_flush_lets_the_loop_run_and_then_the_rows_are_there(store: Store, db_path: Path) -> None:
    async def main() -> int:
        with store.background_writes():
            store.insert_ticks([Tick("NQ", T0 + timedelta(seconds=n), 20_000.0, 1.0) for n in range(50)])
            ran = asyncio.get_running_loop().create_task(asyncio.sleep(0))
            await store.writes_flushed()
            assert ran.done(), "the loop ran other work while the writer committed"
            other = _other_connection(db_path)
            count = other.execute("SELECT count(*) FROM ticks").fetchone()[0]
            other.close()
            return count

    assert asyncio.run(main()) == 50


def test_a_full_disk_is_one_error_naming_the_file_and_its_transaction_is_not_half_written(db_path: Path) -> None:
    failures: list[BaseException] = []
    called = threading.Event()
    with Store.open(db_path) as opened:
        opened.log_event("BEFORE", T0, {})
    with with_page_cap(Store.open(db_path), 2) as store:  # the disk is full after two pages
        with pytest.raises(StoreError) as raised, store.background_writes(
                on_error=lambda exc: (failures.append(exc), called.set())) as writer:
            values: list[float] = []
            for number in range(50_000):
                values += (to_us(T0) + number, 20_000.0, 1.0)
            store.insert_tick_values("NQ", "NQH6", None, values)
            store.log_event("IN_THE_SAME_TRANSACTION", T0, {})
            called.wait(30)
            store.log_event("AFTER", T0, {})  # refused and counted, never silently lost
            with pytest.raises(StoreError):
                writer.flush()
            assert writer.refused >= 1
        message = str(raised.value)
        assert message == f"disk full writing '{db_path}': nothing of this write was stored" and "\n" not in message
        assert len(failures) == 1 and failures[0] is raised.value
        assert sql_rows(db_path, "SELECT type FROM events ORDER BY id") == [("BEFORE",)]
        assert store.tick_count() == 0 and store.integrity_problem() is None


def test_statements_use_anonymous_parameters_only() -> None:
    # Numbered parameters (?NNN) make SQLite compile a statement of thousands of them for seconds.
    sql = values_sql(TICK_INSERT, 3)
    assert "?1" not in sql and sql.count("?") == 3 + 3 * 3


def test_a_cancelled_wait_for_the_flush_leaves_the_writer_committing(store: Store, db_path: Path) -> None:
    async def main() -> None:
        with store.background_writes() as writer:
            for _ in range(20):
                store.log_event("BEFORE", T0, {})
                waiting = asyncio.get_running_loop().create_task(store.writes_flushed())
                await asyncio.sleep(0)
                waiting.cancel()  # a session torn down mid-flush
            store.log_event("AFTER", T0, {})
            await asyncio.wait_for(store.writes_flushed(), 30)
            assert writer.error is None

    asyncio.run(main())
    assert sql_value(db_path, "SELECT count(*) FROM events") == 21
