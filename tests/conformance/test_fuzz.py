"""Malformed frames and fields of every request type: an error or a closed client, never a crash or a hang."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Hypothesis imports its shrinker's optimiser lazily, on the first example, while the gateway's thread is
# running; CPython 3.11's parser may then fail with "AST constructor recursion depth mismatch" (its
# recursion counter is not safe against a second thread compiling at the same moment). Import it now.
from hypothesis.internal.conjecture import optimiser  # noqa: F401

from slob_cli.sim.gateway import SimGatewayThread
from tests.conformance.raw_client import RawClient
from tests.conformance.wire_templates import request_templates
from tests.sim.helpers import BUSY_START

TEMPLATES = request_templates()
NASTY = ["", "nan", "inf", "-inf", "Infinite", "-1", "0", "2147483648", "-9223372036854775809", "1e309", "abc",
         "9" * 40, "1.5", "-0", "é", "\x01", " ", "1,2", "0x10", "DU1234567", "CONTFUT", "BAG", "LMT", "99"]
_client_ids = itertools.count(100)


class _InternalErrors(logging.Handler):
    """Collect the gateway's 'internal error' log lines: a request that broke the gateway's own code."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (f" ({record.exc_info[1]!r})" if record.exc_info else ""))


_internal = _InternalErrors()


@pytest.fixture(scope="module")
def fuzz_gateway() -> Iterator[SimGatewayThread]:
    logger = logging.getLogger("slob.sim")
    logger.addHandler(_internal)
    try:
        with SimGatewayThread(start=BUSY_START, speed=1.0, seed=1) as gateway:
            yield gateway
    finally:
        logger.removeHandler(_internal)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Return (request name, its fields with one to three mutations)."""
    name = draw(st.sampled_from(sorted(TEMPLATES)))
    fields = list(TEMPLATES[name])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "drop", "append", "truncate", "random"]))
        index = draw(st.integers(1, max(1, len(fields) - 1))) if len(fields) > 1 else 1
        if kind == "replace" and len(fields) > 1:
            fields[index] = draw(st.sampled_from(NASTY))
        elif kind == "drop" and len(fields) > 1:
            del fields[index]
        elif kind == "append":
            fields += draw(st.lists(st.sampled_from(NASTY), min_size=1, max_size=3))
        elif kind == "truncate":
            fields = fields[:index]
        elif len(fields) > 1:
            fields[index] = draw(st.text(st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]),
                                         max_size=12))
    return name, fields


def _probe(client: RawClient) -> bool:
    """Return True when the connection still answers reqCurrentTime, False when the gateway closed it."""
    if client.closed:
        return False
    client.send(["49", "1"])
    return bool(client.until(lambda fields: fields[0] == "49")) and not client.closed


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_a_mutated_request_gets_an_answer_or_closes_only_that_client(fuzz_gateway: SimGatewayThread,
                                                                       case: tuple[str, list[str]]) -> None:
    _, fields = case
    client = RawClient(fuzz_gateway.host, fuzz_gateway.port, next(_client_ids))
    try:
        client.send(fields)
        _probe(client)  # answered, or closed: both are fine; a hang raises TimeoutError
    finally:
        client.close()
    assert not _internal.lines, _internal.lines[:3]


def test_broken_frames_close_only_their_client_and_nobody_else_notices(fuzz_gateway: SimGatewayThread) -> None:
    bystander = RawClient(fuzz_gateway.host, fuzz_gateway.port, 99)
    cases = [
        (b"49\x001", False),  # not NUL-terminated: framing is lost, the client is closed
        (b"\xff\xfe\x00", False),  # not UTF-8
        (b"\x00", True),  # one empty field: an unreadable message id, error 320
        (b"3\x00" + b"x" * 70000 + b"\x00", True),  # a huge truncated placeOrder, error 320
    ]
    outcomes = []
    for payload, _ in cases:
        client = RawClient(fuzz_gateway.host, fuzz_gateway.port, next(_client_ids))
        client.send_payload(payload)
        outcomes.append(_probe(client))
        client.close()
    assert outcomes == [stays_open for _, stays_open in cases]
    assert _probe(bystander)
    bystander.close()
    assert not _internal.lines


def test_every_request_ibapi_writes_is_read_without_a_read_error(fuzz_gateway: SimGatewayThread) -> None:
    client = RawClient(fuzz_gateway.host, fuzz_gateway.port, 98)
    for name, fields in TEMPLATES.items():
        if name == "startApi":
            continue
        client.send(fields)
    assert _probe(client)
    client.send(["49", "1"])
    seen = client.until(lambda fields: fields[0] == "49")
    client.close()
    read_errors = [fields for fields in seen if fields[0] == "4" and fields[3] == "320"]
    assert not read_errors


def test_every_field_of_every_request_survives_nasty_values(fuzz_gateway: SimGatewayThread) -> None:
    for name, fields in TEMPLATES.items():
        for index in range(1, len(fields)):
            for value in ("nan", "abc", "99999999999"):
                client = RawClient(fuzz_gateway.host, fuzz_gateway.port, next(_client_ids))
                client.send([*fields[:index], value, *fields[index + 1:]])
                _probe(client)
                client.close()
            if name.startswith("placeOrder") and index > 40:
                break  # the fixed tail of placeOrder adds nothing new
    assert not _internal.lines, _internal.lines[:5]
    survivor = RawClient(fuzz_gateway.host, fuzz_gateway.port, next(_client_ids))
    assert _probe(survivor)
    survivor.close()
