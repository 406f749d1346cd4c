"""Background loops in processes of their own, forked by the gunicorn master before its workers:
off the request workers and their gevent hubs, one per service, stopped when the master goes."""

from __future__ import annotations

import os
import select
from collections.abc import Callable


def fork_loop(run_forever: Callable[[int], None]) -> tuple[int, int]:
    """Run `run_forever(stop_fd)` in a child process; returns (its pid, the pipe end whose closing
    stops it). The loop stops once `stop_fd` becomes readable (see `stopped`): when the caller
    closes its end, or when the caller and every process it forked later are gone.

    Fork before the caller opens any SQLite connection of its own (SQLite's locks must not cross
    a fork)."""
    stop_read, stop_write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(stop_read)
        return pid, stop_write
    os.close(stop_write)
    try:
        run_forever(stop_read)
    finally:
        os._exit(0)


def stopped(stop_fd: int, wait: float) -> bool:
    """Wait up to `wait` seconds; True as soon as the loop should stop (data, or EOF)."""
    return bool(select.select([stop_fd], [], [], max(wait, 0))[0])
