"""Fixtures for the simulated gateway tests."""

from __future__ import annotations

from tests.sim import standins

standins.install()
