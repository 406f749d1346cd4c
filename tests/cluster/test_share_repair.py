"""share_version over three real node processes (N=3, W=2, R=1): an owner that lacks the source
version (it missed it) gets the new version's bytes streamed from a holder instead of sharing them,
so a restore works whenever a read of the source would, even when most owners lack the source."""

from __future__ import annotations

from tests.cluster.test_repair import held_bytes, node
from tests.conftest import Server
from tests.contract.conftest import MemoryBody, read, stamp
from wsgi_s3.backend.cluster import ClusterBackend

DATA = b"restored bytes" * 1000


def test_owners_that_lack_the_source_get_its_bytes_copied(cluster: ClusterBackend, servers: list[Server], bucket: str):
    source = cluster.put_object(bucket, "k", MemoryBody(DATA, chunk=65536), stamp("v1"))
    holder, *lacking = [node(cluster, server) for server in servers]
    for client in lacking:  # as if they had missed v1 and repair had not come yet
        client.purge_key(bucket, "k")
        assert client.key_history(bucket, "k", 10) == []
    shared = cluster.share_version(source, stamp("v2"), source.meta)
    assert (shared.version_id, read(cluster, shared)) == ("v2", DATA)
    # The owners that lacked v1 hold v2, its bytes copied; the holder shares v1's blob.
    for client in lacking:
        assert client.get_version(bucket, "k").version_id == "v2" and held_bytes(client, bucket, "k") == DATA
    cluster.delete_version(bucket, "k", stamp("v1"))
    assert all(held_bytes(client, bucket, "k") == DATA for client in [holder, *lacking])
