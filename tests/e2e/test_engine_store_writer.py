"""The engine's writes from the loop go through the store's writer thread: read back in order, failures are one line."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from slob_cli.adapters.store import Store
from slob_cli.errors import StoreError
from slob_cli.runtime.events import EventType
from tests.e2e.harness import Harness, at, start_harness
from tests.sqlfile import with_page_cap


def test_a_handler_reads_every_event_the_engine_logged_before_it(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed="max")
        seen: list[tuple[int, int]] = []

        def at_each_candle(event: object) -> None:
            # Mid-run, on the loop: the connection and warm-up events were queued to the writer thread.
            seen.append((len(h.logged("IB_CONNECTED")), len(h.logged("WARM_UP"))))

        h.session(at(14, 50), on={EventType.CANDLE_COMPLETED: at_each_candle})
        assert seen and all(pair == (1, 1) for pair in seen), seen
        assert len(h.logged("IB_CONNECTED")) == 1


def test_a_full_disk_under_the_engine_is_one_store_error_naming_the_file(tmp_path: Path) -> None:
    with ExitStack() as stack:
        h = start_harness(stack, tmp_path, "short_setup", speed="max")
        capped = stack.enter_context(with_page_cap(h.store, 6))  # the disk fills up a few minutes in
        h = Harness(h.gateway, capped, h.calendar, h.sim)
        with pytest.raises(StoreError) as raised:
            h.session(at(16, 45))
    message = str(raised.value)
    assert message == f"disk full writing '{capped.path}': nothing of this write was stored"
    with Store.open(capped.path) as store:
        assert store.integrity_problem() is None
