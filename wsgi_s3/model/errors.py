"""Storage errors raised by stores and backends; the gateway maps them to S3 error codes."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every storage error."""


class NotFound(StorageError):
    """`what` is one of "bucket", "key", "version", "upload", "part"."""

    def __init__(self, what: str, name: str = "") -> None:
        super().__init__(f"{what} not found: {name}")
        self.what = what
        self.name = name


class AlreadyExists(StorageError):
    def __init__(self, what: str, name: str = "") -> None:
        super().__init__(f"{what} already exists: {name}")
        self.what = what
        self.name = name


class NotEmpty(StorageError):
    """A bucket still holds object versions."""


class PreconditionFailed(StorageError):
    """A conditional write (If-None-Match: * or If-Match) did not hold at commit time."""


class Busy(StorageError):
    """The store stayed locked by another writer for longer than its lock timeout."""


class Unavailable(StorageError):
    """Not enough healthy storage answered (a node is down, a quorum was missed)."""

