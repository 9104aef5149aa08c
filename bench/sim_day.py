"""Print how long a whole simulated trading day takes end to end, at --speed max and at --speed 1000.

The planted both-setups day (23,400 ticks, two brackets filled) is served by the embedded simulated
gateway in lockstep with the engine, over the real TWS wire protocol and the real ib_async client,
exactly as `slob run --sim` wires it. The baseline is the same day at --speed 1000, measured in the
same run. Targets: max at least 5x faster than 1000x, and a whole day under 10 s.

    python bench/sim_day.py [--seed 7] [--repeat 1]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slob_cli.adapters.calendar import load_calendar  # noqa: E402
from slob_cli.adapters.ib.connection import GatewayConfig  # noqa: E402
from slob_cli.adapters.store import Store  # noqa: E402
from slob_cli.core.risk import RiskConfig  # noqa: E402
from slob_cli.core.strategy.config import StrategyConfig  # noqa: E402
from slob_cli.runtime.engine import EngineOptions  # noqa: E402
from slob_cli.runtime.session import SimOptions, run_session, start_sim  # noqa: E402


def one_day(seed: int, speed: float | str, folder: Path) -> tuple[float, int, float]:
    """Run the planted day once; return (seconds, ticks processed, P&L)."""
    calendar = load_calendar(date(2025, 12, 1), date(2026, 2, 28))
    sim = SimOptions(seed=seed, scenario="both_setups", trading_date=date(2026, 1, 6), speed=speed)
    with ExitStack() as stack:
        gateway, _, until = start_sim(stack, sim, calendar)
        store = stack.enter_context(Store.open(folder / f"day-{speed}-{time.monotonic_ns()}.db"))
        config = GatewayConfig(host=gateway.host, port=gateway.port, client_id=1, heartbeat_interval=3600)
        options = EngineOptions(until=until, grace_seconds=sim.grace_seconds, clock_speed=sim.clock_speed,
                                store_ticks=True, lockstep=sim.lockstep)
        began = time.perf_counter()
        result = run_session(store, config, options, strategy=StrategyConfig(), risk=RiskConfig(),
                             calendar=calendar, clock=gateway.clock)
        elapsed = time.perf_counter() - began
    return elapsed, result.stats.ticks, result.pnl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        figures = {}
        for speed in ("1000", "max"):
            runs = [one_day(args.seed, speed, Path(folder)) for _ in range(args.repeat)]
            seconds = min(run[0] for run in runs)
            ticks, pnl = runs[0][1], runs[0][2]
            figures[speed] = seconds
            print(f"--speed {speed:>4}: {seconds:6.2f} s for {ticks:,} ticks = {ticks / seconds:8,.0f} ticks/s "
                  f"end to end, P&L {pnl:+,.2f} USD")
        ratio = figures["1000"] / figures["max"]
        print(f"max is {ratio:.1f}x faster than 1000x (target >= 5x); a whole day at max: {figures['max']:.2f} s "
              f"(target < 10 s)")


if __name__ == "__main__":
    main()
