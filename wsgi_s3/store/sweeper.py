"""Removes what interrupted writes left behind: temp files and blobs that no metadata references.

Only files older than the grace period go, so a write in progress (staged, not yet committed) is
never touched; at start-up, before any worker runs, the grace period can be zero.
"""

from __future__ import annotations

import logging
import os
import time

from wsgi_s3.store.store import Store

log = logging.getLogger(__name__)


def sweep(store: Store, grace_seconds: float) -> int:
    """Delete stale temp files and orphaned blobs; returns how many files were removed."""
    cutoff = time.time() - grace_seconds
    removed = 0
    for entry in os.scandir(store.blobs.tmp_dir):
        if entry.is_file() and entry.stat().st_mtime <= cutoff:
            os.unlink(entry.path)
            removed += 1
    # Collect candidates before reading references: a blob committed in between is then protected
    # by the reference list, and one staged in between is younger than the cutoff.
    candidates = [
        (blob.name, blob.path)
        for fan1 in _dirs(store.blobs.blob_root)
        for fan2 in _dirs(fan1)
        for blob in os.scandir(fan2)
        if blob.is_file() and blob.stat().st_mtime <= cutoff
    ]
    if candidates:
        referenced = store.meta.referenced_blobs()
        for blob_id, path in candidates:
            if blob_id not in referenced:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
    if removed:
        log.info("sweeper removed %d stale files from %s", removed, store.data_dir)
    return removed


def _dirs(path: str) -> list[str]:
    return [entry.path for entry in os.scandir(path) if entry.is_dir()]
