"""Healing of object tags over three real node processes (N=3, W=2, R=1). A tag update makes no
new version, so an owner that was down when the tags of a version were put or deleted holds the
version with its old tags: the update leaves hints like a write, and anti-entropy tells owners
apart by the stamp of each version's last tag update. What each owner holds is read through the
node's own API, not through the gateway's merged answers."""

from __future__ import annotations

import shutil

import pytest

from tests.cluster.conftest import put
from tests.cluster.test_repair import node, wait_until
from tests.conftest import Server
from tests.contract.conftest import OWNER, REGION, cluster_of, start_nodes, stamp
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.model.types import ObjectTags


def tags_on(client: NodeClient, bucket: str, key: str) -> ObjectTags:
    return client.get_object_tags(bucket, key)


def update_while_down(cluster: ClusterBackend, servers: list[Server], bucket: str, key: str, tags: dict[str, str]) -> None:
    """Put `tags` on the key's latest version while node 0 is down, and wait for the hints the
    other owners keep for it; node 0 is started again, still holding the old tags."""
    version = cluster.head_object(bucket, key)
    before = tags_on(node(cluster, servers[0]), bucket, key)
    servers[0].kill()
    cluster.put_object_tags(version, tags, stamp())
    others = [node(cluster, server) for server in servers[1:]]
    wait_until(lambda: all(client.hints(10) for client in others))
    servers[0].start()
    assert tags_on(node(cluster, servers[0]), bucket, key) == before  # stale
    assert all(tags_on(client, bucket, key).tags == tags for client in others)


def drop_hints(cluster: ClusterBackend, servers: list[Server]) -> None:
    """Lose the hints (as if their holders had been replaced): only anti-entropy is left."""
    for server in servers:
        client = node(cluster, server)
        client.drop_hints(client.hints(100))
        assert client.hints(100) == []


def agreed(cluster: ClusterBackend, servers: list[Server], bucket: str, key: str) -> ObjectTags:
    """The key's tags, the same update of them on every owner."""
    held = [tags_on(node(cluster, server), bucket, key) for server in servers]
    assert all(found == held[0] for found in held), held
    return held[0]


def test_a_tag_update_that_missed_an_owner_is_handed_over_by_its_hints(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "k", b"tagged while node 0 was down")
    update_while_down(cluster, servers, bucket, "k", {"colour": "blue"})
    assert cluster.healer.hand_over_hints(100) >= 1
    handed = agreed(cluster, servers, bucket, "k")
    assert handed.tags == {"colour": "blue"} and handed.timestamp_ns > 0
    assert all(not node(cluster, server).hints(10) for server in servers)  # handed over: forgotten


def test_without_hints_one_repair_pass_brings_the_tags(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "k", b"tagged while node 0 was down")
    put(cluster, bucket, "untouched", b"the same on every owner")
    update_while_down(cluster, servers, bucket, "k", {"colour": "green"})
    drop_hints(cluster, servers)
    report = cluster.healer.repair_pass(batch=10)
    assert report.differing >= 1 and report.keys >= 1 and report.copies >= 1
    assert agreed(cluster, servers, bucket, "k").tags == {"colour": "green"}
    assert agreed(cluster, servers, bucket, "untouched").tags == {}
    again = cluster.healer.repair_pass(batch=10)
    assert (again.differing, again.copies) == (0, 0)  # the owners' digests agree again


@pytest.mark.parametrize("healing", ["hints", "repair pass"])
def test_a_missed_delete_of_the_tags_is_healed(cluster: ClusterBackend, servers: list[Server], bucket: str, healing: str):
    put(cluster, bucket, "k", b"tags deleted while node 0 was down")
    cluster.put_object_tags(cluster.head_object(bucket, "k"), {"keep": "no"}, stamp())
    wait_until(lambda: all(tags_on(node(cluster, server), bucket, "k").tags == {"keep": "no"} for server in servers))
    update_while_down(cluster, servers, bucket, "k", {})  # DeleteObjectTagging
    if healing == "hints":
        assert cluster.healer.hand_over_hints(100) >= 1
    else:
        drop_hints(cluster, servers)
        assert cluster.healer.repair_pass(batch=10).copies >= 1
    assert agreed(cluster, servers, bucket, "k").tags == {}
    assert node(cluster, servers[0]).get_version(bucket, "k").meta.tags == {}


def test_an_owner_restarted_empty_gets_the_versions_with_their_tags(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "k", b"tagged, then the disk was replaced")
    cluster.put_object_tags(cluster.head_object(bucket, "k"), {"a": "1"}, stamp())
    wait_until(lambda: all(tags_on(node(cluster, server), bucket, "k").tags == {"a": "1"} for server in servers))
    servers[0].kill()
    shutil.rmtree(servers[0].data_dir)
    servers[0].start()
    cluster.healer.repair_pass(batch=10)
    assert agreed(cluster, servers, bucket, "k").tags == {"a": "1"}
    again = cluster.healer.repair_pass(batch=10)
    assert (again.differing, again.copies) == (0, 0)


def test_a_tags_read_that_finds_owners_disagreeing_repairs_them(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "k", b"read repair of tags")
    update_while_down(cluster, servers, bucket, "k", {"seen": "by a read"})
    drop_hints(cluster, servers)
    assert cluster.get_object_tags(bucket, "k") == {"seen": "by a read"}
    wait_until(lambda: tags_on(node(cluster, servers[0]), bucket, "k").tags == {"seen": "by a read"})


def test_with_more_nodes_than_replicas_a_missed_tag_update_waits_on_a_stand_in(tmp_path_factory: pytest.TempPathFactory):
    four = start_nodes(tmp_path_factory.mktemp("four"), count=4)
    try:
        with cluster_of(four) as cluster:
            bucket = cluster.create_bucket("stand-in-tags", REGION, OWNER).name
            owners = cluster.healer.owners(bucket, "k")
            (stand_in,) = [server for server in four if server.endpoint not in owners]
            missing = next(server for server in four if server.endpoint == owners[0])
            put(cluster, bucket, "k", b"on its three owners")
            missing.kill()
            cluster.put_object_tags(cluster.head_object(bucket, "k"), {"kept": "by a stand-in"}, stamp())
            helper = node(cluster, stand_in)
            wait_until(lambda: helper.hints(10) != [])
            assert helper.hints(10)[0][:3] == (missing.endpoint, bucket, "k")
            assert [update.tags for update in helper.tag_updates(bucket, "k", 10)] == [{"kept": "by a stand-in"}]
            assert all(not node(cluster, server).hints(10) for server in four if server not in (stand_in, missing))  # on the stand-in only
            missing.start()
            assert cluster.healer.hand_over_hints(100) == 1
            assert tags_on(node(cluster, missing), bucket, "k").tags == {"kept": "by a stand-in"}
            assert helper.hints(10) == [] and helper.tag_updates(bucket, "k", 10) == []  # handed back and forgotten
    finally:
        for server in four:
            server.stop()
