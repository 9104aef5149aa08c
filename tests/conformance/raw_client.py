"""A bare TWS API client on a blocking socket: send any fields, read framed messages, see the close."""

from __future__ import annotations

import socket
import struct
import time


class RawClient:
    """One API connection that sends exactly what it is told (for malformed and fuzzed requests)."""

    def __init__(self, host: str, port: int, client_id: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.closed = False
        offer = b"v157..178"
        self.sock.sendall(b"API\0" + struct.pack(">I", len(offer)) + offer)
        self.version = int(self.read()[0])
        self.send(["71", "2", str(client_id), ""])
        self.until(lambda fields: fields[0] == "9")  # nextValidId: the API is ready

    def send(self, fields: list[str]) -> None:
        """Send one message made of these fields."""
        self.send_payload("".join(field + "\0" for field in fields).encode())

    def send_payload(self, payload: bytes) -> None:
        """Send one framed payload as it is (it may be malformed)."""
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def read(self) -> list[str] | None:
        """Return the next message's fields, or None once the gateway closed the connection."""
        deadline = time.monotonic() + self.timeout
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + length:
                    payload, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
                    return payload.decode(errors="replace").split("\0")[:-1]
            if time.monotonic() > deadline:
                raise TimeoutError("the gateway neither answered nor closed the connection")
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return None
            self.buffer += chunk

    def until(self, wanted: callable) -> list[list[str]]:  # type: ignore[valid-type]
        """Read until a message satisfies wanted (returned last) or the connection closes; return all read."""
        seen: list[list[str]] = []
        while True:
            fields = self.read()
            if fields is None:
                return seen
            seen.append(fields)
            if wanted(fields):
                return seen

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
