"""Risk limits on the both-directions day: the kill switch and the daily loss limit, end to end."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from slob_cli.core.risk import RiskConfig
from slob_cli.runtime.events import Event, EventType
from tests.e2e.harness import at, start_harness

SHORT, LONG = "NQ-20260106-S1", "NQ-20260106-L1"
SPEED = "max"  # lockstep: the run is the demo's at any speed (the day's two setups are three hours apart)
AFTER_LONG_ENTRY = at(18, 34)  # the LONG completes at 18:31 and its entry fills about 18:32


def _refs(setup_id: str) -> set[str]:
    return {f"slob:{setup_id}:{role}" for role in ("entry", "stop", "target")}


def _skipped(event: Event) -> dict[str, str] | None:
    payload = event.payload
    return payload if isinstance(payload, dict) and payload.get("type") == "SETUP_SKIPPED" else None


def test_kill_switch_skips_the_setup_and_removing_it_lets_the_next_one_through(tmp_path: Path) -> None:
    kill_switch = tmp_path / "KILL"
    kill_switch.write_text("stop\n")
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "both_setups", speed=SPEED)

        def lift(event: Event) -> None:
            if _skipped(event):  # the trader removes the file once the morning SHORT was refused
                kill_switch.unlink(missing_ok=True)

        h.session(AFTER_LONG_ENTRY, kill_switch_path=kill_switch, on={EventType.SETUP_EVENT: lift})
        assert [row["id"] for row in h.completed_setups()] == [SHORT, LONG]
        [skipped] = h.logged("SETUP_SKIPPED")
        assert (skipped["setup_id"], skipped["reason"]) == (SHORT, "KILL_SWITCH")
        assert {row["order_ref"] for row in h.orders()} == _refs(LONG)
        assert sorted(o.order_ref for o in h.broker_orders()) == sorted(_refs(LONG)), "nothing for the SHORT"
        [trade] = h.trades()
        assert (trade["setup_id"], trade["direction"], trade["status"]) == (LONG, "LONG", "OPEN")
        assert h.net_position() == 1


def test_daily_loss_limit_reached_by_first_trade_skips_the_second_setup(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "both_setups", speed=SPEED)
        moves: list[float] = []

        def spike(event: Event) -> None:
            if not moves:  # the market runs 40 points against the SHORT: its stop (21 points away) fills
                moves.append(40.0)
                h.gateway.jump_price(40.0)

        def settle(event: Event) -> None:
            if moves == [40.0]:  # and comes back, so the afternoon plays as planted
                moves.append(-40.0)
                h.gateway.jump_price(-40.0)

        equity = float(h.gateway.broker.account_values("DU1234567")["NetLiquidation"])
        limit_pct = 300.0 / equity * 100.0  # 300 USD: less than one NQ contract stopped out 21 points away
        result = h.session(AFTER_LONG_ENTRY, risk=RiskConfig(daily_loss_limit_pct=limit_pct),
                           on={EventType.POSITION_OPENED: spike, EventType.POSITION_CLOSED: settle})
        assert moves == [40.0, -40.0]
        short = next(t for t in h.trades() if t["setup_id"] == SHORT)
        assert (short["status"], short["exit_reason"]) == ("CLOSED", "stop")
        assert short["pnl_money"] <= -300.0
        assert LONG in [row["id"] for row in h.completed_setups()]
        skipped = {p["setup_id"]: p["reason"] for p in h.logged("SETUP_SKIPPED")}
        assert skipped[LONG] == "DAILY_LOSS_LIMIT"
        assert set(skipped.values()) == {"DAILY_LOSS_LIMIT"}, "every later setup refused for the same reason"
        assert {row["order_ref"] for row in h.orders()} == _refs(SHORT), "no order after the limit"
        assert sorted(o.order_ref for o in h.broker_orders()) == sorted(_refs(SHORT))
        assert h.store.get_state("risk_state")["daily_limit_hit"] is True
        assert h.net_position() == 0 and result.pnl == short["pnl_money"]
