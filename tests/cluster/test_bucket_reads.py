"""Round trips per request in a real cluster (three `wsgi-s3 node` processes, a `wsgi-s3 gateway`,
N=3, W=2, R=1, every node behind a proxy that records the request lines it passes on): a request
reads its bucket (record, versioning state, lifecycle rules, version policy) in one fan-out, at
most one request per node, whatever it needs of it. Each request below is checked to have used
what it read: a version id of its own (versioning), x-amz-expiration (lifecycle), and the oldest
version pruned (version policy)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cluster.fault_proxy import FaultProxy, proxied_cluster
from tests.conftest import Cluster
from tests.functional.test_presign_api import post_json
from tests.functional.test_version_policy import history, put_policy

LIFECYCLE = {"Rules": [{"ID": "expire-docs", "Status": "Enabled", "Filter": {"Prefix": "doc"}, "Expiration": {"Days": 30}}]}
WRITE_QUORUM = 2  # the cluster fixture's W: a bucket read waits for len(nodes) - W + 1 answers


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Cluster, list[FaultProxy]]]:
    with proxied_cluster(tmp_path, node_timeout=5) as running:
        yield running


def bucket_reads(proxy: FaultProxy, start: int, bucket: str) -> int:
    """Reads of the bucket's record or of its configuration documents among the requests the
    proxy passed on since `start` (not its listings: /v1/buckets/NAME/versions, .../entries)."""
    record = f"/v1/buckets/{bucket}".encode()
    paths = [line.split(b" ")[1].split(b"?")[0] for line in proxy.requests[start:] if line.startswith(b"GET ")]
    return sum(path == record or path.startswith(record + b"/config") for path in paths)


def reads_of(proxies: list[FaultProxy], bucket: str, request: Callable[[], object]) -> tuple[object, list[int]]:
    """What `request` answered, and how many bucket reads it made of each node."""
    starts = [len(proxy.requests) for proxy in proxies]
    answer = request()
    return answer, [bucket_reads(proxy, start, bucket) for proxy, start in zip(proxies, starts)]


def assert_one_fan_out(reads: list[int], what: str) -> None:
    assert max(reads) == 1, f"{what}: bucket reads per node {reads}"
    assert sum(reads) >= len(reads) - WRITE_QUORUM + 1, f"{what}: bucket reads per node {reads}"


def test_each_request_reads_its_bucket_in_one_fan_out(proxied: tuple[Cluster, list[FaultProxy]], client_for, raw_s3):
    cluster, proxies = proxied
    s3, raw = client_for(cluster.gateway), raw_s3(cluster.gateway)
    bucket = "reads-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=bucket)
    assert put_policy(raw, bucket, {"enabled": True, "max_versions": 2, "retention_days": 0})[0] == 200  # versioning Enabled too
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
    older = [s3.put_object(Bucket=bucket, Key="doc", Body=f"v{n}".encode())["VersionId"] for n in range(2)]

    put, reads = reads_of(proxies, bucket, lambda: s3.put_object(Bucket=bucket, Key="doc", Body=b"v2"))
    assert_one_fan_out(reads, "PutObject")
    assert put["VersionId"] not in ("null", *older)  # versioning state
    assert "expiry-date=" in put["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]  # lifecycle rules
    assert history(s3, bucket, "doc") == [put["VersionId"], older[1]]  # version policy: the oldest pruned

    for name, read in (("GetObject", s3.get_object), ("HeadObject", s3.head_object)):
        got, reads = reads_of(proxies, bucket, lambda read=read: read(Bucket=bucket, Key="doc"))
        assert_one_fan_out(reads, name)
        assert got["VersionId"] == put["VersionId"] and "x-amz-expiration" in got["ResponseMetadata"]["HTTPHeaders"]

    copied, reads = reads_of(proxies, bucket, lambda: s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc"}, MetadataDirective="REPLACE"))
    assert_one_fan_out(reads, "CopyObject")
    assert "x-amz-expiration" in copied["ResponseMetadata"]["HTTPHeaders"]
    assert history(s3, bucket, "doc") == [copied["VersionId"], put["VersionId"]]

    upload = s3.create_multipart_upload(Bucket=bucket, Key="doc")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="doc", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    completed, reads = reads_of(proxies, bucket, lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="doc", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    ))
    assert_one_fan_out(reads, "CompleteMultipartUpload")
    assert "x-amz-expiration" in completed["ResponseMetadata"]["HTTPHeaders"]
    assert history(s3, bucket, "doc") == [completed["VersionId"], copied["VersionId"]]

    (status, headers, body), reads = reads_of(proxies, bucket, lambda: raw.request("POST", f"/{bucket}/doc?restore&versionId={copied['VersionId']}"))
    assert status == 200, body
    assert_one_fan_out(reads, "restore")
    restored = json.loads(body)["version_id"]
    assert headers["x-amz-version-id"] == restored and history(s3, bucket, "doc") == [restored, completed["VersionId"]]

    items = [{"bucket": bucket, "key": "doc", "dest_key": f"doc-{n}"} for n in range(3)]
    (status, answer), reads = reads_of(proxies, bucket, lambda: post_json(cluster.gateway, "/batch", {"operation": "copy", "operations": items}))
    assert status == 200 and [result["status"] for result in answer["results"]] == ["ok"] * 3, answer
    assert_one_fan_out(reads, "/batch copy of three objects")

    for name, listing in (
        ("ListObjects", lambda: s3.list_objects(Bucket=bucket)),
        ("ListObjectVersions", lambda: s3.list_object_versions(Bucket=bucket)),
    ):
        page, reads = reads_of(proxies, bucket, listing)
        assert max(reads) <= 1, f"{name}: bucket reads per node {reads}"  # the owner shown: read once
        assert page.get("Contents", page.get("Versions"))[0]["Owner"]["ID"]
