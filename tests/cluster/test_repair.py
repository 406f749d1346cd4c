"""Healing over three real node processes (N=3, W=2, R=1): hints left for an owner that missed a
write, read repair, tombstones that keep a deleted object deleted on an owner that missed the
delete, and the anti-entropy pass that makes an owner restarted empty whole again. What each owner
holds is checked through the node's own API, not through the gateway's merged answers."""

from __future__ import annotations

import hashlib
import shutil

import gevent
import pytest
import urllib3

from tests.cluster.conftest import put
from tests.conftest import Server
from tests.node.conftest import TOKEN
from tests.contract.conftest import OWNER, REGION, cluster_of, config_stamp, read, start_nodes, stamp
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.model import errors
from wsgi_s3.model.versions import new_version_id


def node(cluster: ClusterBackend, server: Server) -> NodeClient:
    return cluster.clients[server.endpoint]


def held_bytes(client: NodeClient, bucket: str, key: str) -> bytes:
    """The key's latest bytes as this one node holds them."""
    version = client.get_version(bucket, key)
    stream = client.read(version, 0, version.size)
    try:
        data = b"".join(iter(lambda: stream.read(65536), b""))
    finally:
        stream.close()
    return data


def wait_until(check, timeout: float = 10.0) -> None:
    """Let the background greenlets (hints, read repair) of this process run until `check()` holds
    (gevent.sleep, not the blocking tests.polling.wait_until); a bound on a hang, not on speed."""
    deadline = gevent.get_hub().loop.now() + timeout
    while not check():
        if gevent.get_hub().loop.now() > deadline:
            pytest.fail("timed out waiting for the background repair")
        gevent.sleep(0.05)


def test_a_write_that_missed_an_owner_is_handed_over_by_its_hints(cluster: ClusterBackend, servers: list[Server], bucket: str):
    servers[0].kill()
    put(cluster, bucket, "k", b"missed by node 0")
    others = [node(cluster, server) for server in servers[1:]]
    wait_until(lambda: all(client.hints(10) for client in others))  # each owner that took it keeps a hint
    scraped = urllib3.request("GET", servers[1].endpoint + "/metrics", headers={"Authorization": "Bearer " + TOKEN}).data
    assert b"\ns3_node_hints_pending 1.0\n" in scraped
    servers[0].start()
    with pytest.raises(errors.NotFound):
        node(cluster, servers[0]).get_version(bucket, "k")
    assert cluster.healer.hand_over_hints(100) >= 1
    assert held_bytes(node(cluster, servers[0]), bucket, "k") == b"missed by node 0"
    assert all(not client.hints(10) for client in others)  # handed over: forgotten


def test_a_read_that_finds_an_owner_lacking_the_key_repairs_it(cluster: ClusterBackend, servers: list[Server], bucket: str):
    servers[0].kill()
    put(cluster, bucket, "k", b"read repair")
    servers[0].start()
    assert read(cluster, cluster.head_object(bucket, "k")) == b"read repair"
    wait_until(lambda: _holds(node(cluster, servers[0]), bucket, "k"))
    assert held_bytes(node(cluster, servers[0]), bucket, "k") == b"read repair"


def _holds(client: NodeClient, bucket: str, key: str) -> bool:
    try:
        client.get_version(bucket, key)
        return True
    except errors.NotFound:
        return False


def test_a_delete_an_owner_missed_does_not_come_back(cluster: ClusterBackend, servers: list[Server], bucket: str):
    put(cluster, bucket, "gone", b"deleted while node 0 was down")
    put(cluster, bucket, "kept", b"still here")
    servers[0].kill()
    cluster.delete_version(bucket, "gone", stamp())
    servers[0].start()
    stale = node(cluster, servers[0])
    assert held_bytes(stale, bucket, "gone") == b"deleted while node 0 was down"  # the stale owner still has it
    # Reads and listings weigh the tombstones of the other owners against it.
    with pytest.raises(errors.NotFound):
        cluster.head_object(bucket, "gone")
    assert [entry.key for entry in cluster.list_objects(bucket, "", "", "", 100).objects] == ["kept"]
    cluster.healer.repair_pass(batch=10)
    assert [record.tombstone for record in stale.key_history(bucket, "gone", 10)] == [True]


def test_deleting_one_version_an_owner_missed_leaves_the_previous_one_latest(
    cluster: ClusterBackend, servers: list[Server], bucket: str
):
    first = put(cluster, bucket, "k", b"version 1", new_version_id(1))
    second = put(cluster, bucket, "k", b"version 2", new_version_id(2))
    servers[0].kill()
    cluster.delete_version(bucket, "k", stamp(second))
    servers[0].start()
    assert node(cluster, servers[0]).get_version(bucket, "k").version_id == second  # stale
    latest = cluster.head_object(bucket, "k")
    assert latest.version_id == first and read(cluster, latest) == b"version 1"
    with pytest.raises(errors.NotFound):
        cluster.head_object(bucket, "k", second)
    [entry] = cluster.list_objects(bucket, "", "", "", 10).objects
    assert entry.version_id == first


def test_an_owner_restarted_empty_is_made_whole_by_a_repair_pass(cluster: ClusterBackend, servers: list[Server], bucket: str):
    cluster.put_bucket_config(bucket, "versioning", "Enabled", config_stamp())
    contents = {f"key-{index:02d}": hashlib.sha256(str(index).encode()).digest() * (index + 1) for index in range(30)}
    for key, data in contents.items():
        put(cluster, bucket, key, data, new_version_id(stamp().timestamp_ns))
    deleted = put(cluster, bucket, "deleted", b"x", new_version_id(stamp().timestamp_ns))
    cluster.delete_version(bucket, "deleted", stamp(deleted))
    servers[0].kill()
    shutil.rmtree(servers[0].data_dir)  # a disk replaced: the node comes back with nothing
    servers[0].start()
    empty = node(cluster, servers[0])
    assert empty.list_buckets() == []

    report = cluster.healer.repair_pass(batch=8)
    assert report.copies >= len(contents) and report.differing >= 1
    assert empty.get_bucket_config(bucket, "versioning").document == "Enabled"
    for key, data in contents.items():
        assert held_bytes(empty, bucket, key) == data
    assert [record.tombstone for record in empty.key_history(bucket, "deleted", 10)] == [True]
    again = cluster.healer.repair_pass(batch=8)
    assert (again.differing, again.copies) == (0, 0)  # one pass was enough: the owners agree


def test_bucket_records_follow_the_majority_of_nodes(cluster: ClusterBackend, servers: list[Server]):
    servers[0].kill()
    cluster.create_bucket("made-while-away", REGION, OWNER)
    cluster.create_bucket("deleted-while-away", REGION, OWNER)  # on nodes 1 and 2 only, for now
    servers[0].start()
    cluster.healer.repair_buckets()
    away = node(cluster, servers[0])
    assert {bucket.name for bucket in away.list_buckets()} >= {"made-while-away", "deleted-while-away"}
    servers[0].kill()
    cluster.delete_bucket("deleted-while-away")
    servers[0].start()
    assert "deleted-while-away" in {bucket.name for bucket in away.list_buckets()}
    cluster.healer.repair_buckets()
    assert "deleted-while-away" not in {bucket.name for bucket in away.list_buckets()}
    assert "made-while-away" in {bucket.name for bucket in away.list_buckets()}


def test_a_bucket_being_deleted_refuses_new_objects_until_reopened(cluster: ClusterBackend, servers: list[Server], bucket: str):
    for server in servers:
        node(cluster, server).close_bucket(bucket, 30)
    with pytest.raises(errors.Busy):
        put(cluster, bucket, "k", b"refused: the bucket is closing")
    for server in servers:
        assert not _holds(node(cluster, server), bucket, "k")
    for server in servers:
        node(cluster, server).reopen_bucket(bucket)
    put(cluster, bucket, "k", b"accepted again")
    assert read(cluster, cluster.head_object(bucket, "k")) == b"accepted again"


def test_a_failed_delete_bucket_reopens_it(cluster: ClusterBackend, bucket: str):
    put(cluster, bucket, "k", b"not empty")
    with pytest.raises(errors.NotEmpty):
        cluster.delete_bucket(bucket)
    put(cluster, bucket, "k2", b"the bucket takes writes again")
    cluster.delete_version(bucket, "k", stamp())
    cluster.delete_version(bucket, "k2", stamp())
    cluster.delete_bucket(bucket)
    assert all(bucket not in {info.name for info in client.list_buckets()} for client in cluster.clients.values())


def test_with_more_nodes_than_replicas_a_missed_write_waits_on_a_stand_in(tmp_path_factory: pytest.TempPathFactory):
    four = start_nodes(tmp_path_factory.mktemp("four"), count=4)
    try:
        with cluster_of(four) as cluster:
            bucket = cluster.create_bucket("stand-in", REGION, OWNER).name
            owners = cluster.healer.owners(bucket, "k")
            (stand_in,) = [server for server in four if server.endpoint not in owners]
            missing = next(server for server in four if server.endpoint == owners[0])
            missing.kill()
            put(cluster, bucket, "k", b"kept on a stand-in")
            helper = node(cluster, stand_in)
            wait_until(lambda: helper.hints(10) != [])
            assert helper.hints(10)[0][:3] == (missing.endpoint, bucket, "k")
            assert held_bytes(helper, bucket, "k") == b"kept on a stand-in"
            missing.start()
            assert cluster.healer.hand_over_hints(100) == 1
            assert held_bytes(node(cluster, missing), bucket, "k") == b"kept on a stand-in"
            assert helper.hints(10) == [] and helper.key_history(bucket, "k", 10) == []  # handed back and forgotten
    finally:
        for server in four:
            server.stop()
