"""`indented_json` is `json.dumps(data, indent=2)`, byte for byte, for rows and for anything else."""

from __future__ import annotations

import json
import random

import pytest

from slob_cli.cli.jsontext import indented_json


def _value(rng: random.Random) -> object:
    return rng.choice([None, True, False, 0, -7, 2**70, 0.1, -0.0, 1e-07, 25501.25, float("nan"), float("inf"),
                       "", "NQ-20260310-S1", 'quote " back \\ slash', "é ∑ 😀", "\n\t\x00"])


@pytest.mark.parametrize("seed", range(5))
def test_rows_of_scalars_give_json_dumps_indent_2_bytes(seed: int) -> None:
    rng = random.Random(seed)
    rows = [{f"k{rng.randrange(30)}": _value(rng) for _ in range(rng.randrange(6))} for _ in range(rng.randrange(40))]
    assert indented_json(rows) == json.dumps(rows, indent=2)


@pytest.mark.parametrize("data", [[], [{}], {"a": 1}, [{"a": [1, {"b": 2}]}], [1, "x"], [{"a": {"b": None}}], [{1: 2}], "x"])
def test_anything_else_gives_json_dumps_indent_2_bytes(data: object) -> None:
    assert indented_json(data) == json.dumps(data, indent=2)
