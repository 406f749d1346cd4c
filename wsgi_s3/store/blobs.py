"""Immutable blob files: written to a temp file, hashed while streaming, fsynced, renamed into place.

Layout under the data directory:
    tmp/<blob_id>.tmp          a blob being written (removed by the sweeper if the writer died)
    blobs/<aa>/<bb>/<blob_id>  finished blobs, fanned out by the first bytes of the id

A finished blob is not visible to S3 until metadata references it (see Store); a blob that is
never referenced is an orphan that the sweeper removes after a grace period. A writer holds an
exclusive flock on its temp file, so the sweeper can tell a slow upload from a dead one.

Everything is private to the service: directories 0700, files 0600.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import uuid
import zlib
from typing import BinaryIO, Protocol

from wsgi_s3.durable import fsync, fsync_dir
from wsgi_s3.model.types import Segment, StagedBlob

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1) -> bytes: ...


class BlobFiles:
    """Paths and I/O of one data directory's blobs."""

    def __init__(self, data_dir: str) -> None:
        self.blob_root = os.path.join(data_dir, "blobs")
        self.tmp_dir = os.path.join(data_dir, "tmp")
        make_private_dirs(self.blob_root)
        make_private_dirs(self.tmp_dir)

    def path(self, blob_id: str) -> str:
        return os.path.join(self.blob_root, blob_id[:2], blob_id[2:4], blob_id)

    def exists(self, blob_id: str) -> bool:
        return os.path.exists(self.path(blob_id))

    def write(self, source: Readable) -> StagedBlob:
        """Stream `source` to a new blob until it returns b''. Errors raised by `source` (a bad
        digest found at EOF, a truncated body) propagate after the temp file is removed."""
        blob_id = uuid.uuid4().hex
        tmp_path = os.path.join(self.tmp_dir, blob_id + ".tmp")
        size = 0
        crc = 0
        try:
            with open(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                fcntl.flock(out.fileno(), fcntl.LOCK_EX)  # held until closed: "being written" (see sweeper)
                while True:
                    data = source.read(CHUNK)
                    if not data:
                        break
                    out.write(data)
                    size += len(data)
                    crc = zlib.crc32(data, crc)
                out.flush()
                fsync(out.fileno())
                final = self.path(blob_id)
                make_private_dirs(os.path.dirname(final))
                os.rename(tmp_path, final)
                fsync_dir(os.path.dirname(final))
        except BaseException:
            _unlink_quietly(tmp_path)
            raise
        return StagedBlob(blob_id=blob_id, size=size, crc32=crc)

    def remove(self, blob_ids: list[str]) -> None:
        for blob_id in blob_ids:
            _unlink_quietly(self.path(blob_id))

    def open_range(self, segments: tuple[Segment, ...], start: int, length: int) -> BlobRange | SegmentsRange:
        """Bytes [start, start+length) of the concatenated segments, every file they need opened
        now: a commit that frees them later cannot cut the read short (an open file stays readable
        after unlink). FileNotFoundError if one is gone already.

        A range within one blob comes back as a BlobRange (a file with a fileno, so that gunicorn
        can send it with sendfile); a range across blobs as a SegmentsRange."""
        pieces: list[tuple[str, int, int]] = []
        offset = 0
        for segment in segments:
            seg_start, seg_end = offset, offset + segment.size
            lo, hi = max(start, seg_start), min(start + length, seg_end)
            if lo < hi:
                pieces.append((self.path(segment.blob_id), lo - seg_start, hi - lo))
            offset = seg_end
        ranges: list[BlobRange] = []
        try:
            for path, skip, count in pieces:
                handle = open(path, "rb")
                handle.seek(skip)
                ranges.append(BlobRange(handle, count))
        except BaseException:
            for opened in ranges:
                opened.close()
            raise
        return ranges[0] if len(ranges) == 1 else SegmentsRange(ranges)

    def check_writable(self) -> None:
        """Raise OSError unless a file can be created where blobs are staged (a read-only or full disk)."""
        fd, path = tempfile.mkstemp(dir=self.tmp_dir, suffix=".probe")
        os.close(fd)
        os.unlink(path)


class BlobRange:
    """An open blob positioned at a range's start that reads no further than the range's end.

    `fileno()` lets gunicorn's sendfile take the bytes from the current offset (it sends exactly the
    response's Content-Length); `read` serves every other path (TLS, copies)."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self.handle = handle
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        count = self.remaining if size < 0 else min(size, self.remaining)
        data = self.handle.read(count) if count > 0 else b""
        self.remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self.handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        # gevent's sendfile fallback seeks to the offset gunicorn found with lseek: the range start.
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()


class SegmentsRange:
    """A range across several open blobs, read one after the other."""

    def __init__(self, ranges: list[BlobRange]) -> None:
        self.ranges = ranges
        self.index = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        while self.index < len(self.ranges):
            current = self.ranges[self.index]
            expected = current.remaining
            data = current.read(size)
            if data:
                return data
            if expected:
                raise OSError(f"blob {current.handle.name} is shorter than its metadata says")
            self.index += 1
        return b""

    def close(self) -> None:
        for current in self.ranges:
            current.close()


def make_private_dirs(path: str) -> None:
    """Create `path` and its missing parents (mode 0700), each new one fsynced into its parent so
    that a crash cannot lose a directory that holds committed blobs."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    make_private_dirs(parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    fsync_dir(parent)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
