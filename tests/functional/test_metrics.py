"""Prometheus metrics over real servers: counts summed over every gunicorn worker (live, restarted and
killed), the metrics port, /metrics access on the S3 port, and what storage nodes export."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import boto3
import pytest
import urllib3
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ACCESS_KEY, CLUSTER_TOKEN, REGION, Server, free_port, make_client, make_cluster


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one /metrics answer."""
    response = urllib3.request("GET", url, headers=headers, retries=False, timeout=10)
    assert response.status == 200, response.data
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


@pytest.fixture
def metered(tmp_path: Path):
    """An embedded server (2 workers) with its own metrics port and multiprocess directory."""
    port = free_port()
    server = Server(
        tmp_path / "data",
        free_port(),
        env={"WSGI_S3_METRICS_LISTEN": f"127.0.0.1:{port}", "WSGI_S3_METRICS_DIR": str(tmp_path / "metrics"), "WSGI_S3_WORKERS": "2"},
    )
    server.metrics_url = f"http://127.0.0.1:{port}/metrics"
    server.start()
    yield server
    server.stop()


def test_counts_are_summed_over_workers_that_came_and_went(metered: Server, tmp_path: Path) -> None:
    s3 = make_client(metered.endpoint)
    bucket = "metrics-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    # The master's children: its 2 workers and 3 helpers (the sweeper, the lifecycle daemon, the
    # metrics port), which a restart keeps.
    before = set(metered.pids()) - {metered.process.pid}
    assert len(before) == 5
    for index in range(5):
        s3.put_object(Bucket=bucket, Key=f"first-{index}", Body=b"x" * 100)
    # A graceful restart replaces every worker: what follows is served by other processes. (Idle
    # keep-alive connections would hold the old workers for the graceful timeout.)
    s3.close()
    os.kill(metered.process.pid, signal.SIGHUP)
    assert wait_for(lambda: len(before - set(metered.pids())) == 2)
    metered.wait_ready()
    s3 = make_client(metered.endpoint)
    for index in range(3):
        s3.put_object(Bucket=bucket, Key=f"second-{index}", Body=b"y" * 1000)
        s3.get_object(Bucket=bucket, Key=f"second-{index}")["Body"].read()
    s3.head_object(Bucket=bucket, Key="first-0")
    s3.list_objects_v2(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="first-1")
    # Workers write their files once they count something: the new ones did.
    assert metric_writers(tmp_path / "metrics") & set(metered.pids()) - {metered.process.pid} - before
    samples = scrape(metered.metrics_url)
    assert value(samples, "s3_requests_total", method="PUT", operation="PutObject", status="200") == 8
    assert value(samples, "s3_requests_total", method="GET", operation="GetObject", status="200") == 3
    assert value(samples, "s3_requests_total", method="PUT", operation="CreateBucket", status="200") == 1
    assert value(samples, "s3_request_duration_seconds_count", method="PUT", operation="PutObject") == 8
    assert value(samples, "s3_put_object_total") == 8
    assert value(samples, "s3_get_object_total") == 3
    assert value(samples, "s3_head_object_total") == 1
    assert value(samples, "s3_list_objects_total") == 1
    assert value(samples, "s3_delete_object_total") == 1
    assert value(samples, "s3_objects_stored_total") == 8
    assert value(samples, "s3_bytes_stored_total") == 5 * 100 + 3 * 1000
    assert value(samples, "s3_upload_bytes_total") >= 5 * 100 + 3 * 1000
    assert value(samples, "s3_download_bytes_total") >= 3 * 1000
    assert value(samples, "s3_auth_success_total") == 15
    assert value(samples, "s3_requests_in_flight") == 0
    # What the store holds, read at scrape time: 8 written, 1 deleted.
    assert value(samples, "s3_store_objects") == 7
    assert value(samples, "s3_store_bytes") == 4 * 100 + 3 * 1000


def test_a_killed_worker_counts_no_longer_in_flight(metered: Server, raw_s3, tmp_path: Path) -> None:
    s3 = make_client(metered.endpoint)
    bucket = "inflight-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    # An upload that sends half its body and waits: one request in flight.
    conn = raw_s3(metered).start("PUT", f"/{bucket}/slow", 1000)
    conn.send(b"z" * 500)
    assert wait_for(lambda: value(scrape(metered.metrics_url), "s3_requests_in_flight") == 1)
    # kill -9 every worker that counted something (the one serving the upload among them):
    # gunicorn's child_exit marks them dead, so their live gauge stops counting, while their
    # counters stay in the sums.
    workers = metric_writers(tmp_path / "metrics") & set(metered.pids()) - {metered.process.pid}
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: value(scrape(metered.metrics_url), "s3_requests_in_flight") == 0)
    assert value(scrape(metered.metrics_url), "s3_requests_total", method="PUT", operation="CreateBucket", status="200") == 1
    metered.wait_ready()
    s3.put_object(Bucket=bucket, Key="after", Body=b"ok")
    samples = scrape(metered.metrics_url)
    assert value(samples, "s3_objects_stored_total") == 1
    assert value(samples, "s3_requests_total", method="PUT", operation="CreateBucket", status="200") == 1


def metric_writers(folder: Path) -> set[int]:
    """Pids of the processes that wrote metrics files (counter_<pid>.db, ...): the workers and the master."""
    return {int(name.rsplit("_", 1)[1][:-3]) for name in os.listdir(folder) if name.endswith(".db")}


def test_authentication_failures_are_counted_by_reason(metered: Server) -> None:
    wrong = boto3.client(
        "s3", endpoint_url=metered.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key="not-the-secret", region_name=REGION
    )
    with pytest.raises(wrong.exceptions.ClientError):
        wrong.list_buckets()
    unknown = urllib3.request("GET", metered.endpoint + "/", headers={"Authorization": "Bearer x"}, retries=False)
    assert unknown.status == 403
    make_client(metered.endpoint).list_buckets()
    samples = scrape(metered.metrics_url)
    assert value(samples, "s3_auth_failure_total", reason="SignatureDoesNotMatch") == 1
    assert value(samples, "s3_auth_failure_total", reason="AccessDenied") == 1
    assert value(samples, "s3_auth_success_total") == 1


def test_metrics_on_the_s3_port_are_off_by_default_and_a_bucket_name_then(embedded_server: Server) -> None:
    s3 = make_client(embedded_server.endpoint)
    anonymous = urllib3.request("GET", embedded_server.endpoint + "/metrics", retries=False)
    assert anonymous.status == 403 and b"<Code>AccessDenied</Code>" in anonymous.data
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="metrics")


STATUS_TOKEN = "status-test-token-0001"


@pytest.fixture(scope="module")
def metered_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A cluster whose gateway serves /metrics on its S3 port to holders of a token, and on a metrics port."""
    cluster = make_cluster(tmp_path_factory.mktemp("metered-cluster"))
    port = free_port()
    cluster.gateway.env.update(
        WSGI_S3_STATUS_ACCESS="token", WSGI_S3_STATUS_TOKEN=STATUS_TOKEN, WSGI_S3_METRICS_LISTEN=f"127.0.0.1:{port}"
    )
    cluster.gateway.metrics_url = f"http://127.0.0.1:{port}/metrics"
    cluster.start()
    yield cluster
    cluster.stop()


def test_gateway_metrics_need_the_token_on_the_s3_port(metered_cluster) -> None:
    gateway = metered_cluster.gateway
    url = gateway.endpoint + "/metrics"
    assert urllib3.request("GET", url, retries=False).status == 401
    assert urllib3.request("GET", url, headers={"Authorization": "Bearer wrong"}, retries=False).status == 403
    s3 = make_client(gateway.endpoint)
    bucket = "gw-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    for index in range(4):
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"abc")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="missing")
    assert s3.get_object(Bucket=bucket, Key="k0")["Body"].read() == b"abc"  # streamed from a node
    for samples in (scrape(url, {"Authorization": "Bearer " + STATUS_TOKEN}), scrape(gateway.metrics_url)):
        assert value(samples, "s3_requests_total", method="PUT", operation="PutObject", status="200") == 4
        assert value(samples, "s3_objects_stored_total") == 4
        assert value(samples, "s3_bytes_stored_total") == 12
        assert value(samples, "s3_errors_total", error_type="NoSuchKey", operation="GetObject") == 1
        assert value(samples, "s3_requests_total", method="GET", operation="GetObject", status="200") == 1
        assert value(samples, "s3_download_bytes_total") >= 3
        assert not any(name.startswith("s3_store_") for name, _ in samples)  # a gateway stores nothing itself


def test_nodes_export_what_they_hold(metered_cluster) -> None:
    token = {"Authorization": "Bearer " + CLUSTER_TOKEN}
    nodes = metered_cluster.nodes
    assert urllib3.request("GET", nodes[0].endpoint + "/metrics", retries=False).status == 401
    before = [value(scrape(node.endpoint + "/metrics", token), "s3_store_objects") for node in nodes]
    s3 = make_client(metered_cluster.gateway.endpoint)
    bucket = "node-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    for index in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{index}", Body=b"x" * 10)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    # N=3 on 3 nodes: every node holds every object (the third copy may land just after the answer).
    for node, count in zip(nodes, before):
        samples = wait_for(lambda node=node, count=count: (lambda s: s if value(s, "s3_store_objects") == count + 3 else None)(scrape(node.endpoint + "/metrics", token)))
        assert samples, f"{node.endpoint} does not hold the 3 objects"
        assert value(samples, "s3_store_bytes") >= 30
        assert value(samples, "s3_multipart_uploads_active") >= 1
        assert value(samples, "s3_store_disk_total_bytes") >= value(samples, "s3_store_disk_free_bytes") > 0
        # A node serves no S3 requests: it exports no request metrics that would stay at zero.
        assert all(name.startswith(("s3_store_", "s3_node_")) or name == "s3_multipart_uploads_active" for name, _ in samples)
    s3.abort_multipart_upload(Bucket=bucket, Key="big", UploadId=upload)
