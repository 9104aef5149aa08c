"""`Store.open(check_in_background=True)`: the quick_check runs in a thread, and no write comes before its verdict."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle
from slob_cli.errors import StoreError

T0 = datetime(2026, 3, 9, 14, 30, tzinfo=timezone.utc)


def _store(db: Path, candles: int) -> None:
    with Store.open(db) as store:
        store.upsert_candles([Candle("NQ", T0 + timedelta(minutes=i), 100.0, 101.0, 99.0, 100.0, 3.0, 2)
                              for i in range(candles)])
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _damage_a_middle_page(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        page_size, pages = conn.execute("PRAGMA page_size").fetchone()[0], conn.execute("PRAGMA page_count").fetchone()[0]
    with db.open("r+b") as handle:
        handle.seek(page_size * (pages // 2))
        handle.write(b"\xa5" * page_size)


def test_a_damaged_store_refuses_the_first_write_and_stays_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _store(db, 3000)
    _damage_a_middle_page(db)
    before = db.read_bytes()
    store = Store.open(db, check_in_background=True)  # opens: the check runs meanwhile
    try:
        with pytest.raises(StoreError, match=r"is damaged .*restore it from a backup"):
            store.upsert_candles([Candle("NQ", T0 - timedelta(days=1), 1.0, 2.0, 0.5, 1.5, 1.0, 1)])
        with pytest.raises(StoreError, match="is damaged"):  # the synchronous check says the same
            Store.open(db)
    finally:
        store.close()
    assert db.read_bytes() == before


def test_a_sound_store_is_written_once_the_check_passed_and_close_ends_the_thread(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _store(db, 50)
    store = Store.open(db, check_in_background=True)
    check = store._check
    assert check is not None  # an up-to-date store: the check runs in its thread
    store.upsert_candles([Candle("NQ", T0 - timedelta(days=1), 1.0, 2.0, 0.5, 1.5, 1.0, 1)])
    assert store._check is None  # the write waited for the verdict
    store.close()
    assert not check._thread.is_alive()
    with Store.open(db, readonly=True) as reader:
        assert reader.candle_count_between("NQ", 0, 2**62) == 51


def test_close_waits_for_a_check_nobody_asked_for(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    _store(db, 3000)
    store = Store.open(db, check_in_background=True)
    check = store._check
    assert check is not None
    store.close()
    assert not check._thread.is_alive()
