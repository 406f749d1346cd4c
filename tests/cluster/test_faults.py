"""Sick nodes, not dead ones: a node behind a fault-injecting proxy (tests/cluster/fault_proxy.py)
that answers late, resets a connection mid-answer or stalls mid-body. No request hangs on it (each
test runs under an alarm), a response is all the right bytes or an error, never other bytes, and a
node that failed is skipped without network I/O while it is marked down, then used again.

The first tests drive a ClusterBackend in this process over three real node processes (node 0
behind the proxy); the last ones go through a real `wsgi-s3 gateway` with boto3 and plain HTTP."""

from __future__ import annotations

import gc
import hashlib
import http.client
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, IncompleteReadError, ResponseStreamingError

from tests.cluster.fault_proxy import Fault, FaultProxy, proxied_cluster
from tests.cluster.conftest import put
from tests.cluster.test_replication import files
from tests.conftest import Cluster, Server
from tests.contract.conftest import OWNER, REGION
from tests.node.conftest import TOKEN
from wsgi_s3.backend.cluster import ClusterBackend
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.cluster.replicated import ClusterVersion
from wsgi_s3.cluster.ring import Ring, parse_node
from wsgi_s3.model import errors

NODE_TIMEOUT = 1  # seconds a node may stay silent (the gateway's node_timeout)
DATA_READS = b"GET /v1/data/"  # the requests that carry an object's bytes
STAGES = b"POST /v1/blobs "  # the requests that carry a body being written


class Hung(Exception):
    pass


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail the test instead of hanging it: whatever blocks is interrupted after `seconds`."""

    def hung(*_: object) -> None:
        raise Hung(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def proxy(servers: list[Server]) -> Iterator[FaultProxy]:
    """A proxy in front of node 0."""
    made = FaultProxy(servers[0].port)
    yield made
    made.close()


@contextmanager
def cluster_via(servers: list[Server], proxy: FaultProxy, down_interval: float) -> Iterator[ClusterBackend]:
    """N=3, W=2, R=1 over the three nodes, node 0 reached through the proxy."""
    nodes = [parse_node(url) for url in (proxy.url, *(server.endpoint for server in servers[1:]))]
    clients = {
        node.url: NodeClient(node.url, TOKEN, connect_timeout=NODE_TIMEOUT, read_timeout=NODE_TIMEOUT, down_interval=down_interval)
        for node in nodes
    }
    try:
        yield ClusterBackend(Ring(nodes), clients, 3, 2, 1)
    finally:
        for client in clients.values():
            client.close()
        gc.collect()


@pytest.fixture
def node0(servers: list[Server]) -> Iterator[NodeClient]:
    """Node 0 reached directly, to see what it holds."""
    client = NodeClient(servers[0].endpoint, TOKEN)
    yield client
    client.close()


def read_all(cluster: ClusterBackend, version: ClusterVersion, received: bytearray) -> bytes:
    """The version's bytes, read block by block into `received` (what a client got so far, if it raises)."""
    stream = cluster.open_object(version, 0, version.size)
    try:
        while block := stream.read(1 << 16):
            received += block
    finally:
        stream.close()
    return bytes(received)


def get(cluster: ClusterBackend, bucket: str, key: str) -> bytes:
    head = cluster.head_object(bucket, key)
    assert isinstance(head, ClusterVersion)
    return read_all(cluster, head, bytearray())


def keys(cluster: ClusterBackend, bucket: str) -> list[str]:
    return [entry.key for entry in cluster.list_objects(bucket, "", "", "", 100).objects]


def test_a_slow_node_hangs_no_request_and_is_skipped_while_marked_down(servers: list[Server], proxy: FaultProxy):
    data = os.urandom(300_000)
    # Never marked down: every PUT, GET and LIST meets the slow node, waits for it at most the
    # node timeout, and succeeds with the other two.
    with cluster_via(servers, proxy, down_interval=0) as cluster, deadline(120):
        bucket = cluster.create_bucket("slow-node", REGION, OWNER).name
        proxy.fault = Fault(delay=NODE_TIMEOUT * 4)
        put(cluster, bucket, "a", data)
        assert get(cluster, bucket, "a") == data
        assert keys(cluster, bucket) == ["a"]
        assert not cluster.clients[proxy.url].health.down
    # Marked down once it timed out: later requests skip it without a byte sent to it.
    with cluster_via(servers, proxy, down_interval=600) as cluster, deadline(120):
        put(cluster, bucket, "b", data[::-1])
        slow = cluster.clients[proxy.url]
        assert slow.health.down
        seen = len(proxy.requests)
        put(cluster, bucket, "c", data)
        assert (get(cluster, bucket, "b"), get(cluster, bucket, "c")) == (data[::-1], data)
        assert keys(cluster, bucket) == ["a", "b", "c"]
        with pytest.raises(errors.Unavailable, match="marked down"):
            slow.get_bucket(bucket)
        assert len(proxy.requests) == seen


@pytest.mark.parametrize("reset_after", [0, 200_000], ids=["before-the-answer", "mid-stream"])
def test_a_node_that_resets_a_read_never_gives_wrong_bytes(servers: list[Server], proxy: FaultProxy, reset_after: int):
    data = os.urandom(1 << 20)
    with cluster_via(servers, proxy, down_interval=0) as cluster, deadline(120):
        bucket = cluster.create_bucket(f"reset-{reset_after}", REGION, OWNER).name
        put(cluster, bucket, "k", data)
        head = cluster.head_object(bucket, "k")
        assert isinstance(head, ClusterVersion) and proxy.url in head.holders
        others = tuple(url for url in head.holders if url != proxy.url)
        proxy.fault = Fault(match=DATA_READS, reset_after=reset_after)
        # Read from the resetting node first: the rest of the range comes from another holder.
        assert read_all(cluster, replace(head, holders=(proxy.url, *others)), bytearray()) == data
        assert proxy.hits == 1
        # When it is the only holder, the reader gets an error, after a prefix of the right bytes at most.
        received = bytearray()
        with pytest.raises(errors.Unavailable):
            read_all(cluster, replace(head, holders=(proxy.url,)), received)
        assert proxy.hits == 2
        assert len(received) < len(data) and data.startswith(received)


def test_a_node_that_stalls_mid_body_misses_the_write_and_keeps_nothing(servers: list[Server], proxy: FaultProxy, node0: NodeClient):
    data = os.urandom(3 << 20)
    with cluster_via(servers, proxy, down_interval=600) as cluster, deadline(120):
        bucket = cluster.create_bucket("stall", REGION, OWNER).name
        blobs = files(servers[:1], "blobs")
        proxy.fault = Fault(match=STAGES, stall_after=100_000)
        put(cluster, bucket, "k", data)  # acknowledged by the two others (W=2)
        assert proxy.hits == 1
        head = cluster.head_object(bucket, "k")
        assert isinstance(head, ClusterVersion) and len(head.holders) == 2 and proxy.url not in head.holders
        assert get(cluster, bucket, "k") == data
        with pytest.raises(errors.NotFound):
            node0.get_version(bucket, "k")
        # The stalled node drops the half-received body once the connection is gone.
        while files(servers[:1], "tmp"):
            time.sleep(0.05)
        assert files(servers[:1], "blobs") == blobs


def test_a_node_marked_down_is_used_again_after_the_interval(servers: list[Server], proxy: FaultProxy, node0: NodeClient):
    with cluster_via(servers, proxy, down_interval=1) as cluster, deadline(120):
        bucket = cluster.create_bucket("comes-back", REGION, OWNER).name
        proxy.fault = Fault(reset_after=0)  # every connection reset before an answer
        put(cluster, bucket, "missed", b"written while node 0 was failing")
        health = cluster.clients[proxy.url].health
        assert health.down
        seen = len(proxy.requests)
        assert cluster.healer.hand_over_hints(100) == 0  # its hints wait: it is down
        assert len(proxy.requests) == seen
        proxy.fault = None
        while health.down:
            time.sleep(0.05)
        seen = len(proxy.requests)
        put(cluster, bucket, "seen", b"written once it was back")
        assert len(proxy.requests) > seen
        assert node0.get_version(bucket, "seen").size == len(b"written once it was back")
        assert health.down_until is None  # the probe succeeded: up again
        # And what it missed while down is handed over to it now.
        assert cluster.healer.hand_over_hints(100) >= 1
        assert node0.get_version(bucket, "missed").size == len(b"written while node 0 was failing")


# Through a real gateway, every node behind a proxy.


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Cluster, list[FaultProxy]]]:
    with proxied_cluster(tmp_path, node_timeout=NODE_TIMEOUT) as running:
        yield running


def test_through_the_gateway_a_slow_node_hangs_nothing(proxied: tuple[Cluster, list[FaultProxy]], client_for):
    cluster, proxies = proxied
    s3 = client_for(cluster.gateway)
    data = os.urandom(1 << 20)
    with deadline(180):
        s3.create_bucket(Bucket="slow")
        proxies[0].fault = Fault(delay=NODE_TIMEOUT * 4)
        for turn in range(2):  # the second while the slow node is marked down (or probed again)
            key = f"k{turn}"
            s3.put_object(Bucket="slow", Key=key, Body=data)
            assert s3.get_object(Bucket="slow", Key=key)["Body"].read() == data
            assert [item["Key"] for item in s3.list_objects_v2(Bucket="slow")["Contents"]] == ["k0", "k1"][: turn + 1]
    assert proxies[0].hits
    assert f"node {proxies[0].url} marked down" in cluster.gateway.log()


def test_through_the_gateway_a_reset_mid_stream_is_all_the_bytes_or_an_error(proxied: tuple[Cluster, list[FaultProxy]], client_for, raw_s3):
    cluster, proxies = proxied
    s3 = client_for(cluster.gateway)
    raw = raw_s3(cluster.gateway)
    data = os.urandom(4 << 20)
    digest = hashlib.sha256(data).hexdigest()
    with deadline(180):
        s3.create_bucket(Bucket="reset")
        s3.put_object(Bucket="reset", Key="k", Body=data)
        # Two of the three holders reset their answers mid-stream: the gateway goes on from the
        # others, and both clients get every byte.
        for proxy in proxies[1:]:
            proxy.fault = Fault(match=DATA_READS, reset_after=300_000)
        answer = s3.get_object(Bucket="reset", Key="k")
        body = answer["Body"].read()
        assert (hashlib.sha256(body).hexdigest(), len(body), answer["ContentLength"]) == (digest, len(data), len(data))
        status, headers, body = raw.request("GET", "/reset/k")
        assert (status, hashlib.sha256(body).hexdigest(), int(headers["content-length"])) == (200, digest, len(data))
        # All three do: an error (a 5xx, or the connection cut short of Content-Length), never a short success.
        for proxy in proxies:
            proxy.fault = Fault(match=DATA_READS, reset_after=300_000)
        with pytest.raises((ClientError, IncompleteReadError, ResponseStreamingError)) as failure:
            s3.get_object(Bucket="reset", Key="k")["Body"].read()
        assert not isinstance(failure.value, ClientError) or failure.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
        connection = raw.start("GET", "/reset/k", 0)
        response = connection.getresponse()
        try:
            body = response.read()
        except (http.client.IncompleteRead, ConnectionError) as cut:
            assert isinstance(cut, ConnectionError) or data.startswith(cut.partial)
        else:
            assert response.status >= 500 and body != data
    assert sum(proxy.hits for proxy in proxies) >= 3
