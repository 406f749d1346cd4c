"""/health, /ready and /debug/* over real servers: embedded, gateway (write quorum) and node (store
writable), draining, the access the operator configures, and nothing internal told to anonymous callers."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import uuid
from pathlib import Path

import pytest
import urllib3

from tests.conftest import SECRET_KEY, Server, free_port, make_client, make_cluster
from tests.functional.test_metrics import STATUS_TOKEN


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> urllib3.BaseHTTPResponse:
    return urllib3.request(method, url, headers=headers, retries=False, timeout=10)


def test_health_and_ready_answer_probes(server: Server) -> None:
    for path, text in (("/health", b"OK"), ("/ready", b"READY")):
        response = get(server.endpoint + path)
        assert (response.status, response.data) == (200, text)
        assert response.headers["x-amz-request-id"]
        head = get(server.endpoint + path, method="HEAD")
        assert (head.status, head.data) == (200, b"")


def test_signed_requests_to_buckets_of_those_names_are_s3(s3) -> None:
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="health")


@pytest.fixture
def cluster_of_three(tmp_path: Path):
    cluster = make_cluster(tmp_path)
    cluster.start()
    yield cluster
    cluster.stop()


def test_a_gateway_is_ready_while_its_write_quorum_is_reachable(cluster_of_three) -> None:
    gateway, nodes = cluster_of_three.gateway, cluster_of_three.nodes
    assert get(gateway.endpoint + "/ready").status == 200
    nodes[0].stop()  # W=2 of N=3: still enough
    assert get(gateway.endpoint + "/ready").status == 200
    nodes[1].stop()
    response = get(gateway.endpoint + "/ready")
    # Which nodes failed and why is for the operator's log, not for whoever asks.
    assert (response.status, response.data) == (503, b"NOT READY")
    assert get(gateway.endpoint + "/health").status == 200  # the process itself is fine
    assert nodes[1].endpoint.encode() not in response.data
    nodes[1].start()
    assert get(gateway.endpoint + "/ready").status == 200


def test_a_node_is_ready_while_its_store_takes_writes(tmp_path: Path) -> None:
    token = "node-health-token"
    node = Server(
        tmp_path / "node",
        free_port(),
        root_key=False,
        command="node",
        env={"WSGI_S3_AUTH_TOKEN": token, "WSGI_S3_LOCK_TIMEOUT": "1"},
    )
    node.start()  # waits for /health, which needs no token
    try:
        assert (get(node.endpoint + "/ready").status, get(node.endpoint + "/ready").data) == (200, b"READY")
        # Another process holds the store's write lock: writes would wait, then fail.
        blocker = sqlite3.connect(tmp_path / "node" / "meta.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        response = get(node.endpoint + "/ready")
        assert (response.status, response.data) == (503, b"NOT READY")
        blocker.execute("ROLLBACK")
        blocker.close()
        assert get(node.endpoint + "/ready").status == 200
    finally:
        node.stop()


def test_ready_is_false_while_draining(tmp_path: Path, raw_s3) -> None:
    server = Server(tmp_path / "data", free_port(), env={"WSGI_S3_WORKERS": "1"})
    server.start()
    idle: list[http.client.HTTPConnection] = []
    try:
        s3 = make_client(server.endpoint)
        bucket = "drain-" + uuid.uuid4().hex[:8]
        s3.create_bucket(Bucket=bucket)
        s3.close()
        # Connections already open to the one worker, each kept alive after one request.
        for _ in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/health")
            assert conn.getresponse().read() == b"OK"
            idle.append(conn)
        # An upload in flight holds the worker in its graceful shutdown.
        upload = raw_s3(server).start("PUT", f"/{bucket}/during-drain", 10)
        upload.send(b"12345")
        os.kill(server.process.pid, signal.SIGTERM)
        statuses = []
        for conn in idle:
            conn.request("GET", "/ready")
            response = conn.getresponse()
            statuses.append((response.status, response.read()))
            if response.status == 503:
                break
        assert statuses[-1] == (503, b"NOT READY"), statuses
        upload.send(b"67890")  # the acknowledged write still completes
        assert upload.getresponse().status == 200
    finally:
        for conn in idle:
            conn.close()
        server.stop()


@pytest.fixture(scope="module")
def open_status(tmp_path_factory: pytest.TempPathFactory):
    """An embedded server with /metrics and /debug/* open on its S3 port and /health behind a token."""
    server = Server(
        tmp_path_factory.mktemp("open-status") / "data",
        free_port(),
        env={"WSGI_S3_STATUS_ACCESS": "open", "WSGI_S3_HEALTH_ACCESS": "token", "WSGI_S3_STATUS_TOKEN": STATUS_TOKEN},
        ready_headers={"Authorization": "Bearer " + STATUS_TOKEN},
    )
    server.start()
    yield server
    server.stop()


def test_debug_endpoints_describe_the_traffic_in_json(open_status: Server) -> None:
    s3 = make_client(open_status.endpoint)
    bucket = "debug-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    for index in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"data")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="nope")
    performance = get(open_status.endpoint + "/debug/performance")
    assert performance.status == 200 and performance.headers["Content-Type"] == "application/json"
    stats = json.loads(performance.data)
    assert stats["operations"]["PutObject"]["requests"] == 3
    assert stats["operations"]["PutObject"]["server_errors"] == 0
    assert stats["operations"]["GetObject"]["client_errors"] == 1
    assert stats["operations"]["PutObject"]["p99_ms"] >= stats["operations"]["PutObject"]["p50_ms"] >= 0
    assert stats["upload_bytes"] >= 12
    variables = get(open_status.endpoint + "/debug/vars")
    assert variables.status == 200
    document = json.loads(variables.data)
    assert document["role"] == "serve" and document["version"]
    assert document["metrics"]['s3_requests_total{method="PUT",operation="PutObject",status="200"}'] == 3
    # Nothing secret: no settings, no environment, no command line.
    assert SECRET_KEY.encode() not in variables.data and STATUS_TOKEN.encode() not in variables.data


def test_health_can_require_a_token(open_status: Server) -> None:
    assert get(open_status.endpoint + "/health").status == 401
    assert get(open_status.endpoint + "/ready", {"Authorization": "Bearer nope"}).status == 403
    response = get(open_status.endpoint + "/ready", {"Authorization": "Bearer " + STATUS_TOKEN})
    assert (response.status, response.data) == (200, b"READY")
    assert get(open_status.endpoint + "/metrics").status == 200


def test_the_metrics_port_serves_debug_and_health(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path / "data", free_port(), env={"WSGI_S3_METRICS_LISTEN": f"127.0.0.1:{port}"})
    server.start()
    try:
        make_client(server.endpoint).create_bucket(Bucket="portcheck")
        base = f"http://127.0.0.1:{port}"
        assert get(base + "/health").data == b"OK"
        assert json.loads(get(base + "/debug/performance").data)["operations"]["CreateBucket"]["requests"] == 1
        assert json.loads(get(base + "/debug/vars").data)["role"] == "serve"
        assert get(base + "/elsewhere").status == 404
        assert get(base + "/metrics", method="POST").status == 405
        # The S3 port keeps these paths for S3 by default.
        assert get(server.endpoint + "/debug/vars").status == 403
    finally:
        server.stop()
