"""A restore (POST ?restore&versionId=, /batch restore) shares the restored version's blobs instead
of copying its bytes, against real servers (embedded and a three-node cluster's gateway): the new
version has the same bytes, ETag, checksums and parts, the data directories gain no blob file of
the object's size, the restored version outlives the original, and the blob goes with the last of
them. What is on disk is read from the data directories themselves (each node's, in a cluster)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, free_port, make_client, make_cluster
from tests.functional.test_batch import batch
from tests.polling import wait_until

MIB = 1 << 20


def body(size: int, seed: bytes) -> bytes:
    """`size` bytes that differ from those of any other seed (a blob of one object is told by its size)."""
    block = hashlib.sha256(seed).digest() * 2048
    return (block * (size // len(block) + 1))[:size]


def data_dirs(request: pytest.FixtureRequest, server: Server) -> list[Path]:
    """Where `server` keeps its blobs: its own data directory, or each node's behind a gateway."""
    if server.command == "gateway":
        return [node.data_dir for node in request.getfixturevalue("cluster").nodes]
    return [server.data_dir]


def blob_sizes(dirs: list[Path]) -> dict[Path, int]:
    """Every blob file under the data directories, with its size (a file the sweeper removes while
    this walks is skipped)."""
    sizes = {}
    for folder in dirs:
        for path in (folder / "blobs").rglob("*"):
            try:
                if path.is_file():
                    sizes[path] = path.stat().st_size
            except FileNotFoundError:
                continue
    return sizes


def new_blobs(before: dict[Path, int], dirs: list[Path]) -> list[int]:
    """Sizes of the blob files that appeared since `before`."""
    return [size for path, size in blob_sizes(dirs).items() if path not in before]


def restore(raw, bucket: str, key: str, version_id: str) -> dict:
    status, headers, answer = raw.request("POST", f"/{bucket}/{key}?restore&versionId={version_id}")
    assert status == 200, answer
    restored = json.loads(answer)
    assert headers["x-amz-version-id"] == restored["version_id"]
    return restored


def versioned(s3) -> str:
    name = "share-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_a_restore_of_a_large_version_copies_no_bytes(request, server, s3, raw_s3):
    bucket, dirs = versioned(s3), data_dirs(request, server)
    data = body(6 * MIB + 7, b"large")
    first = s3.put_object(
        Bucket=bucket, Key="big", Body=data, ChecksumAlgorithm="SHA256", ContentType="application/x-big", Metadata={"kept": "yes"},
        Tagging="t=1",
    )
    s3.put_object(Bucket=bucket, Key="big", Body=b"a later version")
    before = blob_sizes(dirs)
    restored = restore(raw_s3(server), bucket, "big", first["VersionId"])
    assert sum(new_blobs(before, dirs)) < len(data)  # no copy of the object, on any node
    current = s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert current["VersionId"] == restored["version_id"] != first["VersionId"]
    assert (current["ETag"], current["ChecksumSHA256"]) == (first["ETag"], first["ChecksumSHA256"])
    assert (current["ContentType"], current["Metadata"], current["TagCount"]) == ("application/x-big", {"kept": "yes"}, 1)
    assert hashlib.md5(current["Body"].read()).digest() == hashlib.md5(data).digest()


def test_a_restored_multipart_version_keeps_its_etag_and_its_parts(request, server, s3, raw_s3):
    bucket, dirs = versioned(s3), data_dirs(request, server)
    parts = [body(5 * MIB, b"part one"), body(MIB + 3, b"part two")]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=n, Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]}
    )
    assert first["ETag"].endswith('-2"')
    s3.put_object(Bucket=bucket, Key="mp", Body=b"overwritten")
    before = blob_sizes(dirs)
    restored = restore(raw_s3(server), bucket, "mp", first["VersionId"])
    assert sum(new_blobs(before, dirs)) < len(parts[1])
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert (head["VersionId"], head["ETag"], head["ContentLength"]) == (restored["version_id"], first["ETag"], sum(map(len, parts)))
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert (second["PartsCount"], second["ContentLength"], second["Body"].read()) == (2, len(parts[1]), parts[1])


def test_a_batch_restore_copies_no_bytes_either(request, server, s3):
    bucket, dirs = versioned(s3), data_dirs(request, server)
    data = body(3 * MIB + 1, b"batch")
    first = s3.put_object(Bucket=bucket, Key="doc", Body=data)
    s3.delete_object(Bucket=bucket, Key="doc")
    before = blob_sizes(dirs)
    answer = batch(server, "restore", [{"bucket": bucket, "key": "doc", "version_id": first["VersionId"]}])
    assert answer["results"][0]["status"] == "ok", answer
    assert sum(new_blobs(before, dirs)) < len(data)
    current = s3.get_object(Bucket=bucket, Key="doc")
    assert current["ETag"] == first["ETag"] and current["Body"].read() == data


# Servers of this module's own that reclaim freed blobs at once and sweep every second.
SHORT_GRACE = {"WSGI_S3_RECLAIM_GRACE": "0", "WSGI_S3_SWEEP_INTERVAL": "1"}


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def swept(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[Path]]]:
    """(the S3 endpoint, the data directories holding its blobs) of servers with no reclaim grace."""
    base = tmp_path_factory.mktemp(f"swept-{request.param}")
    if request.param == "embedded":
        server = Server(base / "data", free_port(), env=dict(SHORT_GRACE))
        server.start()
        yield server, [server.data_dir]
        server.stop()
        return
    cluster = make_cluster(base)
    for node in cluster.nodes:
        node.env.update(SHORT_GRACE)
    cluster.start()
    yield cluster.gateway, [node.data_dir for node in cluster.nodes]
    cluster.stop()


def test_the_restored_version_outlives_the_original_and_the_blob_goes_with_the_last(swept, raw_s3):
    server, dirs = swept
    s3 = make_client(server.endpoint)
    try:
        bucket = versioned(s3)
        data, witness = body(4 * MIB + 11, b"outlives"), body(3333, b"witness")
        copies = len(dirs)  # a file on each owner: every node of the three-node cluster
        first = s3.put_object(Bucket=bucket, Key="k", Body=data)["VersionId"]
        gone = s3.put_object(Bucket=bucket, Key="witness", Body=witness)["VersionId"]
        restored = restore(raw_s3(server), bucket, "k", first)["version_id"]
        assert list(blob_sizes(dirs).values()).count(len(data)) == copies
        s3.delete_object(Bucket=bucket, Key="k", VersionId=first)
        s3.delete_object(Bucket=bucket, Key="witness", VersionId=gone)
        # Once the witness's blob is reclaimed, the sweeper has passed since the original's delete.
        wait_until(lambda: len(witness) not in blob_sizes(dirs).values(), "the sweeper reclaimed the witness")
        assert list(blob_sizes(dirs).values()).count(len(data)) == copies
        current = s3.get_object(Bucket=bucket, Key="k")
        assert current["VersionId"] == restored and current["Body"].read() == data
        s3.delete_object(Bucket=bucket, Key="k", VersionId=restored)
        wait_until(lambda: len(data) not in blob_sizes(dirs).values(), "the sweeper reclaimed the blob of both versions")
    finally:
        s3.close()
