"""share_version over three real node processes (N=3, W=2, R=1): an owner that lacks the source
version misses the shared write like any other write, is hinted, and gets the bytes from repair."""

from __future__ import annotations

import pytest

from tests.cluster.test_repair import held_bytes, node, wait_until
from tests.conftest import Server
from tests.contract.conftest import MemoryBody, read, stamp
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.model import errors


def test_an_owner_that_lacks_the_source_misses_the_share_and_repair_copies_it(cluster: ClusterBackend, servers: list[Server], bucket: str):
    servers[0].kill()
    source = cluster.put_object(bucket, "k", MemoryBody(b"restored bytes" * 1000, chunk=65536), stamp("v1"))
    others = [node(cluster, server) for server in servers[1:]]
    wait_until(lambda: all(client.hints(10) for client in others))
    for client in others:  # forget the put's hints: those left now are the share's
        client.drop_hints(client.hints(10))
    servers[0].start()
    lacking = node(cluster, servers[0])
    shared = cluster.share_version(source, stamp("v2"), source.meta)
    assert (shared.version_id, read(cluster, shared)) == ("v2", b"restored bytes" * 1000)
    with pytest.raises(errors.NotFound):
        lacking.get_version(bucket, "k", "v2")
    wait_until(lambda: all(client.hints(10) for client in others))
    assert all(client.hints(10)[0][:3] == (servers[0].endpoint, bucket, "k") for client in others)
    assert cluster.healer.hand_over_hints(100) >= 1
    assert lacking.get_version(bucket, "k").version_id == "v2"
    assert held_bytes(lacking, bucket, "k") == b"restored bytes" * 1000
    # The shared version lives on over the blobs of the source on the owners that shared them.
    cluster.delete_version(bucket, "k", stamp("v1"))
    assert all(held_bytes(client, bucket, "k") == b"restored bytes" * 1000 for client in others)
