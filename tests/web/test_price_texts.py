"""One wording of prices and points: a closed trade's entry, exit and points read the same on every surface.

The session summary, `slob backtest`'s trades table and the executor's "position opened" log line wrote
`25571.75`, status, the dashboard and the web page `25,571.75`; points were `70.75` in the log, `+70.75`
elsewhere; the page worded prices and points itself in JavaScript. Now core/pnl.price_text and
points_text word every one, and the page shows the texts the server sends. A real `slob run --sim` (the
simulated gateway, the real ib_async client) makes the store once; real `backtest`, `status`,
`dashboard --once`, `setups`, `report` and `slob web` processes read it, and Debian's chromium shows the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from tests.web.conftest import WebServer, start_web
from tests.web.test_api import get_json
from tests.web.test_money_texts import _slob

DAY = "2026-01-06"  # the short_setup scenario's day: one short, closed at its target


@dataclass(frozen=True)
class ClosedTrade:
    """The store a sim run left, its session summary and log, and the texts its trade must read as everywhere."""

    db_path: Path
    summary: str
    log: str
    setup: str
    entry: str  # 25,571.75: spelled here by hand, thousands separated, two decimals
    exit: str
    stop: str
    target: str
    points: str  # +70.75: signed, two decimals


@pytest.fixture(scope="module")
def closed_trade(tmp_path_factory: pytest.TempPathFactory) -> ClosedTrade:
    folder = tmp_path_factory.mktemp("prices")
    db_path, logs = folder / "test.db", folder / "logs"
    summary = _slob(db_path, "run", "--sim", "--scenario", "short_setup", "--speed", "max", "--duration", "9h",
                    env={"SLOB_LOG_DIR": str(logs)})
    with Store.open(db_path, readonly=True) as store:
        [trade] = store.trade_history_rows()
        [setup] = [row for row in store.setup_rows_of_day("NQ", DAY) if row["id"] == trade["setup_id"]]
    closed = ClosedTrade(db_path, summary, (logs / "run.log").read_text(), trade["setup_id"],
                         f"{trade['entry_price']:,.2f}", f"{trade['exit_price']:,.2f}", f"{setup['stop']:,.2f}",
                         f"{setup['target']:,.2f}", f"{trade['pnl_points']:+.2f}")
    for price in (closed.entry, closed.exit, closed.stop, closed.target):
        assert re.fullmatch(r"\d{2},\d{3}\.\d\d", price), closed  # NQ near 25,000: the separator shows
    assert re.fullmatch(r"\+\d+\.\d\d", closed.points), closed  # the short won
    return closed


@pytest.fixture
def served(closed_trade: ClosedTrade) -> Iterator[WebServer]:
    server = start_web(closed_trade.db_path)
    try:
        yield server
    finally:
        server.stop()


def test_a_closed_trades_prices_and_points_read_the_same_on_every_surface(closed_trade: ClosedTrade,
                                                                         served: WebServer) -> None:
    t = closed_trade
    # The session summary `run` printed: entry, exit and points (it wrote `@ 25571.75`).
    assert f"trade {t.setup} SHORT 1 @ {t.entry} -> target {t.exit}, {t.points} points, $+" in t.summary, t.summary
    # The executor's log lines of the open and the close (they wrote `@ 25571.75` and `70.75 points`).
    assert re.findall(rf"position opened: {t.setup} SHORT 1 @ (\S+)", t.log) == [t.entry], t.log[-3000:]
    assert re.findall(rf"position closed: {t.setup} target, (\S+) points", t.log) == [t.points], t.log[-3000:]

    # `slob backtest` over the run's candles: the same trade at the same prices (it wrote 25571.75).
    backtest = _slob(t.db_path, "backtest")
    assert re.search(rf"{t.setup} SHORT 1 \S+ \S+ {t.entry} {t.stop} {t.target} \S+ \S+ {t.exit} target ",
                     backtest), backtest

    # status and one dashboard frame: the day's points and each fill.
    status = _slob(t.db_path, "status")
    assert f"P&L {t.points} points," in status and f"{t.setup}: {t.points} points," in status, status
    frame = _slob(t.db_path, "dashboard", "--once")
    assert f"{t.points} pts" in frame, frame
    assert f"{t.setup} BUY 1 @ {t.exit}" in frame, frame  # the exit fill (the entry's is past its ten events)

    # `setups list` and `setups show`: the setup's stop and target as the backtest wrote them.
    listed = _slob(t.db_path, "setups", "list", "--state", "SETUP_COMPLETE")
    assert f" {t.stop} {t.target} " in listed, listed
    shown = _slob(t.db_path, "setups", "show", t.setup)
    assert f"sl={t.stop} " in shown and f"tp={t.target} " in shown, shown

    # The web API carries the texts the page shows, beside the numbers JSON keeps.
    today = get_json(f"{served.url}/api/status")["today"]
    assert today["pnl_points_text"] == t.points and [x["pnl_points_text"] for x in today["trades"]] == [t.points]
    [trade] = get_json(f"{served.url}/api/trades")["trades"]
    assert (trade["entry_price_text"], trade["exit_price_text"], trade["pnl_points_text"]) == (t.entry, t.exit,
                                                                                             t.points), trade
    assert isinstance(trade["entry_price"], float) and isinstance(trade["pnl_points"], float)
    fills = get_json(f"{served.url}/api/candles?symbol=NQ&date={DAY}")["fills"]
    assert [f["text"] for f in fills] == [f"SELL 1 @ {t.entry}", f"BUY 1 @ {t.exit}"]

    # The paper report's figures (exit 0 passed, 5 failed: either way it writes its files).
    _slob(t.db_path, "report", "--run", "1", "--duration", "9h", "--no-replay", codes=(0, 5))
    report = t.db_path.with_name(f"{t.db_path.stem}-paper-run1.md").read_text()
    assert f"| pnl.points | {t.points} |" in report, report


def test_the_page_shows_the_prices_and_points_the_server_wrote(closed_trade: ClosedTrade, served: WebServer,
                                                              browser) -> None:  # noqa: ANN001
    t = closed_trade
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(served.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        page.wait_for_selector("#trades[data-total='1']", timeout=15_000)
        row = " ".join(page.locator("#trades tbody tr").first.inner_text().split())
        assert f"{t.entry} " in row and f"{t.exit} " in row and f" {t.points} " in row, row
    finally:
        context.close()
