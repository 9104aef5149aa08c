"""Framing, field formatting, version negotiation and request decoding."""

from __future__ import annotations

import struct

import pytest

from slob_cli.sim.protocol import (
    UNSET_DOUBLE,
    UNSET_INTEGER,
    FieldReader,
    ProtocolError,
    VersionRange,
    choose_server_version,
    decode_payload,
    encode_fields,
    format_value,
    message_length,
    parse_version_range,
)
from slob_cli.sim.requests import UnsupportedRequest, decode_request


def test_values_are_formatted_as_tws_writes_them() -> None:
    assert format_value(21000.25) == "21000.25"
    assert format_value(25000.0) == "25000"
    assert format_value(0.1) == "0.1"
    assert format_value(True) == "1" and format_value(False) == "0"
    assert format_value(7) == "7"
    assert format_value(None) == "" and format_value(UNSET_DOUBLE) == "" and format_value(UNSET_INTEGER) == ""
    assert format_value(float("inf")) == "Infinite"


def test_a_frame_is_a_big_endian_length_then_nul_terminated_fields() -> None:
    frame = encode_fields([1, 6, 42, 4, 25000.25, 3, False])
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4
    assert frame[4:] == b"1\x006\x0042\x004\x0025000.25\x003\x000\x00"
    assert decode_payload(frame[4:]) == ["1", "6", "42", "4", "25000.25", "3", "0"]


def test_a_field_containing_nul_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_fields(["bad\0value"])


def test_oversized_or_unterminated_input_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        message_length(struct.pack(">I", 0x1000000))
    with pytest.raises(ProtocolError):
        decode_payload(b"1\x002")


def test_server_version_is_the_highest_both_sides_speak() -> None:
    offered = parse_version_range(["v157..178"])
    assert offered == VersionRange(157, 178)
    assert choose_server_version(offered, 178) == 178
    assert choose_server_version(offered, 163) == 163
    assert choose_server_version(offered, 158) == 157  # the two clients disagree about 158's openOrder
    assert choose_server_version(parse_version_range(["v100..177 +PACEAPI"]), 178) == 177
    with pytest.raises(ProtocolError):
        choose_server_version(parse_version_range(["v100..150"]), 178)
    with pytest.raises(ProtocolError):
        parse_version_range(["hello"])


def test_field_reader_reports_leftovers_and_truncation() -> None:
    reader = FieldReader(["5", "x", "1"], 1)
    assert reader.text() == "x"
    with pytest.raises(ProtocolError, match="trailing"):
        reader.finish()
    assert reader.integer() == 1
    with pytest.raises(ProtocolError, match="truncated"):
        reader.text()
    with pytest.raises(ProtocolError, match="integer"):
        FieldReader(["abc"]).integer()


def test_unknown_request_ids_decode_to_unsupported_with_their_request_id() -> None:
    request = decode_request(["10", "5", "77", "0", "NQ"], 178)
    assert isinstance(request, UnsupportedRequest)
    assert request.name == "reqMktDepth" and request.request_id == 77
    assert decode_request(["80"], 178) == UnsupportedRequest(80, "reqFamilyCodes", None, ("80",))


def test_a_request_with_extra_fields_is_refused() -> None:
    with pytest.raises(ProtocolError, match="trailing"):
        decode_request(["49", "1", "extra"], 178)
