"""Bucket configuration in a real cluster (three `wsgi-s3 node` processes, a `wsgi-s3 gateway`, N=3,
W=2, R=1, every node behind a proxy): a node that was down during PutBucketVersioning, a lifecycle
PUT and DeleteBucketTagging keeps the old documents until repair, yet every read through the
gateway answers the new state, even when the stale node answers first; one repair pass then gives
the stale node the newest documents (checked through the node's own API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.cluster.fault_proxy import Fault, FaultProxy, proxied_cluster
from tests.conftest import CLUSTER_TOKEN, Cluster
from tests.contract.conftest import cluster_of
from tests.polling import wait_until
from wsgi_s3.cluster.node_client import NodeClient

BUCKET_READS = b"GET /v1/buckets/"  # a bucket record or one of its configuration documents
LIFECYCLE = {"Rules": [{"ID": "old-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}}]}


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Cluster, list[FaultProxy]]]:
    with proxied_cluster(tmp_path, node_timeout=5) as running:
        yield running


def test_a_node_that_missed_configuration_writes_is_outvoted_then_repaired(proxied: tuple[Cluster, list[FaultProxy]], client_for):
    cluster, proxies = proxied
    s3 = client_for(cluster.gateway)
    s3.create_bucket(Bucket="stamped")
    s3.put_bucket_tagging(Bucket="stamped", Tagging={"TagSet": [{"Key": "team", "Value": "storage"}]})
    stale_server = cluster.nodes[0]
    stale_server.kill()
    s3.put_bucket_versioning(Bucket="stamped", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="stamped", LifecycleConfiguration=LIFECYCLE)
    s3.delete_bucket_tagging(Bucket="stamped")
    stale_server.start()

    stale = NodeClient(stale_server.endpoint, CLUSTER_TOKEN)
    fresh = NodeClient(cluster.nodes[1].endpoint, CLUSTER_TOKEN)
    try:
        # The node holds the documents from before the writes it missed.
        assert stale.get_bucket("stamped").versioning == ""
        assert stale.get_bucket_config("stamped", "lifecycle") is None
        assert stale.get_bucket_config("stamped", "tagging").document is not None

        # The stale node answers first: the fresh ones answer bucket reads late.
        asked = len(proxies[0].requests)
        wait_until(lambda: s3.get_bucket_versioning(Bucket="stamped") and len(proxies[0].requests) > asked, "the gateway asked the returned node again", pause=0.2)
        for proxy in proxies[1:]:
            proxy.fault = Fault(match=BUCKET_READS, delay=0.5)
        asked = len(proxies[0].requests)
        for _ in range(3):
            assert s3.get_bucket_versioning(Bucket="stamped")["Status"] == "Enabled"
            assert s3.get_bucket_lifecycle_configuration(Bucket="stamped")["Rules"] == LIFECYCLE["Rules"]
            with pytest.raises(ClientError) as missing:
                s3.get_bucket_tagging(Bucket="stamped")
            assert missing.value.response["Error"]["Code"] == "NoSuchTagSet"
            # Writes read the versioning state too: a new version gets an id of its own.
            assert s3.put_object(Bucket="stamped", Key="k", Body=b"versioned")["VersionId"] != "null"
        assert len(proxies[0].requests) > asked and all(proxy.hits for proxy in proxies[1:])
        for proxy in proxies[1:]:
            proxy.fault = None

        # Another node down during the pass: records wait for it, configurations do not.
        cluster.nodes[2].kill()
        with cluster_of(cluster.nodes) as backend:
            assert backend.healer.repair_pass(batch=10).copies >= 3  # versioning, lifecycle, the tagging removal
            assert stale.bucket_configs("stamped") == fresh.bucket_configs("stamped")
            assert stale.get_bucket("stamped").versioning == "Enabled"
            assert stale.get_bucket_config("stamped", "lifecycle") == fresh.get_bucket_config("stamped", "lifecycle")
            removed = stale.get_bucket_config("stamped", "tagging")
            assert removed is not None and removed.document is None  # the removal's tombstone
        cluster.nodes[2].start()
        with cluster_of(cluster.nodes) as backend:
            assert backend.healer.repair_buckets() == 0  # one pass was enough: the nodes agree
    finally:
        stale.close()
        fresh.close()
