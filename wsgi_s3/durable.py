"""Writes that survive a crash: fsync that spares the gevent hub, directories fsynced after a
rename, small files replaced atomically."""

from __future__ import annotations

import os
import sys


def fsync(fd: int) -> None:
    """fsync of a large new file can take seconds; in a gevent worker it runs on the hub's thread
    pool, so that the worker's other requests keep being served meanwhile."""
    if "gevent.monkey" in sys.modules and sys.modules["gevent.monkey"].is_module_patched("os"):
        import gevent

        gevent.get_hub().threadpool.apply(os.fsync, (fd,))
    else:
        os.fsync(fd)


def fsync_dir(path: str) -> None:
    """Make the entries of a directory (a rename into it, a new subdirectory) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data`: a crash leaves the old file or the new one, never a torn one."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))
