"""The store's janitor: reclaims freed blobs after their grace period and removes what crashes left.

It runs in one place per data directory: a process of its own that the gunicorn master (which holds
the directory's lock) forks before any worker, never in request workers or on a gevent hub; and at
start-up, before that, with no grace at all. What it removes:
  - temp files of writes that died: older than `orphan_grace` and not flock-ed by a live writer;
  - freed blobs (see Metadata) once `reclaim_grace` has passed since the commit that freed them;
  - orphan blobs: files older than `orphan_grace` that no commit recorded, checked and removed
    while holding the store's write lock, so that a late commit of one fails instead of
    referencing a missing file;
  - tombstones of deleted versions once `tombstone_grace` has passed since the delete: by then
    every replica and repair has seen the delete (Swift's reclaim_age).
A file that vanishes while it works (another sweep, a discarded upload) is skipped, never fatal.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from wsgi_s3.store.store import Store

log = logging.getLogger(__name__)

_BATCH = 500


@dataclass
class SweepReport:
    temp_files: int = 0
    reclaimed: int = 0
    orphans: int = 0
    tombstones: int = 0

    @property
    def total(self) -> int:
        return self.temp_files + self.reclaimed + self.orphans + self.tombstones


class Sweeper:
    def __init__(self, store: Store, *, orphan_grace: float, reclaim_grace: float, tombstone_grace: float) -> None:
        self.store = store
        self.orphan_grace = orphan_grace
        self.reclaim_grace = reclaim_grace
        self.tombstone_grace = tombstone_grace

    def run_once(self) -> SweepReport:
        report = SweepReport()
        now = time.time()
        report.temp_files = self._temp_files(now - self.orphan_grace)
        report.reclaimed = self._freed_blobs(time.time_ns() - int(self.reclaim_grace * 1e9))
        report.orphans = self._orphans(now - self.orphan_grace)
        report.tombstones = self._tombstones(time.time_ns() - int(self.tombstone_grace * 1e9))
        if report.total:
            log.info(
                "sweeper: %d temp files, %d freed blobs, %d orphan blobs, %d tombstones removed from %s",
                report.temp_files, report.reclaimed, report.orphans, report.tombstones, self.store.data_dir,
            )
        return report

    def _temp_files(self, cutoff: float) -> int:
        removed = 0
        for entry in _files(self.store.blobs.tmp_dir, cutoff):
            try:
                fd = os.open(entry, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                removed += _unlink(entry)
            except BlockingIOError:
                pass  # a live writer holds it: a slow upload, not a dead one
            finally:
                os.close(fd)
        return removed

    def _freed_blobs(self, freed_before_ns: int) -> int:
        removed = 0
        while blob_ids := self.store.meta.freed_blobs(freed_before_ns, _BATCH):
            for blob_id in blob_ids:
                removed += _unlink(self.store.blobs.path(blob_id))
            self.store.meta.forget_blobs(blob_ids)
            if len(blob_ids) < _BATCH:
                break
        return removed

    def _orphans(self, cutoff: float) -> int:
        removed = 0
        batch: list[str] = []
        for path in _files(self.store.blobs.blob_root, cutoff, depth=2):
            batch.append(os.path.basename(path))
            if len(batch) == _BATCH:
                removed += self._remove_unknown(batch)
                batch = []
        return removed + (self._remove_unknown(batch) if batch else 0)

    def _tombstones(self, stamped_before_ns: int) -> int:
        removed = 0
        while (count := self.store.meta.reclaim_tombstones(stamped_before_ns, _BATCH)) > 0:
            removed += count
        return removed

    def _remove_unknown(self, blob_ids: list[str]) -> int:
        with self.store.meta.unknown_blobs(blob_ids) as unknown:
            return sum(_unlink(self.store.blobs.path(blob_id)) for blob_id in unknown)


def _files(root: str, cutoff: float, depth: int = 0) -> Iterator[str]:
    """Paths of regular files under `root` (`depth` levels of fan-out directories) last modified
    before `cutoff`."""
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if depth and entry.is_dir(follow_symlinks=False):
                yield from _files(entry.path, cutoff, depth - 1)
            elif not depth and entry.is_file(follow_symlinks=False) and entry.stat().st_mtime <= cutoff:
                yield entry.path
        except FileNotFoundError:
            continue


def _unlink(path: str) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1
