"""Version ids, stamps and the one order of versions that every floor and every replica applies.

A version's place in history is its stamp (a hybrid logical clock: wall time in nanoseconds that
never runs backwards for its writer), then the writer's id (`origin`), then the version id. Replicas
may receive writes in any order; applying `newer` on every commit makes them agree regardless.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from wsgi_s3.model.types import BucketInfo, ObjectMeta, ObjectVersion

NULL_VERSION = "null"


class Ordered(Protocol):
    timestamp_ns: int
    origin: str
    version_id: str


def order_key(version: Ordered) -> tuple[int, str, str]:
    return (version.timestamp_ns, version.origin, version.version_id)


def newer(a: Ordered, b: Ordered) -> bool:
    """Whether `a` comes after `b` in every replica's history."""
    return order_key(a) > order_key(b)


class HybridClock:
    """The stamps of one writer: its wall clock, but always after every stamp it issued before, so a
    clock stepped back (NTP) never orders a later write before an earlier one of the same writer.
    `origin` breaks ties between writers whose stamps collide."""

    def __init__(self, origin: str | None = None, wall: Callable[[], int] = time.time_ns) -> None:
        self.origin = origin or f"{socket.gethostname()}/{os.getpid()}"
        self.wall = wall
        self.last = 0

    def stamp(self) -> int:
        self.last = max(self.wall(), self.last + 1)
        return self.last

    def observe(self, timestamp_ns: int) -> None:
        """Stamp after `timestamp_ns` from now on: a stamp seen from a writer whose clock is ahead."""
        self.last = max(self.last, timestamp_ns)

    def config_stamp(self) -> VersionStamp:
        """The stamp of a write that makes no version (a bucket configuration document): ordered by
        `newer` like a version's, with an empty version id."""
        return VersionStamp("", self.stamp(), self.origin)


@dataclass(frozen=True)
class VersionStamp:
    """Which version a write makes, and its place in history: decided once, above every backend
    (gateway/versioning.py), and carried unchanged to every replica."""

    version_id: str
    timestamp_ns: int
    origin: str


@dataclass(frozen=True)
class StampedDocument:
    """A bucket's configuration document of one kind as a store holds it, with the stamp of the
    write that set it (`newer` orders them). A removal keeps its stamp without a document (a
    tombstone), so that an older write arriving later (a replica, a repair) cannot bring it back."""

    document: str | None
    stamp: VersionStamp


def stamped_version(bucket: str, key: str, stamp: VersionStamp, size: int, meta: ObjectMeta, *, delete_marker: bool = False) -> ObjectVersion:
    """The version a write makes, as the gateway stamped it (where its bytes lie is each store's
    business: StoredVersion.of adds that)."""
    return ObjectVersion(bucket, key, stamp.version_id, stamp.timestamp_ns, size, meta, delete_marker=delete_marker, origin=stamp.origin)


def now_ns() -> int:
    return time.time_ns()


def new_version_id(timestamp_ns: int) -> str:
    # Sortable by time first so ids of one key sort like their timestamps; random tail for uniqueness.
    return f"{timestamp_ns:020d}{os.urandom(8).hex()}"


@dataclass(frozen=True)
class StampedBucket:
    """A bucket's record as one store holds it, with its stamped configuration documents by kind
    (removals included, not a store's own "." marks): what a gateway merges, kind by kind, from
    the nodes' answers to one bucket read. `info` carries the state they give (see `of`)."""

    info: BucketInfo
    configs: Mapping[str, StampedDocument]

    @classmethod
    def of(cls, info: BucketInfo, configs: Mapping[str, StampedDocument]) -> StampedBucket:
        """`info` with its versioning state and documents taken from `configs`."""
        documents = {kind: config.document for kind, config in configs.items() if config.document is not None}
        return cls(replace(info, versioning=documents.get("versioning", ""), configs=documents), dict(configs))


def newest_configs(held: Iterable[Mapping[str, StampedDocument]]) -> dict[str, StampedDocument]:
    """The newest document of each kind (a removal included) among several replicas' ones."""
    newest: dict[str, StampedDocument] = {}
    for configs in held:
        for kind, config in configs.items():
            if kind not in newest or newer(config.stamp, newest[kind].stamp):
                newest[kind] = config
    return newest
