"""One service per data directory: an exclusive lock held for the life of the gunicorn master.

Two services on one directory would sweep each other's writes in flight as orphans at start-up.
"""

from __future__ import annotations

import fcntl
import os

from wsgi_s3.store.blobs import make_private_dirs


class DataDirInUse(RuntimeError):
    pass


def lock_data_dir(data_dir: str) -> int:
    """Take the directory's lock or raise DataDirInUse; returns the descriptor, to keep open."""
    make_private_dirs(data_dir)
    fd = os.open(os.path.join(data_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUse(f"{data_dir} is in use by another wsgi-s3 service") from None
    return fd
