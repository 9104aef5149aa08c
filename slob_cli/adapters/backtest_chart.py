"""Draw a backtest's equity curve (closed-trade equity after each trade) as a PNG with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from slob_cli.errors import InputError


def write_equity_png(path: Path, points: Sequence[tuple[str | None, float]], title: str, note: str) -> Path:
    """Write the equity curve to `path`; raise InputError when the file cannot be written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    equity = [value for _, value in points]
    figure, axis = plt.subplots(figsize=(10, 4.5))
    try:
        axis.plot(range(len(equity)), equity, drawstyle="steps-post", color="royalblue", linewidth=1.4)
        peak = [max(equity[: index + 1]) for index in range(len(equity))]
        axis.fill_between(range(len(equity)), equity, peak, step="post", color="firebrick", alpha=0.15,
                          label="drawdown")
        axis.set_title(title)
        axis.set_xlabel("trade number")
        axis.set_ylabel("equity (USD, after commission)")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left")
        figure.text(0.01, 0.01, note, fontsize=6, wrap=True)
        figure.tight_layout(rect=(0, 0.06, 1, 1))
        try:
            figure.savefig(path, dpi=110)
        except OSError as exc:
            raise InputError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    finally:
        plt.close(figure)
    return path
