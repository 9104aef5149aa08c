"""End-to-end fixtures: failpoints disarmed around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from slob_cli.runtime import failpoints


@pytest.fixture(autouse=True)
def _disarm() -> Iterator[None]:
    failpoints.disarm_all()
    yield
    failpoints.disarm_all()
