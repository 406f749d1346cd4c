"""The replicated write path's first half: a body streamed once, from the client, to every owner at
the same time, each owner staging it invisibly; then the body's digests are verified.

One reader (the caller's greenlet) reads the body block by block and puts each block on a bounded
queue per owner; a greenlet per owner runs `NodeClient.stage` reading from its queue. Memory stays
at most owners x QUEUE_DEPTH blocks whatever the body's size, and an owner that fails is dropped
(its queue drained and no longer fed) without stopping the others.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass

import gevent
from gevent.queue import Queue

from wsgi_s3.cluster.fanout import Outcome, fanout
from wsgi_s3.cluster.node_client import BLOCK, NodeClient
from wsgi_s3.model import errors
from wsgi_s3.model.types import BodySource, ObjectMeta, ObjectVersion, StagedBlob

QUEUE_DEPTH = 4  # blocks waiting per owner: a slow owner holds back the reader, not memory
_END = b""  # the block that ends a body


@dataclass(frozen=True)
class ClusterVersion(ObjectVersion):
    """A version as the cluster found it, with the owners (node URLs) known to hold exactly it (same
    id and stamp): reads go to one of them."""

    holders: tuple[str, ...] = ()


class _BodyFailed(Exception):
    """Raised inside an owner's stage when the client's body failed: the reader re-raises the real error."""


class _Feed:
    """What one owner's `stage` reads: the body's blocks, from a bounded queue."""

    def __init__(self) -> None:
        self.queue: Queue = Queue(QUEUE_DEPTH)
        self.pending = b""
        self.ended = False
        self.dead = False

    def put(self, item: bytes | BaseException) -> None:
        if not self.dead:
            self.queue.put(item)

    def drop(self) -> None:
        """The owner is done (or failed): stop feeding it, and free a reader blocked on its full queue."""
        self.dead = True
        while not self.queue.empty():
            self.queue.get_nowait()

    def read(self, size: int = -1) -> bytes:
        if not self.pending and not self.ended:
            item = self.queue.get()
            if isinstance(item, BaseException):
                raise item
            self.pending, self.ended = item, item == _END
        cut = len(self.pending) if size < 0 else size
        data, self.pending = self.pending[:cut], self.pending[cut:]
        return data


def stream_to(clients: Mapping[str, NodeClient], body: BodySource) -> Outcome[str, StagedBlob]:
    """Stage `body` on every client's node at once, reading it once; the staged blobs by node, and
    the errors of the nodes that failed. An error of the body itself propagates (after every owner
    has stopped; a node drops a stage whose body broke off)."""
    feeds = {url: _Feed() for url in clients}
    outcome: Outcome[str, StagedBlob] = Outcome()

    def stage(url: str) -> None:
        try:
            outcome.results[url] = clients[url].stage(feeds[url])
        except errors.StorageError as exc:
            outcome.errors[url] = exc
        except _BodyFailed:
            pass
        finally:
            feeds[url].drop()

    # Each in a copy of the caller's context: what a stage logs carries the request's id.
    workers = [gevent.spawn(contextvars.copy_context().run, stage, url) for url in clients]
    try:
        while True:
            block = body.read(BLOCK)
            live = [feed for feed in feeds.values() if not feed.dead]
            for feed in live:
                feed.put(block)
            if not block or not live:
                break
    except BaseException:
        for feed in feeds.values():
            feed.put(_BodyFailed())
        gevent.joinall(workers)
        raise
    gevent.joinall(workers)
    return outcome


def discard(clients: Mapping[str, NodeClient], staged: Mapping[str, StagedBlob]) -> None:
    """Remove staged blobs that will never be committed; a node that cannot be reached sweeps its
    own leftovers later, so its error is not the caller's."""
    fanout(staged, lambda url: clients[url].discard([staged[url]]))


def stage_verified(clients: Mapping[str, NodeClient], body: BodySource, quorum: int) -> tuple[dict[str, StagedBlob], ObjectMeta]:
    """Stream the body to every owner, then verify its digests (`body.finish()`): the blobs staged by
    node, at least `quorum` of them, and the body's meta. On any failure nothing stays staged."""
    outcome = stream_to(clients, body)
    if len(outcome.results) < quorum:
        discard(clients, outcome.results)
        raise outcome.failure()
    try:
        meta = body.finish()
    except BaseException:
        discard(clients, outcome.results)
        raise
    return outcome.results, meta
