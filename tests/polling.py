"""Waiting, in the tests, for what a server does in the background (a sweep, a repair, a reload)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(condition: Callable[[], object], what: str | Callable[[], str], timeout: float = 60.0, pause: float = 0.1) -> None:
    """Poll `condition` until it holds. After `timeout` seconds the test fails, naming `what` (or
    what it returns then, for a message that shows the state reached): a bound on a hang, never a
    claim about speed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what() if callable(what) else what}")
        time.sleep(pause)
