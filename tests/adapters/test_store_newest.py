"""The newest tick and candle, read by index probes per symbol, are what the old whole-table SQL said.

`max(ts)` or `ORDER BY ts DESC LIMIT 1` over every symbol cannot use ticks(symbol, ts) or the candles'
key (symbol, ts): SQLite read the whole index (or table) on every status, dashboard and web refresh.
The store now walks the symbols in the index and probes each; these tests hold the answers to the
old SQL's, on real files, including an empty store, one symbol, ties on ts and a symbol with no ticks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from slob_cli.adapters.store import Store
from slob_cli.core.models import Candle, Tick
from tests.sqlfile import sql_rows
from tests.sqltrace import query_plan, reads_by_index

UTC = timezone.utc
T0 = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)

# The reads before: the same statements the store ran (views.py), over every symbol.
OLD_NEWEST_TICK_US = "SELECT max(ts) FROM ticks"
OLD_NEWEST_TICK_RUN = "SELECT run_id FROM ticks ORDER BY ts DESC LIMIT 1"
OLD_NEWEST_CANDLE_US = "SELECT max(ts) FROM candles"
OLD_NEWEST_CANDLE_SYMBOL = "SELECT symbol FROM candles ORDER BY ts DESC LIMIT 1"


def _old(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    rows = sql_rows(path, sql, params)
    return rows[0][0] if rows else None


def _old_answers(path: Path, symbols: tuple[str, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "tick_us": _old(path, OLD_NEWEST_TICK_US), "tick_run": _old(path, OLD_NEWEST_TICK_RUN),
        "candle_us": _old(path, OLD_NEWEST_CANDLE_US), "candle_symbol": _old(path, OLD_NEWEST_CANDLE_SYMBOL)}
    for symbol in symbols:
        answers[f"tick_us {symbol}"] = _old(path, "SELECT max(ts) FROM ticks WHERE symbol = ?", (symbol,))
        answers[f"tick_run {symbol}"] = _old(
            path, "SELECT run_id FROM ticks WHERE symbol = ? ORDER BY ts DESC LIMIT 1", (symbol,))
        answers[f"candle_us {symbol}"] = _old(path, "SELECT max(ts) FROM candles WHERE symbol = ?", (symbol,))
    return answers


def _new_answers(path: Path, symbols: tuple[str, ...]) -> dict[str, Any]:
    with Store.open(path, readonly=True) as store:
        newest = store.newest_tick()
        answers: dict[str, Any] = {
            "tick_us": store.newest_tick_us(), "tick_run": None if newest is None else newest[1],
            "candle_us": store.newest_candle_us(), "candle_symbol": store.newest_candle_symbol()}
        assert (None if newest is None else newest[0]) == answers["tick_us"]  # one read: the time and its run
        for symbol in symbols:
            of_symbol = store.newest_tick(symbol)
            answers[f"tick_us {symbol}"] = store.newest_tick_us(symbol)
            answers[f"tick_run {symbol}"] = None if of_symbol is None else of_symbol[1]
            answers[f"candle_us {symbol}"] = store.newest_candle_us(symbol)
            assert (None if of_symbol is None else of_symbol[0]) == answers[f"tick_us {symbol}"]
    return answers


def _ticks(store: Store, symbol: str, seconds: list[float], run_id: int | None) -> None:
    store.insert_ticks([Tick(symbol, T0 + timedelta(seconds=s), 25_000.0 + s, 1) for s in seconds], run_id=run_id)


def _candles(store: Store, symbol: str, minutes: list[int]) -> None:
    store.upsert_candles([Candle(symbol, T0 + timedelta(minutes=m), 1, 2, 0.5, 1.5, 3, 3) for m in minutes])


def _empty(store: Store) -> None:
    return None


def _one_symbol(store: Store) -> None:
    run = store.start_run("record", {}, T0)
    _ticks(store, "NQ", [1, 2, 3.5], run)
    _candles(store, "NQ", [0, 1, 2])


def _several_symbols(store: Store) -> None:
    first, second, third = (store.start_run("record", {}, T0) for _ in range(3))
    _ticks(store, "NQ", [1, 5, 9], first)
    _ticks(store, "MNQ", [2, 12], second)
    _ticks(store, "ES", [3, 4], third)
    _ticks(store, "NQ", [10], None)  # a tick no run stored (an import)
    _candles(store, "NQ", [0, 3])
    _candles(store, "MNQ", [0, 5])
    _candles(store, "ES", [1])


def _ties_across_symbols(store: Store) -> None:
    # The newest time is shared: NQ stored it first (run 1), MNQ next (run 2), then NQ again (run 3).
    runs = [store.start_run("record", {}, T0) for _ in range(4)]
    _ticks(store, "ES", [20], runs[3])
    _ticks(store, "NQ", [1, 30], runs[0])
    _ticks(store, "MNQ", [30], runs[1])
    _ticks(store, "NQ", [30], runs[2])
    _ticks(store, "MNQ", [30, 7], runs[3])
    _candles(store, "NQ", [0, 4])
    _candles(store, "MNQ", [4])  # a tie on the newest candle: the old scan kept MNQ (the first in key order)
    _candles(store, "ES", [2])


def _ties_within_a_symbol(store: Store) -> None:
    runs = [store.start_run("record", {}, T0) for _ in range(3)]
    _ticks(store, "NQ", [5, 8], runs[0])
    _ticks(store, "NQ", [8], runs[1])
    _ticks(store, "NQ", [8, 2], runs[2])
    _ticks(store, "MNQ", [6], runs[0])


def _ticks_without_candles(store: Store) -> None:
    run = store.start_run("record", {}, T0)
    _ticks(store, "MNQ", [1, 2], run)
    _ticks(store, "NQ", [3], run)


@pytest.mark.parametrize("fill", [_empty, _one_symbol, _several_symbols, _ties_across_symbols, _ties_within_a_symbol,
                                  _ticks_without_candles], ids=lambda fill: fill.__name__.strip("_"))
def test_newest_tick_and_candle_are_what_the_whole_table_sql_said(db_path: Path, fill: Any) -> None:
    with Store.open(db_path) as store:
        fill(store)
    symbols = ("NQ", "MNQ", "ES", "YM")  # YM: a symbol with no ticks and no candles
    old = _old_answers(db_path, symbols)
    assert _new_answers(db_path, symbols) == old
    assert old["tick_us"] is None or old["tick_us"] > 0  # the store held what each case says


def test_the_cases_hold_the_ties_they_name(db_path: Path) -> None:
    with Store.open(db_path) as store:
        _ties_across_symbols(store)
    assert _old(db_path, OLD_NEWEST_TICK_RUN) == 1  # of the tied ticks, the first stored
    assert _old(db_path, "SELECT run_id FROM ticks WHERE symbol = 'NQ' ORDER BY ts DESC LIMIT 1") == 3  # its last
    assert _old(db_path, "SELECT run_id FROM ticks WHERE symbol = 'MNQ' ORDER BY ts DESC LIMIT 1") == 4
    assert _old(db_path, OLD_NEWEST_CANDLE_SYMBOL) == "MNQ"


def test_a_new_symbol_counts_at_once(db_path: Path) -> None:
    with Store.open(db_path) as store:
        _ticks(store, "NQ", [1], None)
        _candles(store, "NQ", [0])
        with Store.open(db_path, readonly=True) as reader:
            assert (reader.newest_candle_symbol(), reader.newest_tick_us()) == ("NQ", store.newest_tick_us("NQ"))
            _ticks(store, "MNQ", [90], 7)
            _candles(store, "MNQ", [1])
            assert reader.newest_candle_symbol() == "MNQ"
            assert reader.newest_tick() == (store.newest_tick_us("MNQ"), 7)


def test_the_old_sql_read_whole_tables_and_the_new_probes_search_by_symbol(db_path: Path) -> None:
    with Store.open(db_path) as store:
        _several_symbols(store)
    for sql, table in ((OLD_NEWEST_TICK_US, "ticks"), (OLD_NEWEST_TICK_RUN, "ticks"),
                       (OLD_NEWEST_CANDLE_US, "candles"), (OLD_NEWEST_CANDLE_SYMBOL, "candles")):
        assert not reads_by_index(sql, query_plan(db_path, sql), table), sql
    for sql, table in (("SELECT max(ts) FROM ticks WHERE symbol = 'NQ'", "ticks"),
                       ("SELECT ts, run_id FROM ticks WHERE symbol = 'NQ' ORDER BY ts DESC LIMIT 1", "ticks"),
                       ("SELECT id, run_id FROM ticks WHERE symbol = 'NQ' AND ts = 5 ORDER BY id LIMIT 1", "ticks"),
                       ("SELECT min(symbol) FROM ticks WHERE symbol > 'ES'", "ticks"),
                       ("SELECT max(ts) FROM candles WHERE symbol = 'NQ'", "candles")):
        plan = query_plan(db_path, sql)
        assert reads_by_index(sql, plan, table), (sql, plan)
        assert "TEMP B-TREE" not in plan, plan
