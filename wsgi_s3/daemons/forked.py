"""Running a daemon's loop in a process of its own, forked by the gunicorn master before any worker:
off the workers and their gevent hubs, once per service, and stopped with the master."""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_every(interval: float, stop_fd: int, work: Callable[[], object], name: str) -> None:
    """Call `work` every `interval` seconds until `stop_fd` becomes readable (data, or EOF when every
    holder of the other end is gone); a failed round is logged and retried at the next one."""
    while not select.select([stop_fd], [], [], interval)[0]:
        try:
            work()
        except Exception:  # noqa: BLE001 - retried at the next interval
            log.exception("%s failed", name)


def fork_loop(interval: float, work: Callable[[], object], name: str) -> tuple[int, int]:
    """`run_every` in a child process; returns (its pid, the pipe end whose closing stops it).

    Fork before the caller opens any SQLite connection or socket pool of its own (neither may cross
    a fork). The child also stops when the caller and every process it forked later are gone."""
    stop_read, stop_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(stop_read)
        return pid, stop_write
    os.close(stop_write)
    try:
        run_every(interval, stop_read, work, name)
    finally:
        os._exit(0)
