"""The lifecycle daemon in real services: `serve`, and two gateways over one three-node cluster.
Rules are judged three days ahead (`lifecycle_clock_offset`, a test-only setting), so objects
written now are due; passes run every second. What is checked is what S3 clients see: expired
keys gone (or behind a delete marker), the rest kept, uploads aborted; and in the services' logs,
that every expiration happened exactly once and that a killed service's pass is resumed where it
stopped: by the service restarted, or in a cluster by the other gateway once the lease expired."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.conftest import CLUSTER_TOKEN, Server, free_port, make_client, make_cluster
from tests.polling import wait_until

THREE_DAYS = str(3 * 86400)


def lifecycle_env(**extra: str) -> dict[str, str]:
    return {
        "WSGI_S3_LIFECYCLE_INTERVAL": "1",
        "WSGI_S3_MP_SWEEP_INTERVAL": "1",
        "WSGI_S3_LIFECYCLE_CLOCK_OFFSET": THREE_DAYS,
        "WSGI_S3_LIFECYCLE_BATCH": "2",
        "WSGI_S3_LIFECYCLE_PAUSE_MS": "0",
        "WSGI_S3_MP_TTL": "0",
        **extra,
    }


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., list[Server]]]:
    """Factory: services("embedded" | "cluster", **env) -> the S3 endpoints started, stopped after."""
    started: list[Server] = []

    def start(kind: str, **extra: str) -> list[Server]:
        env = lifecycle_env(**extra)
        if kind == "embedded":
            endpoints = [Server(tmp_path / "data", free_port(), env=env)]
            started.extend(endpoints)
        else:
            cluster = make_cluster(tmp_path / "cluster")
            cluster.gateway.env.update(env)
            second = Server(tmp_path / "cluster" / "gateway2", free_port(), cluster.gateway.extra_args, command="gateway",
                            env={**cluster.gateway.env, "WSGI_S3_BACKEND_AUTH_TOKEN": CLUSTER_TOKEN})
            started.extend([*cluster.nodes, cluster.gateway, second])
            endpoints = [cluster.gateway, second]
        for server in started:
            server.data_dir.parent.mkdir(parents=True, exist_ok=True)
            server.start()
        return endpoints

    yield start
    for server in reversed(started):
        server.stop()


def keys(s3, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def uploads(s3, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def expired_lines(servers: list[Server]) -> list[str]:
    return [line for server in servers for line in server.log().splitlines() if "lifecycle: expired" in line]


@pytest.mark.parametrize("kind", ["embedded", "cluster"])
def test_rules_are_applied_once_and_what_they_do_not_match_is_kept(services, kind):
    endpoints = services(kind)
    s3 = make_client(endpoints[0].endpoint)
    rules = [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled", "Expiration": {"Days": 1}},
        {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 100}, "Status": "Enabled", "Expiration": {"Days": 2}},
        {"ID": "tagged", "Filter": {"Tag": {"Key": "class", "Value": "temp"}}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "abort", "Filter": {"Prefix": "up/"}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ]
    for bucket in ("plain", "versioned"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    for key in ("tmp/1", "tmp/2", "tmp/3", "tmp/4", "tmp/5", "keep/1", "small"):
        s3.put_object(Bucket="plain", Key=key, Body=b"x" * 10)
    s3.put_object(Bucket="plain", Key="large", Body=b"x" * 101)
    s3.put_object(Bucket="plain", Key="tagged/yes", Body=b"x", Tagging="class=temp")
    s3.put_object(Bucket="plain", Key="tagged/no", Body=b"x", Tagging="class=keep")
    s3.create_multipart_upload(Bucket="plain", Key="up/a")
    s3.create_multipart_upload(Bucket="plain", Key="other/b")
    version = s3.put_object(Bucket="versioned", Key="tmp/v", Body=b"kept as a version")["VersionId"]

    wait_until(lambda: keys(s3, "plain") == ["keep/1", "small", "tagged/no"] and uploads(s3, "plain") == ["other/b"] and keys(s3, "versioned") == [], "the lifecycle daemon got there", pause=0.2)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket="versioned", Key="tmp/v")
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert s3.get_object(Bucket="versioned", Key="tmp/v", VersionId=version)["Body"].read() == b"kept as a version"
    # Each expiration was done once, by one daemon, in every mode: five tmp/ keys, the large one, the
    # tagged one, tmp/v.
    time.sleep(2)  # two more passes: none of them may expire anything again
    lines = expired_lines(endpoints)
    assert sorted(re.search(r"expired (\S+) ", line).group(1) for line in lines) == [
        "plain/large", "plain/tagged/yes", "plain/tmp/1", "plain/tmp/2", "plain/tmp/3", "plain/tmp/4", "plain/tmp/5", "versioned/tmp/v",
    ]


@pytest.mark.parametrize("kind", ["embedded", "cluster"])
def test_old_noncurrent_versions_and_lone_delete_markers_go(services, kind):
    endpoints = services(kind)
    s3 = make_client(endpoints[0].endpoint)
    s3.create_bucket(Bucket="history")
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    rules = [
        {"ID": "old", "Filter": {"Prefix": "k"}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
        {
            "ID": "markers", "Filter": {"Prefix": "gone/"}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket="history", LifecycleConfiguration={"Rules": rules})
    ids = [s3.put_object(Bucket="history", Key="k", Body=str(n).encode())["VersionId"] for n in range(4)]
    for key in ("gone/a", "kept/b"):
        s3.put_object(Bucket="history", Key=key, Body=b"x")
        s3.delete_object(Bucket="history", Key=key)

    def history() -> list[tuple[str, str, bool]]:
        listed = s3.list_object_versions(Bucket="history")
        entries = [(v["Key"], v["VersionId"], False) for v in listed.get("Versions", [])]
        entries += [(m["Key"], m["VersionId"], True) for m in listed.get("DeleteMarkers", [])]
        return sorted(entries)

    # k keeps its current version and the newest noncurrent one; gone/a's version goes, then its
    # marker, alone at last; kept/b's marker stays with the version it hides (no rule removes that).
    wait_until(lambda: [(key, marker) for key, _, marker in history()] == [("k", False), ("k", False), ("kept/b", False), ("kept/b", True)], "the lifecycle daemon got there", pause=0.2)
    assert {version_id for key, version_id, _ in history() if key == "k"} == {ids[3], ids[2]}
    assert s3.get_object(Bucket="history", Key="k")["Body"].read() == b"3"


def test_what_the_daemon_did_is_on_the_metrics_port(services):
    port = free_port()
    (server,) = services("embedded", WSGI_S3_METRICS_LISTEN=f"127.0.0.1:{port}", WSGI_S3_MP_TTL="1h")
    s3 = make_client(server.endpoint)
    s3.create_bucket(Bucket="metered")
    s3.put_bucket_lifecycle_configuration(
        Bucket="metered", LifecycleConfiguration={"Rules": [{"ID": "all", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}]}
    )
    for size in (3, 4):
        s3.put_object(Bucket="metered", Key=f"k{size}", Body=b"x" * size)
    s3.create_multipart_upload(Bucket="metered", Key="abandoned")  # three days old by the daemon's clock

    def metric(name: str) -> float:
        text = urllib3.request("GET", f"http://127.0.0.1:{port}/metrics").data.decode()
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")]
        return values[0] if values else 0.0

    wait_until(lambda: metric("s3_lifecycle_expired_objects_total") == 2 and metric("s3_lifecycle_aborted_uploads_total") == 1, "the lifecycle daemon got there", pause=0.2)
    assert metric("s3_lifecycle_expired_bytes_total") == 7


def test_a_killed_service_resumes_its_pass_where_it_stopped(services):
    (server,) = services("embedded", WSGI_S3_LIFECYCLE_BATCH="1", WSGI_S3_LIFECYCLE_PAUSE_MS="400")
    s3 = make_client(server.endpoint)
    s3.create_bucket(Bucket="slow")
    for n in range(12):
        s3.put_object(Bucket="slow", Key=f"tmp/{n:02d}", Body=b"x")
    s3.put_bucket_lifecycle_configuration(
        Bucket="slow", LifecycleConfiguration={"Rules": [{"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]}
    )
    wait_until(lambda: len(expired_lines([server])) >= 3, "the lifecycle daemon got there", pause=0.2)
    server.kill()
    done = len(expired_lines([server]))
    assert done < 12, "the pass ended before the kill: make it slower"
    server.start()
    wait_until(lambda: keys(s3, "slow") == [], "the lifecycle daemon got there", pause=0.2)
    assert "lifecycle: lifecycle-objects resumes in bucket 'slow'" in server.log()
    assert len(expired_lines([server])) == 12


def test_when_a_gateway_dies_midway_another_takes_over_its_pass(services):
    gateways = services("cluster", WSGI_S3_LIFECYCLE_BATCH="1", WSGI_S3_LIFECYCLE_PAUSE_MS="400", WSGI_S3_LIFECYCLE_LEASE="3")
    s3 = make_client(gateways[0].endpoint)
    s3.create_bucket(Bucket="slow")
    for n in range(12):
        s3.put_object(Bucket="slow", Key=f"tmp/{n:02d}", Body=b"x")
    s3.put_bucket_lifecycle_configuration(
        Bucket="slow", LifecycleConfiguration={"Rules": [{"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]}
    )
    wait_until(lambda: len(expired_lines(gateways)) >= 3, "the lifecycle daemon got there", pause=0.2)
    (holder,) = [gateway for gateway in gateways if expired_lines([gateway])]
    (other,) = [gateway for gateway in gateways if gateway is not holder]
    holder.kill()
    assert len(expired_lines([holder])) < 12, "the pass ended before the kill: make it slower"
    survivor = make_client(other.endpoint)
    wait_until(lambda: keys(survivor, "slow") == [], "the lifecycle daemon got there", pause=0.2)
    assert "lifecycle: lifecycle-objects resumes in bucket 'slow'" in other.log()
    done = [re.search(r"expired (\S+) ", line).group(1) for line in expired_lines(gateways)]
    assert len(done) == len(set(done))  # no key expired twice
