"""The concurrent upload API against real servers (embedded and cluster), signed by botocore's SigV4
signer: a plan of chunks uploaded in parallel, one cut off halfway and one of the wrong size, the
progress that shows what is missing, the resumption that uploads only that, and a byte-exact object
assembled from the parts; the limits, the permission checks, abort, and a bucket called
`concurrent-upload` that is still a bucket."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from tests.functional import signed_http
from tests.functional.test_credentials import credentials_cli, eventually, issued, unique
from tests.functional.test_presign_api import post_json
from tests.functional.test_version_policy import history, put_policy

MIB = 1024 * 1024


def call(server, action: str, document: dict, **options) -> dict:
    status, answer = post_json(server, "/concurrent-upload/" + action, document, **options)
    assert status == 200, answer
    return answer


def target(chunk: dict) -> str:
    parts = urlsplit(chunk["url"])
    return f"{parts.path}?{parts.query}"


def put_chunk(server, chunk: dict, data: bytes) -> int:
    status, _, body = signed_http.request(server, "PUT", target(chunk), data[chunk["offset"] : chunk["offset"] + chunk["size"]])
    assert status == 200, body
    return status


def test_an_interrupted_upload_resumes_with_the_missing_chunks_only(server, s3, bucket, raw_s3):
    data = os.urandom(2 * 5 * MIB + 1234)
    plan = call(server, "initiate", {"bucket": bucket, "key": "videos/movie.mp4", "total_size": len(data), "chunk_size": 5 * MIB, "concurrency": 3, "content_type": "video/mp4"})
    assert (plan["bucket"], plan["key"], plan["total_size"], plan["chunk_size"], plan["concurrency"]) == (bucket, "videos/movie.mp4", len(data), 5 * MIB, 3)
    chunks = plan["chunks"]
    assert plan["chunks_total"] == 3 and [(c["part_number"], c["offset"], c["size"]) for c in chunks] == [(1, 0, 5 * MIB), (2, 5 * MIB, 5 * MIB), (3, 10 * MIB, 1234)]
    named = {"bucket": bucket, "key": "videos/movie.mp4", "upload_id": plan["upload_id"]}
    empty = call(server, "progress", named)
    assert (empty["chunks_done"], empty["bytes_done"], [c["part_number"] for c in empty["missing"]]) == (0, 0, [1, 2, 3])

    # Chunks 1 and 3 in parallel, chunk 1 twice (a retry); chunk 2's upload is cut off halfway.
    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(lambda chunk: put_chunk(server, chunk, data), [chunks[0], chunks[2], chunks[0]])) == [200, 200, 200]
    cut = raw_s3(server).start("PUT", target(chunks[1]), chunks[1]["size"])
    cut.send(data[5 * MIB : 5 * MIB + MIB])
    cut.close()
    halfway = call(server, "progress", named)
    assert (halfway["chunks_done"], halfway["bytes_done"]) == (2, 5 * MIB + 1234)
    assert halfway["missing"] == [chunks[1]]

    # A chunk of the wrong size does not count, and complete says what is missing.
    status, _, _ = signed_http.request(server, "PUT", target(chunks[1]), data[5 * MIB : 6 * MIB])
    assert status == 200
    assert call(server, "progress", named)["missing"] == [chunks[1]]
    status, body = post_json(server, "/concurrent-upload/complete", named)
    assert signed_http.error_code(status, body) == "InvalidPart" and b"part numbers 2" in body

    for chunk in halfway["missing"]:
        put_chunk(server, chunk, data)
    finished = call(server, "progress", named)
    assert (finished["chunks_done"], finished["bytes_done"], finished["missing"]) == (3, len(data), [])
    done = call(server, "complete", named)
    assert (done["size"], done["etag"].endswith("-3")) == (len(data), True)
    stored = s3.get_object(Bucket=bucket, Key="videos/movie.mp4")
    assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert (stored["ContentType"], stored["Metadata"], stored["ETag"]) == ("video/mp4", {}, f'"{done["etag"]}"')
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_one_chunk_and_a_version(server, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    data = b"x" * 1000
    plan = call(server, "initiate", {"bucket": bucket, "key": "small", "total_size": len(data), "chunk_size": 5 * MIB})
    assert plan["chunks_total"] == 1 and plan["chunks"][0]["size"] == 1000 and plan["concurrency"] == 4
    put_chunk(server, plan["chunks"][0], data)
    done = call(server, "complete", {"bucket": bucket, "key": "small", "upload_id": plan["upload_id"]})
    assert s3.get_object(Bucket=bucket, Key="small", VersionId=done["version_id"])["Body"].read() == data


def test_a_completed_upload_is_pruned_like_any_write_under_the_version_policy(server, s3, bucket, raw_s3):
    assert put_policy(raw_s3(server), bucket, {"enabled": True, "max_versions": 2, "retention_days": 0})[0] == 200
    written = [s3.put_object(Bucket=bucket, Key="k", Body=f"v{n}".encode())["VersionId"] for n in range(2)]
    plan = call(server, "initiate", {"bucket": bucket, "key": "k", "total_size": 10, "chunk_size": 5 * MIB})
    put_chunk(server, plan["chunks"][0], b"0123456789")
    done = call(server, "complete", {"bucket": bucket, "key": "k", "upload_id": plan["upload_id"]})
    assert history(s3, bucket, "k") == [done["version_id"], written[1]]


@pytest.mark.parametrize(
    "fields, argument",
    [
        ({"total_size": 20 * MIB, "chunk_size": MIB}, "chunk_size"),  # parts under S3's 5 MiB
        ({"total_size": 5 * 1024**4, "chunk_size": 5 * MIB}, "chunk_size"),  # more than 10,000 chunks
        ({"total_size": 0, "chunk_size": 5 * MIB}, "total_size"),
        ({"total_size": 5 * 1024**4 + 1, "chunk_size": 5 * 1024**3}, "total_size"),
        ({"total_size": 10, "chunk_size": 5 * 1024**3 + 1}, "chunk_size"),
        ({"chunk_size": 5 * MIB}, "total_size"),
        ({"total_size": "10", "chunk_size": 5 * MIB}, "total_size"),
        ({"total_size": 10, "chunk_size": 5 * MIB, "concurrency": 0}, "concurrency"),
        ({"total_size": 10, "chunk_size": 5 * MIB, "concurrency": 101}, "concurrency"),
        ({"total_size": 10, "chunk_size": 5 * MIB, "content_type": "text/plain\r\nX-Evil: 1"}, "content_type"),
    ],
)
def test_invalid_plans_are_refused(server, bucket, fields, argument):
    status, body = post_json(server, "/concurrent-upload/initiate", {"bucket": bucket, "key": "k", **fields})
    assert status == 400 and signed_http.error_code(status, body) == "InvalidArgument"
    assert f"<ArgumentName>{argument}</ArgumentName>".encode() in body


def test_unknown_uploads_buckets_and_plain_multipart_uploads(server, s3, bucket):
    status, body = post_json(server, "/concurrent-upload/initiate", {"bucket": "no-such-" + bucket, "key": "k", "total_size": 1, "chunk_size": 1})
    assert signed_http.error_code(status, body) == "NoSuchBucket"
    status, body = post_json(server, "/concurrent-upload/progress", {"bucket": bucket, "key": "k", "upload_id": "nope"})
    assert signed_http.error_code(status, body) == "NoSuchUpload"
    plain = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    status, body = post_json(server, "/concurrent-upload/progress", {"bucket": bucket, "key": "k", "upload_id": plain})
    assert signed_http.error_code(status, body) == "InvalidRequest"


def test_abort(server, s3, bucket):
    plan = call(server, "initiate", {"bucket": bucket, "key": "k", "total_size": 10, "chunk_size": 10})
    named = {"bucket": bucket, "key": "k", "upload_id": plan["upload_id"]}
    put_chunk(server, plan["chunks"][0], b"0123456789")
    assert call(server, "abort", named)["aborted"] is True
    status, body = post_json(server, "/concurrent-upload/progress", named)
    assert signed_http.error_code(status, body) == "NoSuchUpload"


def test_each_step_needs_the_permission_of_its_s3_request(server, s3, bucket):
    uploader = issued(credentials_cli(server, "create", unique("uploader"), "write", "--buckets", bucket, "--prefixes", "in/").stdout)
    document = {"bucket": bucket, "key": "in/a", "total_size": 10, "chunk_size": 10}
    assert eventually(lambda: post_json(server, "/concurrent-upload/initiate", document, keys=uploader)[0] == 200)
    plan = call(server, "initiate", document, keys=uploader)
    named = {"bucket": bucket, "key": "in/a", "upload_id": plan["upload_id"]}
    status, body = post_json(server, "/concurrent-upload/initiate", {**document, "key": "out/a"}, keys=uploader)
    assert signed_http.error_code(status, body) == "AccessDenied"  # outside its prefixes
    status, body = post_json(server, "/concurrent-upload/progress", named, keys=uploader)
    assert signed_http.error_code(status, body) == "AccessDenied"  # ListParts needs read
    status, body = post_json(server, "/concurrent-upload/abort", named, keys=uploader)
    assert signed_http.error_code(status, body) == "AccessDenied"  # AbortMultipartUpload needs delete
    put_chunk(server, plan["chunks"][0], b"0123456789")
    assert call(server, "complete", named, keys=uploader)["size"] == 10
    assert s3.get_object(Bucket=bucket, Key="in/a")["Body"].read() == b"0123456789"


def test_a_bucket_called_concurrent_upload_stays_a_bucket(server, s3):
    if "concurrent-upload" not in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="concurrent-upload")
    s3.put_object(Bucket="concurrent-upload", Key="initiate", Body=b"an object")
    assert s3.get_object(Bucket="concurrent-upload", Key="initiate")["Body"].read() == b"an object"
    # POST /concurrent-upload/initiate?uploads is S3's CreateMultipartUpload of the key "initiate".
    upload = s3.create_multipart_upload(Bucket="concurrent-upload", Key="initiate")["UploadId"]
    etag = s3.upload_part(Bucket="concurrent-upload", Key="initiate", UploadId=upload, PartNumber=1, Body=b"by parts")["ETag"]
    s3.complete_multipart_upload(Bucket="concurrent-upload", Key="initiate", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="concurrent-upload", Key="initiate")["Body"].read() == b"by parts"
