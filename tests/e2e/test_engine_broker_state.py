"""State follows the broker after a restart: what filled or was closed while slob was down is recorded."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slob_cli.core.models import Direction
from slob_cli.core.pnl import FillLine, trade_result
from slob_cli.core.risk import RiskConfig
from slob_cli.runtime import failpoints
from slob_cli.runtime.events import EventType
from tests.conftest import eventually
from tests.e2e.harness import Harness, as_outside_client, at, start_harness

SHORT = "NQ-20260106-S1"
LONG = "NQ-20260106-L1"
# 3 % of 100 000 over 21 points x $20 caps at 2; the stop-out after the jump must not end the day.
TWO_LOTS = RiskConfig(risk_pct=0.03, max_contracts=2, daily_loss_limit_pct=5.0)


def test_partial_entry_then_rest_and_stop_fill_while_down_closes_the_trade_and_frees_the_day(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "both_setups")
        h.gateway.partial_fill_next(1)  # one lot now, the second at the next trade
        failpoints.arm("after_entry_fill")
        # At the first fill the price jumps 40 points through the stop, and the engine dies on that fill.
        jump = {EventType.ORDER_FILLED: lambda event: h.gateway.jump_price(40.0)}
        with pytest.raises(BaseException) as crashed:
            h.session(at(19, 0), risk=TWO_LOTS, on=jump)
        assert "SimulatedCrash" in repr(crashed.value)
        failpoints.disarm_all()
        down_at = h.gateway.clock.now()
        assert h.net_position() == -1, "one lot filled before the crash"
        # While slob is down the market runs on (lockstep time moves only for a connected engine, so the
        # test moves it): the second lot fills, then the stop, at the broker alone.
        eventually(lambda: h.gateway.client_count == 0, timeout=30)  # the gateway has seen the crashed engine go
        h.gateway.advance_market(down_at + timedelta(minutes=4))
        h.gateway.jump_price(-40.0)  # the spike is over: the afternoon is the planted day again
        assert h.net_position() == 0
        broker_fills = [e for e in h.gateway.broker.executions() if e.order_ref.startswith(f"slob:{SHORT}:")]
        entries = [e for e in broker_fills if e.order_ref.endswith(":entry")]
        stops = [e for e in broker_fills if e.order_ref.endswith(":stop")]
        assert sum(e.shares for e in entries) == 2 and sum(e.shares for e in stops) == 2
        assert [e for e in broker_fills if e.time > down_at], "fills happened while slob was down"

        h.session(at(19, 0), risk=TWO_LOTS)
        trades = {row["setup_id"]: row for row in h.trades()}
        short = trades[SHORT]
        expected = trade_result(Direction.SHORT, 20.0, [FillLine(e.shares, e.price, e.commission) for e in entries],
                                [FillLine(e.shares, e.price, e.commission) for e in stops])
        assert (short["status"], short["exit_reason"], short["quantity"]) == ("CLOSED", "stop", 2)
        assert (short["entry_price"], short["exit_price"]) == (expected.entry_price, expected.exit_price)
        assert (short["pnl_points"], short["gross_money"], short["commission"], short["pnl_money"]) == (
            expected.points, expected.gross, expected.commission, expected.net)
        assert expected.net is not None and expected.net < 0 and expected.commission == 4 * 2.25
        recorded = sum(p["actions"].get("RecordExecution", 0) for p in h.logged("RECONCILED"))
        assert recorded >= 2, "the second lot and the exit were recorded from the broker on restart"
        skipped = [p for p in h.logged("SETUP_SKIPPED") if p["reason"] == "POSITION_OPEN"]
        assert skipped == [], "no stale row blocks the rest of the day"
        assert [row["id"] for row in h.completed_setups()] == [SHORT, LONG], h.logged("SETUP_SKIPPED")
        assert trades[LONG]["status"] == "CLOSED", "the afternoon LONG is traded (and has reached its exit by 19:00)"
        risk_state = h.store.get_state("risk_state")
        assert risk_state["open_positions"] == 0 and h.net_position() == 0
        assert risk_state["realized_pnl_today"] == pytest.approx(short["pnl_money"] + trades[LONG]["pnl_money"])
        sent = [row for row in h.orders() if row["sent_at"] is not None]
        assert sent and all(row["broker_order_id"] and row["perm_id"] for row in sent), "ids kept through the restart"


def _short_held_by_a_crashed_slob(stack: ExitStack, tmp_path: Path) -> Harness:
    """Lockstep on the planted day: the morning SHORT fills and the engine dies on that fill (its bracket works)."""
    h = start_harness(stack, tmp_path, "both_setups")
    failpoints.arm("after_entry_fill")
    with pytest.raises(BaseException) as crashed:
        h.session(at(15, 50))
    assert "SimulatedCrash" in repr(crashed.value)
    failpoints.disarm_all()
    return h


def test_position_flattened_outside_slob_while_down_closes_the_trade_and_cancels_its_exits(tmp_path: Path) -> None:
    with ExitStack() as stack:
        # Lockstep: while slob is down the clock stands still, so the target (15:43) never comes first.
        h = _short_held_by_a_crashed_slob(stack, tmp_path)
        eventually(lambda: h.net_position() == -1, timeout=30)
        as_outside_client(h, "flatten")  # the operator closes the position in TWS; the bracket stays
        assert h.net_position() == 0
        h.session(at(15, 37))
        trades = {row["setup_id"]: row for row in h.trades()}
        short = trades[SHORT]
        assert (short["status"], short["exit_reason"], short["quantity"]) == ("CLOSED", "flatten", 1)
        [outside] = h.logged("CLOSED_OUTSIDE")
        assert outside["price_known"] and outside["setup_id"] == SHORT
        exits = [o for o in h.orders() if o["setup_id"] == SHORT and o["role"] in ("stop", "target")]
        assert exits and all(o["status"] == "CANCELLED" for o in exits), "no stop left to open a new position"
        assert h.store.get_state("risk_state")["open_positions"] == 0
        assert h.net_position() == 0


def test_protection_cancelled_by_another_api_client_is_restored_within_one_candle(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import threading

    caplog.set_level(logging.INFO)
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed=120.0, start=at(15, 20))
        cancelled_at: list = []

        def global_cancel(event) -> None:
            if not cancelled_at:  # the operator's "cancel all" in TWS, from another API client
                cancelled_at.append(h.gateway.clock.now())
                threading.Thread(target=as_outside_client, args=(h, "global_cancel")).start()

        h.session(at(15, 50), on={EventType.POSITION_OPENED: global_cancel})
        assert cancelled_at
        noticed = h.logged("PROTECTION_CANCELLED_OUTSIDE")
        assert noticed and {p["setup_id"] for p in noticed} == {SHORT}
        placed = [row for row in h.orders() if row["role"] == "stop" and row["order_ref"].endswith(".2")]
        assert placed, "a new stop protects the position"
        delay = (datetime.fromisoformat(placed[0]["sent_at"].replace("Z", "+00:00")) - cancelled_at[0]).total_seconds()
        assert 0 <= delay < 60, f"re-protected {delay:.0f} s after the cancel, within one candle"
        assert [e for e in h.bus_events(EventType.ALERT) if "cancelled outside slob" in e["message"]]
        [trade] = h.trades()
        assert trade["status"] == "CLOSED" and h.net_position() == 0
        # The log a trader reads: the outside cancel is a WARNING naming the order, the re-protection one
        # human line (orderRef, side, quantity, type, price), and no multi-line object dump anywhere.
        warned = _lines(caplog, logging.WARNING)
        assert f"slob:{SHORT}:stop cancelled outside slob (IB 202: Order Canceled - reason:)" in warned, warned
        stop = placed[0]
        assert [line for line in warned if line.startswith(f"reconcile: placing slob:{SHORT}:stop.2 BUY 1 STP "
                                                           f"{stop['stop_price']:,.2f}, slob:{SHORT}:target.2 BUY 1 LMT ")]
        assert not [line for line in warned if "Trade(" in line or "PlaceOrders(" in line or len(line) > 300]


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


def _cancel_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Warnings that report a cancel as a broker fault (none may follow a cancel slob asked for itself)."""
    return [line for line in _lines(caplog, logging.WARNING) if "Canceled" in line or "cancelled outside" in line]


def _entry_cancelled_unfilled(stack: ExitStack, tmp_path: Path) -> Harness:
    """Lockstep on the planted SHORT day until 15:45: the entry works but never fills, so slob cancels it."""
    h = start_harness(stack, tmp_path, "short_setup")
    h.gateway.withhold_fills(True)  # the entry works but never fills: slob cancels it after one candle
    h.session(at(15, 45))
    return h


def test_an_entry_slob_cancels_unfilled_is_an_info_line_saying_why_not_a_broker_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with ExitStack() as stack:
        h = _entry_cancelled_unfilled(stack, tmp_path)
        [entry] = [row for row in h.orders() if row["role"] == "entry"]
        assert entry["status"] == "CANCELLED" and entry["filled"] == 0
        [cancelled] = [r for r in caplog.records if r.getMessage() == f"cancelled slob:{SHORT}:entry (unfilled after one candle)"]
        assert cancelled.levelno == logging.INFO
        assert [p for p in h.logged("ORDER_ERROR") if p["code"] == 202 and p["order_ref"] == f"slob:{SHORT}:entry"]
        noisy = _cancel_warnings(caplog)
        assert noisy == [], "slob's own cancel is no fault"


def test_intent_that_went_stale_while_down_frees_its_risk_slot_and_the_afternoon_long_trades(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "both_setups")
        failpoints.arm("after_intent")  # the SHORT is approved (a risk slot taken) and stored, never sent
        with pytest.raises(BaseException) as crashed:
            h.session(at(19, 0))
        assert "SimulatedCrash" in repr(crashed.value)
        failpoints.disarm_all()
        assert h.store.get_state("risk_state")["open_positions"] == 1
        eventually(lambda: h.gateway.client_count == 0, timeout=30)
        h.gateway.advance_market(h.gateway.clock.now() + timedelta(minutes=5))  # slob stays down 5 minutes
        h.session(at(19, 0))
        entries = {o["setup_id"]: o["status"] for o in h.orders() if o["role"] == "entry"}
        assert entries == {SHORT: "EXPIRED", LONG: "FILLED"}, "the stale SHORT is never sent; the LONG is traded"
        [rebuilt] = h.logged("RISK_STATE_REBUILT")
        assert (rebuilt["counted"], rebuilt["open_positions"]) == (1, 0)
        assert [p for p in h.logged("SETUP_SKIPPED") if p["reason"] == "POSITION_OPEN"] == []
        assert [(t["setup_id"], t["status"]) for t in h.trades()] == [(LONG, "CLOSED")]
        assert h.store.get_state("risk_state")["open_positions"] == 0 and h.net_position() == 0


@pytest.mark.parametrize("fault", ["rejected", "never_filled"])
def test_session_end_flatten_that_does_not_fill_keeps_the_position_covered_and_the_risk_state_follows_the_broker(
        tmp_path: Path, fault: str) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")

        def opened(event: object) -> None:
            h.gateway.withhold_fills(True)  # neither the stop nor the target fills: the SHORT is open at the close
            if fault == "rejected":
                h.gateway.reject_next_order("the flatten is refused")  # the next order is the session-end flatten

        h.session(at(21, 5), on={EventType.POSITION_OPENED: opened}, flatten_retries=0)  # no retry tonight
        assert h.logged("FLATTEN_AT_SESSION_END") == [{"setup_id": SHORT}]
        assert h.net_position() == -1
        working = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith(f"slob:{SHORT}:")]
        # Rejected, or still unfilled 30 s after it was sent (then slob cancels it): either way it failed.
        [failed] = h.logged("FLATTEN_FAILED")
        assert (failed["setup_id"], failed["status"], failed["unfilled"]) == (
            SHORT, "INACTIVE" if fault == "rejected" else "CANCELLED", fault == "never_filled")
        assert [e for e in h.bus_events(EventType.ALERT) if "stays open" in e["message"]]
        stops = [o for o in working if o.order_type == "STP" and o.action == "BUY"]
        assert sum(o.remaining for o in stops) == 1, "the position is protected again, not left naked"
        assert not [o for o in working if o.order_type == "MKT"], "no flatten is left working"
        assert h.store.get_state("risk_state")["open_positions"] == 1, "the position is still open"
        # While slob is down the operator closes the position in TWS (liquidity is back).
        h.gateway.withhold_fills(False)
        eventually(lambda: h.gateway.client_count == 0, timeout=30)
        as_outside_client(h, "flatten")
        assert h.net_position() == 0
        h.session(at(21, 10))
        [short] = h.trades()
        assert (short["setup_id"], short["status"], short["exit_reason"]) == (SHORT, "CLOSED", "flatten")
        assert h.store.get_state("risk_state")["open_positions"] == 0
        left = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith("slob:")]
        assert left == [], "no stop or flatten of ours is left to open a new position"
        assert h.net_position() == 0


def _ours(h: Harness, role: str) -> list[Any]:
    """Return the broker's orders of the SHORT in one role (every attempt), in the order they were placed."""
    prefix = f"slob:{SHORT}:{role}"
    orders = [o for o in h.broker_orders() if o.order_ref == prefix or o.order_ref.startswith(prefix + ".")]
    return sorted(orders, key=lambda o: o.perm_id)


def _fill_lines(h: Harness, refs: set[str]) -> list[FillLine]:
    return [FillLine(e.shares, e.price, e.commission) for e in h.gateway.broker.executions() if e.order_ref in refs]


def test_session_end_flatten_that_does_not_fill_is_retried_and_closes_the_position_once_liquidity_is_back(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")

        def opened(event: object) -> None:
            h.gateway.withhold_fills(True)  # nothing fills: the SHORT is open at the close, the flatten hangs

        def failed(event: Any) -> None:
            if "stays open" in event.payload["message"]:
                h.gateway.withhold_fills(False)  # liquidity is back after the first flatten failed

        h.session(at(21, 5), on={EventType.POSITION_OPENED: opened, EventType.ALERT: failed})
        [first_failure] = h.logged("FLATTEN_FAILED")
        assert first_failure["unfilled"] and first_failure["retry_at"] is not None
        assert h.logged("FLATTEN_RETRY") == [{"setup_id": SHORT, "retry": 1, "of": 3}]
        assert h.logged("FLATTEN_GIVEN_UP") == []
        assert h.net_position() == 0
        first, retry = _ours(h, "flatten")
        assert (first.order_ref, first.status, first.filled) == (f"slob:{SHORT}:flatten", "Cancelled", 0)
        assert (retry.order_ref, retry.status, retry.filled) == (f"slob:{SHORT}:flatten.2", "Filled", 1)
        placed = [p["order_ref"] for p in h.logged("ORDER_PLACED")]
        assert len(placed) == len(set(placed)), "every orderRef was sent once"
        # Between the failed flatten and the retry a working stop covered the position at every moment:
        # the re-protecting stop works from the instant the first flatten ended until the retry cancels it.
        cover = [s for s in _ours(h, "stop") if s.placed_at <= first.completed_at and s.completed_at is not None
                 and s.completed_at >= first.completed_at]
        assert cover, [(s.order_ref, s.placed_at, s.completed_at) for s in _ours(h, "stop")]
        [stop] = cover
        assert (stop.order_ref, stop.status) == (f"slob:{SHORT}:stop.2", "Cancelled")
        assert first.completed_at < stop.completed_at == retry.placed_at, "the retry cancels the stop, then flattens"
        [short] = h.trades()
        entries = _fill_lines(h, {f"slob:{SHORT}:entry"})
        expected = trade_result(Direction.SHORT, 20.0, entries, _fill_lines(h, {retry.order_ref}))
        assert (short["status"], short["exit_reason"], short["quantity"]) == ("CLOSED", "flatten", 1)
        assert (short["entry_price"], short["exit_price"], short["pnl_points"], short["commission"],
                short["pnl_money"]) == (expected.entry_price, expected.exit_price, expected.points,
                                        expected.commission, expected.net)
        assert expected.commission == 2 * 2.25
        assert h.store.get_state("risk_state")["open_positions"] == 0
        assert [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith("slob:")] == []
        # Every cancel here is slob's own: confirmed in INFO lines saying why, none a broker WARNING.
        infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        for line in (f"cancelled slob:{SHORT}:stop (session-end flatten of {SHORT})",
                     f"cancelled slob:{SHORT}:flatten (flatten unfilled in time)",
                     f"cancelled slob:{SHORT}:stop.2 (session-end flatten of {SHORT})"):
            assert line in infos, infos
        assert _cancel_warnings(caplog) == []


def test_session_end_flatten_that_never_fills_is_tried_a_bounded_number_of_times_and_leaves_the_position_protected(
        tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        h.session(at(21, 15), on={EventType.POSITION_OPENED: lambda event: h.gateway.withhold_fills(True)})
        assert h.net_position() == -1
        flattens = _ours(h, "flatten")
        assert [o.order_ref for o in flattens] == [f"slob:{SHORT}:flatten"] + [
            f"slob:{SHORT}:flatten.{n}" for n in (2, 3, 4)], "the first flatten and exactly 3 retries"
        assert all((o.status, o.filled) == ("Cancelled", 0) for o in flattens)
        assert [p["retry"] for p in h.logged("FLATTEN_RETRY")] == [1, 2, 3]
        assert len(h.logged("FLATTEN_FAILED")) == 4
        assert h.logged("FLATTEN_GIVEN_UP") == [{"setup_id": SHORT, "attempts": 4, "reason": "4 attempts failed"}]
        [final] = [e for e in h.bus_events(EventType.ALERT) if "held overnight" in e["message"]]
        assert final["level"] == "error" and SHORT in final["message"]
        placed = [p["order_ref"] for p in h.logged("ORDER_PLACED")]
        assert len(placed) == len(set(placed)), "every orderRef was sent once"
        # Every failed attempt was followed by a working stop from the instant it ended.
        stops = _ours(h, "stop")
        for attempt in flattens:
            assert [s for s in stops if s.placed_at <= attempt.completed_at
                    and (s.completed_at is None or s.completed_at >= attempt.completed_at)], attempt.order_ref
        working = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith(f"slob:{SHORT}:")]
        assert [(o.order_type, o.action, o.remaining) for o in working if o.order_type == "STP"] == [("STP", "BUY", 1)]
        assert h.store.get_state("risk_state")["open_positions"] == 1
        [short] = h.trades()
        assert short["status"] == "OPEN"


ORPHAN = "slob:orphan-NQ:flatten"


def _orphan_flattens(h: Harness) -> list[Any]:
    """Return the broker's flattens of the orphan position, in the order they were placed."""
    return sorted((o for o in h.broker_orders() if o.order_ref.startswith(ORPHAN)), key=lambda o: o.perm_id)


def test_a_flatten_reconciliation_places_that_never_fills_is_cancelled_retried_and_bounded_across_a_restart(
        tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        h.session(at(15, 0))  # a quiet morning: no setup yet
        eventually(lambda: h.gateway.client_count == 0, timeout=30)
        as_outside_client(h, "buy")  # while slob is down an operator buys a contract no setup explains
        assert h.net_position() == 1
        h.gateway.withhold_fills(True)  # and nothing fills any more: reconciliation's flatten hangs
        start = h.gateway.clock.now()
        # The restart's reconciliation flattens the orphan; unfilled 90 s later it is cancelled, and the
        # reconciliation that follows sends flatten.2. slob stops while flatten.2 works. (The quiet morning's
        # steps are a minute long: a delay longer than a step tells when flatten.2 was timed from.)
        delay = timedelta(seconds=90)
        h.session(start + timedelta(seconds=150), flatten_retry_delay=delay)
        refs = [o.order_ref for o in _orphan_flattens(h)]
        assert refs == [ORPHAN, f"{ORPHAN}.2"], refs
        [unfilled] = h.logged("FLATTEN_UNFILLED")
        assert unfilled["order_ref"] == ORPHAN
        cancels = [p["order_ref"] for p in h.logged("CANCEL_REQUESTED")]
        assert cancels == [ORPHAN], "the cancel was stored before it was sent"
        assert [p["retry"] for p in h.logged("FLATTEN_RETRY")] == [1]
        working = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith("slob:")]
        assert [(o.order_ref, o.action, o.remaining) for o in working] == [(f"{ORPHAN}.2", "SELL", 1)]

        h.session(start + timedelta(minutes=9), flatten_retry_delay=delay)  # the next process: the same plan
        flattens = _orphan_flattens(h)
        assert [o.order_ref for o in flattens] == [ORPHAN] + [f"{ORPHAN}.{n}" for n in (2, 3, 4)], \
            "flatten.2 is not sent again, and exactly 3 retries"
        assert [(o.status, o.filled) for o in flattens[:3]] == [("Cancelled", 0)] * 3
        placed = [p["order_ref"] for p in h.logged("ORDER_PLACED")]
        assert len(placed) == len(set(placed)) == 4, "every orderRef was sent once"
        assert [p["retry"] for p in h.logged("FLATTEN_RETRY")] == [1, 2, 3], "the count went on after the restart"
        assert [p["order_ref"] for p in h.logged("FLATTEN_UNFILLED")] == [ORPHAN] + [f"{ORPHAN}.{n}" for n in (2, 3)]
        assert [p["unfilled"] for p in h.logged("FLATTEN_FAILED")] == [True] * 3
        # flatten.2 was cancelled at the first step 90 s after the last process sent it, not 90 s after the restart.
        second = flattens[1]
        assert second.completed_at - second.placed_at <= delay + timedelta(minutes=1), (second.placed_at, start)
        # No stop can protect an orphan (no stop price): the last flatten is left working as its only cover.
        assert h.logged("FLATTEN_GIVEN_UP") == [{"setup_id": "orphan-NQ", "attempts": 4,
                                                 "reason": "4 attempts did not fill"}]
        assert [e for e in h.bus_events(EventType.ALERT) if "left working" in e["message"]]
        working = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith("slob:")]
        assert [(o.order_ref, o.remaining) for o in working] == [(f"{ORPHAN}.4", 1)]
        assert h.net_position() == 1


def test_a_session_end_flatten_working_when_slob_restarts_is_timed_from_when_it_was_sent_and_the_count_goes_on(
        tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup")
        # Nothing fills from the entry on: the SHORT is open at the close and its flatten hangs; slob stops
        # (a deploy, a crash) while that flatten works. (After the close the steps are a minute long: a delay
        # longer than a step tells whether the flatten was timed from when it was sent or from the restart.)
        delay = timedelta(seconds=90)
        h.session(at(21, 0) + timedelta(seconds=10), flatten_retry_delay=delay,
                  on={EventType.POSITION_OPENED: lambda event: h.gateway.withhold_fills(True)})
        [first] = _ours(h, "flatten")
        assert first.status == "Submitted" and h.logged("FLATTEN_UNFILLED") == []
        h.session(at(21, 45), flatten_retry_delay=delay)
        flattens = _ours(h, "flatten")
        assert [o.order_ref for o in flattens] == [f"slob:{SHORT}:flatten"] + [
            f"slob:{SHORT}:flatten.{n}" for n in (2, 3, 4)], "not sent again after the restart; exactly 3 retries"
        assert flattens[0].completed_at - flattens[0].placed_at <= delay + timedelta(minutes=1), "its deadline kept"
        assert all((o.status, o.filled) == ("Cancelled", 0) for o in flattens)
        assert h.logged("FLATTEN_AT_SESSION_END") == [{"setup_id": SHORT}], "one plan over both processes"
        assert [p["retry"] for p in h.logged("FLATTEN_RETRY")] == [1, 2, 3]
        assert h.logged("FLATTEN_GIVEN_UP") == [{"setup_id": SHORT, "attempts": 4, "reason": "4 attempts failed"}]
        placed = [p["order_ref"] for p in h.logged("ORDER_PLACED")]
        assert len(placed) == len(set(placed)), "every orderRef was sent once"
        stops = _ours(h, "stop")
        for attempt in flattens:  # re-protected from the instant each attempt ended
            assert [s for s in stops if s.placed_at <= attempt.completed_at
                    and (s.completed_at is None or s.completed_at >= attempt.completed_at)], attempt.order_ref
        working = [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith(f"slob:{SHORT}:")]
        assert [(o.order_type, o.action, o.remaining) for o in working if o.order_type == "STP"] == [("STP", "BUY", 1)]
        assert h.net_position() == -1


def test_a_stop_the_price_ran_through_while_slob_was_down_is_not_placed_the_position_is_flattened(
        tmp_path: Path) -> None:
    """The bracket is cancelled outside slob while it is down and the price runs through the stop; on restart
    reconciliation, given the feed's last trade price, flattens rather than placing a stop already through."""
    with ExitStack() as stack:
        h = _short_held_by_a_crashed_slob(stack, tmp_path)
        eventually(lambda: h.net_position() == -1 and h.gateway.client_count == 0, timeout=30)
        as_outside_client(h, "global_cancel")  # the bracket's stop and target are gone; the SHORT is naked
        eventually(lambda: not [o for o in h.gateway.broker.open_orders() if o.order_ref.startswith(f"slob:{SHORT}:")],
                   timeout=30)
        [stop] = [o for o in h.orders() if o["order_ref"] == f"slob:{SHORT}:stop"]
        down_at = h.gateway.clock.now()
        h.gateway.jump_price(40.0)  # and the market runs 40 points up, through the SHORT's stop,
        h.gateway.advance_market(down_at + timedelta(minutes=2))  # for two minutes before slob is back
        h.session(at(15, 40))
        refs = [row["order_ref"] for row in h.orders() if row["setup_id"] == SHORT]
        assert f"slob:{SHORT}:stop.2" not in refs, "no stop placed already through the price"
        assert f"slob:{SHORT}:flatten.2" in refs, h.logged("RECONCILE")
        [place] = [p for p in h.logged("RECONCILE") if p["action"] == "PlaceOrders"]
        assert f"is through the stop {stop['stop_price']:,.2f}" in place["detail"]
        [trade] = [t for t in h.trades() if t["setup_id"] == SHORT]
        assert (trade["status"], trade["exit_reason"]) == ("CLOSED", "flatten")
        assert trade["exit_price"] > stop["stop_price"], "closed at the market, beyond the stop"
        assert h.net_position() == 0


def _late_202_after_connect(h: Harness, order_ref: str) -> list[bool]:
    """At the restarted session's connect, have the gateway send IB's 202 for one of slob's orders.

    The order is done at the broker, so ib_async holds it (from completedOrders) by permId only:
    the 202 reaches slob bare, before the start's reconciliation re-learns anything.
    """
    [row] = [row for row in h.orders() if row["order_ref"] == order_ref]
    sent: list[bool] = []
    log_event = h.store.log_event

    def on_connect(kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "IB_CONNECTED" and not sent:
            sent.append(True)
            h.gateway.send_error(202, row["broker_order_id"], "Order Canceled - reason:")
        return log_event(kind, *args, **kwargs)

    h.store.log_event = on_connect  # type: ignore[method-assign, assignment]
    return sent


def test_a_202_after_a_restart_for_an_entry_slob_cancelled_is_still_slobs_own_cancel(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with ExitStack() as stack:
        h = _entry_cancelled_unfilled(stack, tmp_path)
        caplog.clear()
        before = len(h.logged("ORDER_ERROR"))
        sent = _late_202_after_connect(h, f"slob:{SHORT}:entry")
        h.session(at(15, 47))
        assert sent
        [late] = h.logged("ORDER_ERROR")[before:]
        assert late["order_ref"] == f"slob:{SHORT}:entry", "the orderRef is known from the store"
        infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        assert f"cancelled slob:{SHORT}:entry (asked by slob before a restart)" in infos
        noisy = _cancel_warnings(caplog)
        assert noisy == [], "slob's own cancel is no fault, after a restart too"


def test_a_202_after_a_restart_for_a_stop_cancelled_at_the_broker_re_protects_the_position(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with ExitStack() as stack:
        h = _short_held_by_a_crashed_slob(stack, tmp_path)
        eventually(lambda: h.net_position() == -1, timeout=30)
        as_outside_client(h, "global_cancel")  # the stop and target are gone at the broker; the store says working
        caplog.clear()
        sent = _late_202_after_connect(h, f"slob:{SHORT}:stop")
        h.session(at(15, 37))
        assert sent
        assert [p for p in h.logged("ORDER_ERROR") if p["code"] == 202 and p["order_ref"] == f"slob:{SHORT}:stop"]
        assert [p["setup_id"] for p in h.logged("PROTECTION_CANCELLED_OUTSIDE")] == [SHORT], \
            "classified as before a restart: a protective stop cancelled outside slob"
        warned = _lines(caplog, logging.WARNING)
        assert f"slob:{SHORT}:stop cancelled outside slob (IB 202: Order Canceled - reason:)" in warned, warned
        assert [row for row in h.orders() if row["order_ref"] == f"slob:{SHORT}:stop.2"], "a new stop protects it"
        assert h.net_position() in (-1, 0)
