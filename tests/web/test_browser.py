"""The dashboard in Debian's headless chromium: right numbers, live updates without a reload, the login prompt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from slob_cli.adapters.store import Store, to_iso, to_us
from tests.opsdata import insert
from tests.web.conftest import artifact
from tests.web.seeding import SeededDay, seed_day

UTC = timezone.utc
TOKEN = "browser-test-token"


@pytest.fixture
def seeded(store: Store) -> SeededDay:
    return seed_day(store, datetime.now(UTC))


@pytest.fixture
def page(browser) -> Iterator[object]:  # noqa: ANN001
    """A fresh page that collects console errors (a CSP violation is one) and page errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.problems = []
    opened.on("console", lambda message: opened.problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: opened.problems.append(str(error)))
    try:
        yield opened
    finally:
        context.close()


def text(page, selector: str) -> str:  # noqa: ANN001
    return page.locator(selector).inner_text().strip()


def test_page_shows_chart_and_tables_with_the_right_numbers(seeded: SeededDay, web_server, page) -> None:  # noqa: ANN001
    server = web_server()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    # Everything, the chart library included, comes from slob web itself: the page works offline.
    assert requested and all(url.startswith(server.url + "/") or url.startswith("data:") for url in requested)
    assert any(url.endswith("/static/lightweight-charts.js") for url in requested)
    chart = page.locator("#chart")
    assert chart.get_attribute("data-candles") == str(seeded.candles)
    assert chart.get_attribute("data-last-close") == f"{seeded.last_close:g}"
    assert chart.get_attribute("data-fills") == "3"
    assert chart.get_attribute("data-markers") == "4"  # three fills and S1's LIQ #1
    # LSE high/low; S1's HIGH, LOW and LIQ #1 marker; S2's entry, stop and target (its trade is open).
    assert chart.get_attribute("data-lines") == "7"
    assert page.locator("#chart canvas").count() > 0
    assert text(page, "#chart-title") == f"NQ M1 · {seeded.day}"
    assert text(page, "#today-trades") == "1"
    assert text(page, "#today-pnl") == "$+395.50"
    assert text(page, "#today-commission") == "$4.50"
    assert seeded.closed_setup in text(page, "#today-list") and "$+395.50" in text(page, "#today-list")
    assert text(page, "#h-session") == "not running"
    assert text(page, "#h-data") == "live" and text(page, "#h-run") == "#1 paper"
    assert "clock (wall)" in text(page, "#h-clock-label").lower()
    assert page.locator("#open-setups").get_attribute("data-rows") == "1"
    assert seeded.open_setup in text(page, "#open-setups") and "25,482.25" in text(page, "#open-setups")
    assert page.locator("#orders").get_attribute("data-rows") == "2" and "25,470.25" in text(page, "#orders")
    unrealized = round((25_449.5 - seeded.last_close) * 20, 2)
    assert f"${'-' if unrealized < 0 else '+'}{abs(unrealized):,.2f}" in text(page, "#position")
    assert page.locator("#trades").get_attribute("data-total") == str(seeded.trades)
    assert "3 closed, 2 won, $+445.50 in all" == text(page, "#history-summary")
    states = text(page, "#setup-states")
    assert "setup_complete" in states and "invalidated" in states and "still open" in states
    page.locator("#reports button").first.click()
    page.wait_for_selector("#report-view h3")
    assert text(page, "#report-view h3") == f"Run {seeded.report_run}: PASSED"
    assert "delayed data for 3 min" in text(page, "#report-view")
    assert text(page, "#live") == "live" or page.wait_for_function("document.getElementById('live').textContent === 'live'")
    assert page.problems == []
    page.screenshot(path=str(artifact("web-dashboard.png")), full_page=True)


def test_page_fits_a_phone_screen(seeded: SeededDay, web_server, browser) -> None:  # noqa: ANN001
    server = web_server()
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(server.url + "/")
        phone.wait_for_selector("body[data-ready='1']", timeout=15_000)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # tables scroll inside their cards
        assert phone.locator("#chart").bounding_box()["width"] <= 390
        assert phone.locator("#chart").get_attribute("data-candles") == str(seeded.candles)
        phone.screenshot(path=str(artifact("web-dashboard-phone.png")), full_page=True)
    finally:
        context.close()


def test_page_updates_within_2s_when_a_candle_fill_and_trade_are_written(
    seeded: SeededDay, store: Store, web_server, page  # noqa: ANN001
) -> None:
    server = web_server()
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    page.wait_for_function("document.getElementById('live').textContent === 'live'")
    page.evaluate("window.stillTheSamePage = true")
    new_minute = seeded.first_candle + timedelta(minutes=seeded.candles)
    exit_at = new_minute + timedelta(seconds=30)
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO candles(symbol, ts, open, high, low, close, volume, tick_count) VALUES (?,?,?,?,?,?,?,?)",
            ("NQ", int(new_minute.timestamp()) * 1_000_000, 25_440.0, 25_441.0, 25_404.0, 25_405.0, 9.0, 9))
    insert(store, "fills", exec_id="e-s2-target", order_ref=f"slob:{seeded.position_setup}:target", symbol="NQ",
           side="BOT", quantity=1.0, price=25_405.0, ts=to_iso(exit_at), commission=2.25)
    with store.transaction() as conn:
        conn.execute("UPDATE orders SET status = 'Filled', filled = 1 WHERE order_ref = ?",
                     (f"slob:{seeded.position_setup}:target",))
        conn.execute("UPDATE orders SET status = 'Cancelled' WHERE order_ref = ?", (f"slob:{seeded.position_setup}:stop",))
        conn.execute("UPDATE trades SET exit_time = ?, exit_price = 25405.0, exit_reason = 'target', pnl_points = 44.5,"
                     " pnl_money = 885.5, commission = 4.5, status = 'closed' WHERE setup_id = ?",
                     (to_us(exit_at), seeded.position_setup))
    written = time.monotonic()
    page.wait_for_function(
        """() => document.getElementById('chart').dataset.candles === '%d'
            && document.getElementById('chart').dataset.fills === '4'
            && document.getElementById('today-trades').textContent === '2'
            && document.getElementById('today-pnl').textContent === '$+1,281.00'
            && document.getElementById('position').dataset.positions === '0'
            && document.getElementById('orders').dataset.rows === '0'""" % (seeded.candles + 1),
        timeout=2_000,
    )
    assert time.monotonic() - written < 2.0
    assert page.evaluate("window.stillTheSamePage") is True  # no reload
    assert page.locator("#chart").get_attribute("data-last-close") == "25405"
    assert page.locator("#chart").get_attribute("data-markers") == "5"
    assert "4 closed, 3 won, $+1,331.00 in all" == text(page, "#history-summary")
    assert page.problems == []


def test_with_a_token_the_page_asks_for_it_then_shows_the_dashboard(seeded: SeededDay, web_server, page) -> None:  # noqa: ANN001
    server = web_server("--token", TOKEN)
    response = page.goto(server.url + "/")
    assert response.status == 401
    assert page.locator("form#login input[name=token]").is_visible()
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    assert page.locator("p.error").inner_text() == "Wrong token."
    assert all("401" in problem for problem in page.problems)  # the login page itself comes with 401
    page.problems.clear()
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert text(page, "#today-pnl") == "$+395.50"
    page.wait_for_function("document.getElementById('live').textContent === 'live'")
    assert page.problems == []


def test_page_says_ages_as_slob_status_says_them(store: Store, web_server, page) -> None:  # noqa: ANN001
    from slob_cli.runtime.views import ago
    from tests.opsdata import add_health
    from tests.web.test_api import get_json

    # A heartbeat 30 h old whose tick was 25 min older: status says "30 h" and "30 h 25 min"; the page
    # said "1 days" for both (and "25 min 5 s" where status says "25 min"). 5 s past the minute: no edge.
    # The page words no age itself: it shows the texts of /api/header's `ages` (tests/web/test_age_texts.py).
    add_health(store, to_iso(datetime.now(UTC) - timedelta(hours=30, seconds=5)), last_tick_age=25 * 60)
    server = web_server()
    header = get_json(server.url + "/api/header")
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    assert text(page, "#h-heartbeat") == header["ages"]["heartbeat"] == ago(header["heartbeat_age_seconds"]) == "30 h ago"
    assert text(page, "#h-tick") == header["ages"]["last_tick"] == ago(header["last_tick_age_seconds"])
    assert text(page, "#h-tick") in ("30 h 25 min ago", "30 h 26 min ago")
    assert page.problems == []


def test_page_names_a_sim_runs_clock_and_its_ages_as_the_server_words_them(store: Store, web_server, page) -> None:  # noqa: ANN001
    from tests.web.test_age_texts import _ended_sim_run
    from tests.web.test_api import get_json

    run_id = _ended_sim_run(store)
    server = web_server()
    header = get_json(server.url + "/api/header")
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=15_000)
    # The words of status and dashboard (the page's headings are set in capitals by its style sheet).
    label = page.locator("#h-clock-label").text_content()
    assert label == header["clock"]["label"] == f"simulated clock of sim run {run_id} (ended)", label
    assert text(page, "#h-tick") == header["ages"]["last_tick"] == "2 h 5 min ago"
    assert text(page, "#h-heartbeat") == f"run {run_id}'s last, {header['ages']['heartbeat']}", text(page, "#h-heartbeat")
    assert page.problems == []


def test_page_says_a_stale_session_in_the_words_of_status_and_dashboard(store: Store, db_path, web_server,  # noqa: ANN001
                                                                         page) -> None:  # noqa: ANN001
    from tests.web.test_api import get_json
    from tests.web.test_stale_text import _wall_session_silent

    with _wall_session_silent(db_path, store) as expected:
        server = web_server()
        page.goto(server.url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        header = get_json(server.url + "/api/header")
        beat = text(page, "#h-heartbeat")
    assert header["stale_text"] == f"STALE, {expected}", header
    assert beat == f"{header['ages']['heartbeat']} STALE, {expected}", beat  # `slob status`: `Alive: STALE, ...`
    assert page.problems == []
