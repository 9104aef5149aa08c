"""The `--json` text of a listing: `json.dumps(data, indent=2)`, the same bytes, written by the C encoder when it can."""

from __future__ import annotations

import json
from typing import Any

_SCALARS = frozenset((str, int, float, bool, type(None)))
# json.dumps(indent=2)'s settings, with the indentation of a flat row's items as its item separator
_ROW_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_ENCODE_ROW = None if _ROW_ENCODER is None else _ROW_ENCODER(
    {}, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ": ", ",\n    ", False, False, True)


def indented_json(data: Any) -> str:
    """Return json.dumps(data, indent=2).

    A list of flat rows (dicts of str keys and scalar values: what the listing commands print)
    is written row by row by the C encoder, the rows' items separated by their line break and
    indentation; json.dumps with an indent would write it in Python, value by value.
    """
    if _ENCODE_ROW is None or type(data) is not list or not all(
        type(row) is dict and all(type(key) is str and type(value) in _SCALARS for key, value in row.items())
        for row in data
    ):
        return json.dumps(data, indent=2)
    if not data:
        return "[]"
    rows = []
    for row in data:
        text = "".join(_ENCODE_ROW(row, 0))
        rows.append("{\n    " + text[1:-1] + "\n  }" if row else "{}")
    return "[\n  " + ",\n  ".join(rows) + "\n]"
