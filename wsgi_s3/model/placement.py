"""Where an object sits in the hash space: the one position function shared by the ring (which
maps positions to owners) and the store (which indexes its records by position, so that repair can
compare the records of one stretch of the ring between its owners)."""

from __future__ import annotations

import hashlib

SPACE = 1 << 64  # positions are 64-bit unsigned integers


def stable_hash(data: bytes) -> int:
    # A stable hash of bytes: Python's hash() of a str changes from one process to the next.
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def key_hash(key: str) -> int:
    """The ring position of "bucket/key": a hash of its UTF-8 bytes (the gateway has already refused
    keys that are not valid UTF-8)."""
    return stable_hash(key.encode("utf-8"))


def object_position(bucket: str, key: str) -> int:
    return key_hash(f"{bucket}/{key}")
