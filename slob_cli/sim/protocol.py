"""TWS wire framing: length-prefixed messages of NUL-terminated text fields, and value formatting."""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HANDSHAKE_PREFIX = b"API\0"
MAX_MESSAGE_BYTES = 0xFFFFFF
MIN_SERVER_VERSION = 157
MAX_SERVER_VERSION = 178
UNSET_DOUBLE = 1.7976931348623157e308
UNSET_INTEGER = 2**31 - 1

Field = str | int | float | bool | None
_LENGTH = struct.Struct(">I")


class ProtocolError(ValueError):
    """A client sent bytes that do not follow the TWS wire protocol."""


def format_value(value: Field) -> str:
    """Return the wire text for one value: ints, shortest floats, bools 1/0, unset -> ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if math.isnan(value) or value == UNSET_DOUBLE:
            return ""
        if math.isinf(value):
            return "Infinite" if value > 0 else "-Infinite"
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if "\0" in value:
        raise ValueError("a field cannot contain NUL")
    return value


def encode_fields(fields: Iterable[Field]) -> bytes:
    """Return one framed message: 4-byte big-endian length, then NUL-terminated fields."""
    return frame("".join(format_value(field) + "\0" for field in fields).encode())


def frame(payload: bytes) -> bytes:
    """Return a payload (already NUL-terminated fields) with its 4-byte length prefix."""
    return _LENGTH.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> list[str]:
    """Split a message payload into its fields (the payload ends with NUL)."""
    if not payload.endswith(b"\0"):
        raise ProtocolError("message payload is not NUL-terminated")
    try:
        text = payload.decode()
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"message is not UTF-8: {exc}") from exc
    return text.split("\0")[:-1]


def message_length(prefix: bytes) -> int:
    """Return the payload length announced by a 4-byte prefix, or raise ProtocolError."""
    (length,) = _LENGTH.unpack(prefix)
    if length == 0 or length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message length {length} is out of range")
    return length


@dataclass(frozen=True, slots=True)
class VersionRange:
    """The client versions a client offers in its handshake."""

    minimum: int
    maximum: int
    options: str = ""


def parse_version_range(fields: Sequence[str]) -> VersionRange:
    """Parse the handshake's `v157..178[ options]` field."""
    if len(fields) != 1 or not fields[0].startswith("v"):
        raise ProtocolError(f"handshake expected 'vMIN..MAX', got {list(fields)!r}")
    text, _, options = fields[0][1:].partition(" ")
    low, dots, high = text.partition("..")
    try:
        minimum = int(low)
        maximum = int(high) if dots else minimum
    except ValueError as exc:
        raise ProtocolError(f"handshake version range {fields[0]!r} is not numeric") from exc
    if minimum > maximum:
        raise ProtocolError(f"handshake version range {fields[0]!r} is empty")
    return VersionRange(minimum, maximum, options)


def choose_server_version(offered: VersionRange, configured_max: int) -> int:
    """Return the version to speak: the highest both sides support, or raise ProtocolError."""
    version = min(offered.maximum, configured_max)
    if version == 158:
        # IB's client reads openOrder's `duration` from 158, ib_async only from 159: 157 suits both.
        version = 157
    if version < max(offered.minimum, MIN_SERVER_VERSION):
        raise ProtocolError(
            f"no common server version: client offers {offered.minimum}..{offered.maximum}, "
            f"gateway speaks {MIN_SERVER_VERSION}..{configured_max}"
        )
    return version


class FieldReader:
    """Read typed fields off one client message, front to back, and check nothing is left over."""

    __slots__ = ("fields", "position")

    def __init__(self, fields: Sequence[str], start: int = 0) -> None:
        self.fields = fields
        self.position = start

    def text(self) -> str:
        """Return the next field as text."""
        if self.position >= len(self.fields):
            raise ProtocolError(f"message {self.fields[0] if self.fields else '?'} is truncated "
                                f"(wanted field {self.position}, has {len(self.fields)})")
        value = self.fields[self.position]
        self.position += 1
        return value

    def integer(self, default: int = 0) -> int:
        """Return the next field as an int ('' gives default)."""
        value = self.text()
        if value == "":
            return default
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError as exc:
                raise ProtocolError(f"field {self.position - 1} {value!r} is not an integer") from exc
            if not number.is_integer():
                raise ProtocolError(f"field {self.position - 1} {value!r} is not an integer") from None
            return int(number)

    def number(self) -> float | None:
        """Return the next field as a float, or None when unset ('' or the unset double)."""
        value = self.text()
        if value == "":
            return None
        if value == "Infinite":
            return math.inf
        try:
            number = float(value)
        except ValueError as exc:
            raise ProtocolError(f"field {self.position - 1} {value!r} is not a number") from exc
        if not math.isfinite(number):
            # IB's server parses with Java's Double.parseDouble: Python's 'nan'/'inf' are not numbers there.
            raise ProtocolError(f"field {self.position - 1} {value!r} is not a number")
        return None if number >= UNSET_DOUBLE else number

    def flag(self) -> bool:
        """Return the next field as a bool ('' is False)."""
        value = self.text()
        if value in ("", "0", "false", "False"):
            return False
        if value in ("1", "true", "True"):
            return True
        raise ProtocolError(f"field {self.position - 1} {value!r} is not a boolean")

    def skip(self, count: int) -> None:
        """Skip count fields."""
        for _ in range(count):
            self.text()

    @property
    def remaining(self) -> int:
        """Return how many fields are still unread."""
        return len(self.fields) - self.position

    def finish(self) -> None:
        """Raise ProtocolError if any field is left over."""
        if self.remaining:
            raise ProtocolError(
                f"message {self.fields[0]} has {self.remaining} unexpected trailing field(s): "
                f"{list(self.fields[self.position:self.position + 5])!r}"
            )
