"""Waiting for SQLite's locks without stopping the gevent hub.

SQLite's own busy timeout sleeps inside C, which in a gevent worker freezes every request of the
process while another process holds the write lock. Connections are opened with no busy timeout
instead, and a statement that finds the database locked is retried here after short sleeps
(`time.sleep` is gevent's in a patched worker), until a deadline: then the store is `Busy`.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from wsgi_s3.model import errors

log = logging.getLogger(__name__)
T = TypeVar("T")

_FIRST_PAUSE = 0.002
_LONGEST_PAUSE = 0.05
_SLOW_WAIT = 1.0  # a wait this long is worth a log line: something holds the store's lock


def is_locked(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def when_unlocked(attempt: Callable[[], T], timeout: float, what: str = "the store") -> T:
    """Run `attempt` until it does not find the database locked; `errors.Busy` after `timeout` seconds."""
    started = time.monotonic()
    pause = _FIRST_PAUSE
    warned = False
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
        waited = time.monotonic() - started
        if waited >= timeout:
            raise errors.Busy(f"{what} stayed locked for {waited:.1f} s")
        if waited >= _SLOW_WAIT and not warned:
            log.warning("waiting for the lock of %s", what)
            warned = True
        time.sleep(min(pause, max(0.0, timeout - waited)))
        pause = min(pause * 2, _LONGEST_PAUSE)
