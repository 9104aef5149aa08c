"""Frozen value types shared by every layer: ticks, candles, directions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import TypeAlias

UTC = timezone.utc
TICK_SIZE = 0.25
# Dates slob accepts anywhere (flags, files): NQ futures began in 1996; later than 2099 is a typo.
FIRST_SUPPORTED_DATE, LAST_SUPPORTED_DATE = date(1990, 1, 1), date(2099, 12, 31)
SUPPORTED_DATES = f"{FIRST_SUPPORTED_DATE.isoformat()}..{LAST_SUPPORTED_DATE.isoformat()}"
MAX_TICK_COUNT = 1_000_000_000  # ticks in one minute: more is a corrupt file, not a market
ONE_MINUTE = timedelta(minutes=1)


class Direction(str, Enum):
    """Trade direction of a setup."""

    SHORT = "SHORT"
    LONG = "LONG"


# The market data farm the simulated gateway (slob_cli/sim) names in its 2103/2104 notices. No IB
# gateway has a farm of this name, so a client that hears it knows its data is simulated.
SIMULATED_FARM = "slobsim"

@dataclass(frozen=True, slots=True)
class Instrument:
    """A futures root we know how to trade."""

    symbol: str
    exchange: str
    multiplier: float
    tick_size: float
    currency: str = "USD"


INSTRUMENTS: dict[str, Instrument] = {
    "NQ": Instrument("NQ", "CME", 20.0, TICK_SIZE),
    "MNQ": Instrument("MNQ", "CME", 2.0, TICK_SIZE),
}
SAME_PRICES: dict[str, str] = {"MNQ": "NQ", "NQ": "MNQ"}  # both quote the Nasdaq-100 at the same prices


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade: symbol, UTC timestamp, price and size (contracts)."""

    symbol: str
    ts: datetime
    price: float
    size: float


@dataclass(frozen=True, slots=True)
class Candle:
    """One M1 OHLCV bar labelled by its minute's start (UTC).

    `tick_count == 0` marks a synthetic (gap-filled) bar; `dropped_ticks` counts ticks the
    buffer dropped inside this minute, so a bar built from incomplete data says so.
    """

    symbol: str
    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    tick_count: int
    dropped_ticks: int = 0

    @property
    def end(self) -> datetime:
        """Return the instant the bar becomes final (its minute's end)."""
        return self.ts + ONE_MINUTE

    @property
    def synthetic(self) -> bool:
        """Return True for a gap-filled bar that no trade produced."""
        return self.tick_count == 0


class PriceBar:
    """A stored M1 bar as the tracker reads it (no volume), read-only by convention.

    Built in bulk for a third of a frozen Candle's cost (a frozen dataclass sets each field through
    object.__setattr__); slots keep attribute reads as fast as a Candle's, which a NamedTuple's are not.
    """

    __slots__ = ("symbol", "ts", "open", "high", "low", "close", "tick_count")

    def __init__(self, symbol: str, ts: datetime, open: float, high: float, low: float, close: float,  # noqa: A002
                 tick_count: int) -> None:
        self.symbol = symbol
        self.ts = ts
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.tick_count = tick_count

    def __repr__(self) -> str:
        return (f"PriceBar({self.symbol!r}, {self.ts!r}, {self.open!r}, {self.high!r}, {self.low!r}, "
                f"{self.close!r}, {self.tick_count!r})")

    @property
    def end(self) -> datetime:
        """Return the instant the bar becomes final (its minute's end)."""
        return self.ts + ONE_MINUTE


Bar: TypeAlias = Candle | PriceBar  # what the setup tracker reads of a closed M1 bar


class InvalidTick(ValueError):
    """A tick failed edge validation; the message names what is wrong."""


def validate_tick(
    symbol: str, ts: datetime, price: float, size: float, known_symbols: frozenset[str] | set[str] | None = None
) -> Tick:
    """Return a Tick, or raise InvalidTick naming the first problem found."""
    if known_symbols is not None and symbol not in known_symbols:
        raise InvalidTick(f"unknown symbol {symbol!r}")
    if not isinstance(ts, datetime):
        raise InvalidTick(f"timestamp {ts!r} is not a datetime")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidTick(f"timestamp {ts.isoformat()} has no time zone")
    try:
        price_f = float(price)
        size_f = float(size)
    except (TypeError, ValueError) as exc:
        raise InvalidTick(f"price {price!r} or size {size!r} is not a number") from exc
    if not math.isfinite(price_f) or price_f <= 0:
        raise InvalidTick(f"price {price!r} is not a positive finite number")
    if not math.isfinite(size_f) or size_f < 0:
        raise InvalidTick(f"size {size!r} is negative or not finite")
    return Tick(symbol, ts.astimezone(UTC), price_f, size_f)


def floor_minute(ts: datetime) -> datetime:
    """Return the start of the UTC minute containing ts."""
    return ts.replace(second=0, microsecond=0)


def round_to_tick(price: float, tick: float = TICK_SIZE, mode: str = "nearest") -> float:
    """Round a price to the tick grid: mode 'nearest', 'up' or 'down'."""
    steps = price / tick
    # Guard against float noise such as 25587.000000001 / 0.25.
    nearest = round(steps)
    if abs(steps - nearest) < 1e-9:
        return nearest * tick
    if mode == "up":
        return math.ceil(steps) * tick
    if mode == "down":
        return math.floor(steps) * tick
    return nearest * tick
