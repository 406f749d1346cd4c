"""POST /batch against real servers (embedded and cluster), signed by botocore's SigV4 signer: delete
of 1,000 keys with some failing, copy, move and restore, dry runs, the limits refused as a whole,
every object checked as its own S3 request would be (scoped credentials included), and a bucket
called `batch` that is still a bucket."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.functional import signed_http
from tests.functional.test_credentials import credentials_cli, eventually, issued, unique
from tests.functional.test_presign_api import post_json


def keys_of(s3, bucket: str) -> list[str]:
    return [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for entry in page.get("Contents", [])]


def batch(server, operation: str, items: list[dict], **options) -> dict:
    status, answer = post_json(server, "/batch", {"operation": operation, "operations": items, "options": options})
    assert status == 200, answer
    return answer


def new_bucket(s3) -> str:
    name = "batch-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    return name


def test_delete_a_thousand_keys_some_failing(server, s3, bucket):
    keys = [f"logs/{index:04d}.log" for index in range(995)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    failing = [
        {"bucket": "no-such-bucket-" + uuid.uuid4().hex[:8], "key": "x"},
        {"bucket": bucket, "key": "k" * 1025},
        {"bucket": bucket, "key": "logs/0001.log", "version_id": "not-a-version"},
        {"bucket": "Not_A_Bucket", "key": "x"},
        {"bucket": bucket, "key": "logs/0002.log", "version_id": "00000000000000000001" + "0" * 16},  # no such version: nothing removed
    ]
    items = [{"bucket": bucket, "key": key} for key in keys[:500]] + failing + [{"bucket": bucket, "key": key} for key in keys[500:]]
    assert len(items) == 1000
    answer = batch(server, "delete", items, concurrency=50, dry_run=False)
    results = answer["results"]
    assert [(r["bucket"], r["key"]) for r in results] == [(i["bucket"], i["key"]) for i in items]
    codes = [(r["code"], bool(r["message"])) for r in results[500:504]]
    assert codes == [("NoSuchBucket", True), ("KeyTooLongError", True), ("InvalidArgument", True), ("NoSuchBucket", True)]
    assert results[504]["status"] == "ok"  # DeleteObject of a version nobody has is a success in S3 too
    assert all(r["status"] == "ok" for r in results[:500] + results[505:])
    assert answer["totals"] == {"requested": 1000, "succeeded": 996, "failed": 4}
    assert answer["operation"] == "delete" and answer["dry_run"] is False
    assert keys_of(s3, bucket) == []


def test_over_the_limits_is_refused_as_a_whole(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="kept", Body=b"v")
    one = {"bucket": bucket, "key": "kept"}
    for document, argument in [
        ({"operation": "delete", "operations": [one] * 1001}, "operations"),
        ({"operation": "delete", "operations": []}, "operations"),
        ({"operation": "delete", "operations": [one], "options": {"concurrency": 101}}, "concurrency"),
        ({"operation": "delete", "operations": [one], "options": {"concurrency": 0}}, "concurrency"),
        ({"operation": "delete", "operations": [one], "options": {"dry_run": "no"}}, "dry_run"),
        ({"operation": "purge", "operations": [one]}, "operation"),
        ({"operation": "delete", "operations": [one, "kept"]}, "operations[1]"),
        ({"operation": "delete", "operations": [{"bucket": bucket}]}, "key"),
    ]:
        status, body = post_json(server, "/batch", document)
        assert status == 400 and signed_http.error_code(status, body) == "InvalidArgument"
        assert f"<ArgumentName>{argument}</ArgumentName>".encode() in body
    assert b"at most 1000 operations; this one has 1001" in post_json(server, "/batch", {"operation": "delete", "operations": [one] * 1001})[1]
    assert keys_of(s3, bucket) == ["kept"]


def test_copy_move_and_dry_runs(server, s3, bucket):
    target = new_bucket(s3)
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=name, Body=f"body of {name}".encode(), ContentType="text/x-" + name, Metadata={"origin": name}, Tagging="t=" + name)
    planned = batch(server, "copy", [{"bucket": bucket, "key": "a", "dest_bucket": target}, {"bucket": bucket, "key": "missing", "dest_bucket": target}], dry_run=True)
    assert [r["status"] for r in planned["results"]] == ["ok", "error"] and planned["results"][1]["code"] == "NoSuchKey"
    assert planned["dry_run"] is True and keys_of(s3, target) == []

    copied = batch(server, "copy", [
        {"bucket": bucket, "key": "a", "dest_bucket": target},
        {"bucket": bucket, "key": "b", "dest_key": "b-copy"},
        {"bucket": bucket, "key": "c"},  # onto itself, nothing changed: refused as CopyObject would be
    ])
    assert [r["status"] for r in copied["results"]] == ["ok", "ok", "error"]
    assert copied["results"][2]["code"] == "InvalidRequest"
    head = s3.head_object(Bucket=target, Key="a")
    assert (head["ContentType"], head["Metadata"], head["ETag"]) == ("text/x-a", {"origin": "a"}, f'"{copied["results"][0]["etag"]}"')
    assert s3.get_object_tagging(Bucket=target, Key="a")["TagSet"] == [{"Key": "t", "Value": "a"}]
    assert s3.get_object(Bucket=bucket, Key="b-copy")["Body"].read() == b"body of b"

    dry = batch(server, "move", [{"bucket": bucket, "key": "c", "dest_bucket": target}], dry_run=True)
    assert dry["results"][0]["status"] == "ok" and sorted(keys_of(s3, bucket)) == ["a", "b", "b-copy", "c"]
    moved = batch(server, "move", [{"bucket": bucket, "key": "c", "dest_bucket": target, "dest_key": "moved/c"}])
    assert moved["results"][0]["status"] == "ok"
    assert s3.get_object(Bucket=target, Key="moved/c")["Body"].read() == b"body of c"
    assert "c" not in keys_of(s3, bucket)


def test_restore_makes_an_old_version_current(server, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"first draft", ContentType="text/plain")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"second draft")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    answer = batch(server, "restore", [
        {"bucket": bucket, "key": "doc", "version_id": first},
        {"bucket": bucket, "key": "doc"},
        {"bucket": bucket, "key": "doc", "version_id": marker},
    ])
    ok, unnamed, of_marker = answer["results"]
    assert ok["status"] == "ok" and ok["version_id"] not in (first, second, marker)
    assert (unnamed["code"], of_marker["code"]) == ("InvalidArgument", "MethodNotAllowed")
    current = s3.get_object(Bucket=bucket, Key="doc")
    assert (current["Body"].read(), current["ContentType"], current["VersionId"]) == (b"first draft", "text/plain", ok["version_id"])
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=second)["Body"].read() == b"second draft"


def test_each_object_is_checked_like_its_own_request(server, s3, bucket):
    other = new_bucket(s3)
    for key in ("mine/a", "mine/b", "theirs/x"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket=other, Key="mine/a", Body=b"other bucket")
    keys = issued(credentials_cli(server, "create", unique("batcher"), "read,write,delete", "--buckets", bucket, "--prefixes", "mine/").stdout)
    no_delete = issued(credentials_cli(server, "create", unique("copier"), "read,write", "--buckets", bucket).stdout)

    def run(credential, operation: str, items: list[dict]) -> list[str]:
        status, answer = post_json(server, "/batch", {"operation": operation, "operations": items}, keys=credential)
        assert status == 200, answer
        return [r.get("code", "ok") for r in answer["results"]]

    assert eventually(lambda: post_json(server, "/batch", {"operation": "copy", "operations": [{"bucket": bucket, "key": "mine/a", "dest_key": "mine/c"}]}, keys=keys)[0] == 200)
    assert eventually(lambda: post_json(server, "/batch", {"operation": "copy", "operations": [{"bucket": bucket, "key": "mine/a", "dest_key": "mine/d"}]}, keys=no_delete)[0] == 200)
    assert run(keys, "copy", [
        {"bucket": bucket, "key": "mine/a", "dest_key": "mine/e"},
        {"bucket": bucket, "key": "mine/a", "dest_key": "theirs/e"},  # destination outside its prefixes
        {"bucket": bucket, "key": "theirs/x", "dest_key": "mine/x"},  # source outside its prefixes
        {"bucket": other, "key": "mine/a"},  # another bucket
    ]) == ["ok", "AccessDenied", "AccessDenied", "AccessDenied"]
    assert run(no_delete, "delete", [{"bucket": bucket, "key": "mine/b"}]) == ["AccessDenied"]
    assert run(no_delete, "move", [{"bucket": bucket, "key": "mine/b", "dest_key": "mine/moved"}]) == ["AccessDenied"]
    assert run(keys, "move", [{"bucket": bucket, "key": "theirs/x", "dest_key": "mine/x"}, {"bucket": bucket, "key": "mine/b", "dest_key": "mine/moved"}]) == ["AccessDenied", "ok"]
    assert run(keys, "delete", [{"bucket": bucket, "key": "theirs/x"}, {"bucket": bucket, "key": "mine/e"}]) == ["AccessDenied", "ok"]
    assert sorted(keys_of(s3, bucket)) == ["mine/a", "mine/c", "mine/d", "mine/moved", "theirs/x"]
    assert keys_of(s3, other) == ["mine/a"]


def test_a_bucket_called_batch_stays_a_bucket(server, s3):
    if "batch" not in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="batch")
    s3.put_object(Bucket="batch", Key="report", Body=b"an object")
    assert s3.get_object(Bucket="batch", Key="report")["Body"].read() == b"an object"
    # A POST to /batch that is not JSON (a browser form upload) is an S3 request, which S3 does not serve there.
    body = b"--x\r\n\r\n--x--\r\n"
    status, _, answer = signed_http.request(server, "POST", "/batch", body, {"Content-Type": "multipart/form-data; boundary=x"})
    assert signed_http.error_code(status, answer) == "MethodNotAllowed"
    s3.delete_objects(Bucket="batch", Delete={"Objects": [{"Key": "report"}]})  # POST /batch?delete
    assert keys_of(s3, "batch") == []
    with pytest.raises(ClientError):
        s3.get_object(Bucket="batch", Key="report")


def test_unauthenticated_batches_are_refused(server, bucket):
    response = urllib3.request("POST", server.endpoint + "/batch", json={"operation": "delete", "operations": [{"bucket": bucket, "key": "k"}]})
    assert signed_http.error_code(response.status, response.data) == "AccessDenied"
