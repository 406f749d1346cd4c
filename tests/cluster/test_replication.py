"""Replication over three real node processes (N=3, W=2, R=1), with nodes killed (kill -9) and
brought back: what a write needs to succeed, what a read answers, and that a broken read goes on
from another holder, never with wrong bytes. The three nodes are started once for the module; every test leaves them
all running."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc

import pytest

from tests.cluster.conftest import put
from tests.conftest import Server
from tests.functional.test_memory import MIB, blocks
from tests.contract.conftest import OWNER, REGION, DigestMismatch, MemoryBody, cluster_of, read, stamp
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.cluster.replicated import ClusterVersion
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta


@pytest.fixture
def by_url(servers: list[Server]) -> dict[str, Server]:
    return {server.endpoint: server for server in servers}


def test_a_write_with_one_node_down_succeeds_and_is_readable(cluster: ClusterBackend, servers: list[Server], bucket: str):
    servers[0].kill()
    put(cluster, bucket, "k", b"two of three")
    head = cluster.head_object(bucket, "k")
    assert isinstance(head, ClusterVersion) and servers[0].endpoint not in head.holders and len(head.holders) == 2
    assert read(cluster, head) == b"two of three"
    assert [entry.key for entry in cluster.list_objects(bucket, "", "", "", 10).objects] == ["k"]
    servers[0].start()
    # The node that missed the write answers NotFound: that does not make the object missing.
    assert read(cluster, cluster.head_object(bucket, "k")) == b"two of three"


def test_with_two_nodes_down_a_write_is_refused_and_nothing_becomes_visible(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "old", b"before")
    servers[1].kill()
    servers[2].kill()
    # The body stages on one owner only, fewer than W: it is discarded there before any commit.
    with pytest.raises(errors.Unavailable):
        put(cluster, bucket, "new", b"refused")
    with pytest.raises(errors.Unavailable):
        put(cluster, bucket, "old", b"refused overwrite")
    # Reads need R=1 owner: the bucket and what the live node holds are still read.
    assert cluster.get_bucket(bucket).name == bucket
    assert read(cluster, cluster.head_object(bucket, "old")) == b"before"
    servers[1].start()
    servers[2].start()
    with pytest.raises(errors.NotFound):
        cluster.head_object(bucket, "new")
    assert read(cluster, cluster.head_object(bucket, "old")) == b"before"
    assert [entry.key for entry in cluster.list_objects(bucket, "", "", "", 10).objects] == ["old"]


def test_the_newest_version_is_read_from_the_only_owner_that_has_it(
    cluster: ClusterBackend, servers: list[Server], by_url: dict[str, Server], bucket: str
):
    put(cluster, bucket, "k", b"version one")
    first, second, third = servers
    third.kill()
    put(cluster, bucket, "k", b"version two")  # on the first and second owners only
    second.kill()
    alone = cluster.head_object(bucket, "k")
    assert alone.holders == (first.endpoint,)
    assert read(cluster, alone) == b"version two"
    third.start()  # stale: it has version one
    newest = cluster.head_object(bucket, "k")
    assert newest.holders == (first.endpoint,) and newest.timestamp_ns == alone.timestamp_ns
    assert read(cluster, newest) == b"version two"
    assert [entry.etag for entry in cluster.list_objects(bucket, "", "", "", 10).objects] == [newest.etag]


def test_a_read_from_a_node_that_dies_goes_on_from_another_holder(cluster: ClusterBackend, by_url: dict[str, Server], bucket: str):
    # Far more than loopback socket buffers hold, so the node must still be sending when it dies.
    data = os.urandom(1 << 20) * 48
    put(cluster, bucket, "big", data)
    head = cluster.head_object(bucket, "big")
    stream = cluster.open_object(head, 0, head.size)
    received = bytearray(stream.read(1 << 16))
    by_url[head.holders[0]].kill()
    # The rest of the range comes from another holder of the same version: all the right bytes.
    while block := stream.read(1 << 20):
        received += block
    stream.close()
    assert bytes(received) == data
    # The next read goes to an owner that is up.
    assert read(cluster, cluster.head_object(bucket, "big"), 5, 10) == data[5:15]


class KillingBody(MemoryBody):
    """A body that kills a node once `at` bytes of it have been read: the owner dies mid-stream."""

    def __init__(self, data: bytes, victim: Server, at: int) -> None:
        super().__init__(data, chunk=1 << 20)
        self.victim = victim
        self.at = at

    def read(self, size: int = -1) -> bytes:
        if self.offset >= self.at and self.victim.process.poll() is None:
            self.victim.kill()
        return super().read(size)


def test_an_owner_dying_mid_stream_is_dropped_and_the_others_finish(cluster: ClusterBackend, servers: list[Server], bucket: str):
    data = os.urandom(1 << 20) * 24
    victim = servers[1]
    written = cluster.put_object(bucket, "k", KillingBody(data, victim, at=4 << 20), stamp())
    assert victim.process.poll() is not None
    assert set(written.holders) == {servers[0].endpoint, servers[2].endpoint}
    head = cluster.head_object(bucket, "k")
    stream = cluster.open_object(head, 0, head.size)
    try:  # in large blocks: the contract's `read` takes 5 bytes at a time
        assert b"".join(iter(lambda: stream.read(1 << 20), b"")) == data
    finally:
        stream.close()


def test_listing_merges_nodes_that_missed_different_writes(cluster: ClusterBackend, servers: list[Server], bucket: str):
    """Each node lacks some keys; pages of two, across every page, list each key once, in order,
    with its newest record (a key overwritten while another node was down)."""
    expected = {}
    for down, keys in ((servers[0], "adgj"), (servers[1], "behk"), (servers[2], "cfil")):
        down.kill()
        for key in keys:
            put(cluster, bucket, key, key.encode() * 3)
            expected[key] = cluster.head_object(bucket, key).etag
        put(cluster, bucket, "a", down.endpoint.encode())  # "a" is overwritten in each round
        expected["a"] = cluster.head_object(bucket, "a").etag
        down.start()
    listed, marker = [], ""
    while True:
        page = cluster.list_objects(bucket, "", "", marker, 2)
        listed += [(entry.key, entry.etag) for entry in page.objects]
        if not page.is_truncated:
            break
        marker = page.next_marker
    assert listed == sorted(expected.items())


class HangUp(Exception):
    """The client went away mid-body."""


class BrokenBody(MemoryBody):
    def read(self, size: int = -1) -> bytes:
        if self.offset >= len(self.data) // 2:
            raise HangUp("the client hung up")
        return super().read(size)


def files(servers: list[Server], folder: str) -> int:
    return sum(len(filenames) for server in servers for _, _, filenames in os.walk(server.data_dir / folder))


def test_a_failed_body_leaves_nothing_staged_on_any_owner(cluster: ClusterBackend, servers: list[Server], bucket: str):
    data = os.urandom(1 << 20) * 3
    blobs = files(servers, "blobs")
    # The digest check fails after every owner staged: the gateway discards the blobs everywhere.
    with pytest.raises(DigestMismatch):
        cluster.put_object(bucket, "k", MemoryBody(data, chunk=1 << 16, fail=DigestMismatch("bad md5")), stamp())
    assert files(servers, "blobs") == blobs
    # The body breaks off: its own error reaches the caller, and every owner drops its half-written blob.
    with pytest.raises(HangUp):
        cluster.put_object(bucket, "k", BrokenBody(data, chunk=1 << 16), stamp())
    deadline = time.monotonic() + 10  # each node notices the broken-off stage on its own
    while files(servers, "tmp") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (files(servers, "tmp"), files(servers, "blobs")) == (0, blobs)
    with pytest.raises(errors.NotFound):
        cluster.head_object(bucket, "k")


class GeneratedBody:
    """A BodySource of generated 1 MiB blocks, never held whole."""

    def __init__(self, size: int) -> None:
        self.chunks = blocks(size, b"gateway memory")
        self.pending = b""
        self.digest = hashlib.md5()

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            self.pending = next(self.chunks, b"")
        cut = len(self.pending) if size < 0 else size
        data, self.pending = self.pending[:cut], self.pending[cut:]
        self.digest.update(data)
        return data

    def finish(self) -> ObjectMeta:
        return ObjectMeta(etag=self.digest.hexdigest())


def test_a_put_streams_through_the_gateway_without_holding_the_body(cluster: ClusterBackend, bucket: str):
    size = 48 * MIB
    body = GeneratedBody(size)
    tracemalloc.start()
    try:
        written = cluster.put_object(bucket, "big", body, stamp())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (written.size, written.etag) == (size, body.digest.hexdigest())
    # Three owners' queues of a few 256 KiB blocks, plus the body's 1 MiB block: far from 48 MiB.
    assert peak < 12 * MIB, f"the gateway held {peak / MIB:.1f} MiB of a {size // MIB} MiB body"


def test_a_bucket_with_objects_on_some_nodes_only_is_not_deleted_anywhere(servers: list[Server]):
    """Two replicas on three nodes: the node that holds no object of the bucket keeps its record too."""
    with cluster_of(servers, replicas=2, write_quorum=2, read_quorum=1) as cluster:
        name = cluster.create_bucket("two-replicas", REGION, OWNER).name
        put(cluster, name, "k", b"on two nodes")
        assert len(cluster.head_object(name, "k").holders) == 2
        with pytest.raises(errors.NotEmpty):
            cluster.delete_bucket(name)
        for client in cluster.clients.values():
            assert client.get_bucket(name).name == name
        cluster.delete_version(name, "k", stamp(cluster.head_object(name, "k").version_id))
        cluster.delete_bucket(name)
        with pytest.raises(errors.NotFound):
            cluster.get_bucket(name)


def test_a_read_needs_r_owners_to_answer(servers: list[Server], bucket: str):
    with cluster_of(servers, read_quorum=2) as cluster:
        put(cluster, bucket, "k", b"data")
        servers[0].kill()
        assert cluster.head_object(bucket, "k").size == 4  # two owners answer
        servers[1].kill()
        with pytest.raises(errors.Unavailable):
            cluster.head_object(bucket, "k")
        with pytest.raises(errors.Unavailable):
            cluster.head_object(bucket, "missing")  # one "not found" is not two answers
