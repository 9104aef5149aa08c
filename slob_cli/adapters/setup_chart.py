"""Draw one setup as an mplfinance candlestick chart with its levels and key bars marked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from slob_cli.adapters.store import Store, from_iso
from slob_cli.adapters.store.setups import StoredEvent
from slob_cli.core.pnl import price_text
from slob_cli.errors import InputError

MARGIN = timedelta(minutes=20)
# (label, time column, price column, marker, colour)
MARKERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("LIQ #1", "liq1_time", "liq1_price", "D", "darkorange"),
    ("HIGH", "high_time", "high", "v", "firebrick"),
    ("LOW", "low_time", "low", "^", "seagreen"),
    ("LIQ #2", "liq2_time", "liq2_price", "X", "purple"),
    ("trigger", "trigger_time", "entry_estimate", "*", "royalblue"),
)
# (label, price column, colour)
LINES: tuple[tuple[str, str, str], ...] = (
    ("entry", "entry_estimate", "royalblue"),
    ("stop", "stop", "red"),
    ("target", "target", "green"),
)


def reference_levels(events: Sequence[StoredEvent]) -> tuple[float, float] | None:
    """Return (LSE high, LSE low) from the day's LSE_LEVELS_FROZEN event, or None."""
    for event in events:
        if event.type == "LSE_LEVELS_FROZEN":
            data = event.payload.get("data") or {}
            high, low = data.get("high"), data.get("low")
            if isinstance(high, (int, float)) and isinstance(low, (int, float)):
                return float(high), float(low)
    return None


def chart_window(setup: dict[str, Any], events: Sequence[StoredEvent]) -> tuple[datetime, datetime]:
    """Return [start, end) of the chart: the setup's first to last key time with a margin each side."""
    times = [from_iso(setup[column]) for _label, column, *_rest in MARKERS if setup[column]]
    times += [from_iso(setup["nowick_time"])] if setup["nowick_time"] else []
    times += [event.bar_time for event in events if event.setup_id == setup["id"]]
    moments = [moment for moment in times if moment is not None]
    if not moments:
        raise InputError(f"setup {setup['id']} has no times to chart")
    return min(moments) - MARGIN, max(moments) + MARGIN


def write_setup_chart(
    store: Store, setup: dict[str, Any], events: Sequence[StoredEvent], path: Path, zone: ZoneInfo
) -> Path:
    """Write a PNG chart of the setup's window to path and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import mplfinance as mpf
    import numpy as np
    import pandas as pd
    from matplotlib.lines import Line2D

    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # font fallbacks are not the user's problem

    start, end = chart_window(setup, events)
    frame = store.candles_frame(setup["symbol"], start, end)
    if frame.empty:
        raise InputError(f"no stored candles of {setup['symbol']} between {start:%H:%M} and {end:%H:%M} UTC")
    frame = frame[["open", "high", "low", "close", "volume"]].rename(columns=str.capitalize)
    frame.index = frame.index.tz_convert(zone).tz_localize(None)

    def local(text: str | None) -> pd.Timestamp | None:
        moment = from_iso(text)
        return None if moment is None else pd.Timestamp(moment.astimezone(zone).replace(tzinfo=None))

    plots = []
    for label, time_column, price_column, marker, colour in MARKERS:
        when, price = local(setup[time_column]), setup[price_column]
        if when is None or price is None or when not in frame.index:
            continue
        series = pd.Series(np.nan, index=frame.index)
        series[when] = price
        plots.append(mpf.make_addplot(series, type="scatter", marker=marker, markersize=140,
                                      color=colour, label=f"{label} {price_text(price)}"))
    nowick = local(setup["nowick_time"])
    if nowick is not None and nowick in frame.index:
        series = pd.Series(np.nan, index=frame.index)
        series[nowick] = frame.loc[nowick, "Low"] - (frame["High"].max() - frame["Low"].min()) * 0.02
        plots.append(mpf.make_addplot(series, type="scatter", marker="o", markersize=90, color="black",
                                      label="no-wick candle"))

    levels: list[tuple[str, float, str, Literal["--", "-."]]] = []
    reference = reference_levels(events)
    if reference is not None:
        levels += [("LSE high", reference[0], "gray", "--"), ("LSE low", reference[1], "gray", "--")]
    levels += [(label, setup[column], colour, "-.") for label, column, colour in LINES if setup[column] is not None]

    reason = f" ({setup['invalidation_reason']})" if setup["invalidation_reason"] else ""
    rr = f"  R:R {setup['risk_reward']:.2f}" if setup["risk_reward"] is not None else ""
    kwargs: dict[str, Any] = {}
    if plots:
        kwargs["addplot"] = plots
    if levels:
        kwargs["hlines"] = {"hlines": [level[1] for level in levels], "colors": [level[2] for level in levels],
                            "linestyle": [level[3] for level in levels], "linewidths": 1.2}
    style = mpf.make_mpf_style(base_mpf_style="yahoo", y_on_right=False)
    figure, axes = mpf.plot(
        frame, type="candle", style=style, returnfig=True, figsize=(13, 7), ylabel="price",
        datetime_format="%H:%M", xrotation=0, warn_too_much_data=10_000, **kwargs,
    )
    axis = axes[0]
    axis.set_title(f"{setup['id']} {setup['direction']} {setup['state']}{reason}{rr}", fontsize=13)
    prices = [level[1] for level in levels] + [float(frame["High"].max()), float(frame["Low"].min())]
    padding = (max(prices) - min(prices)) * 0.04 or 1.0
    axis.set_ylim(min(prices) - padding, max(prices) + padding)
    handles, labels = axis.get_legend_handles_labels()
    for label, price, colour, style_name in levels:
        handles.append(Line2D([], [], color=colour, linestyle=style_name, linewidth=1.2))
        labels.append(f"{label} {price_text(price)}")
    if handles:
        axis.legend(handles, labels, loc="best", fontsize=8, framealpha=0.9)
    axis.set_xlabel(f"time ({zone.key})")
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.2)
    except OSError as exc:
        raise InputError(f"cannot write chart {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(figure)
    return path
