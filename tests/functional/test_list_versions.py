"""ListObjectVersions (`GET /bucket?versions`) against real servers (embedded and a three-node
cluster's gateway): boto3's paginator over several keys and versions, delimiter, markers, url
encoding, the aws CLI's `s3api list-object-versions`, rclone's `--s3-versions`, and S3's errors over
plain HTTP."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.clients.drivers import Endpoint, Rclone


def enable(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def make_history(s3, bucket: str) -> list[tuple[str, str, bool, bool]]:
    """Writes and deletes; returns what S3 would list: (key, version id, is latest, is marker) in order."""
    made: dict[str, list[tuple[str, bool]]] = {}  # key -> (version id, is marker), oldest first
    s3.put_object(Bucket=bucket, Key="n", Body=b"before versioning")  # the null version
    made["n"] = [("null", False)]
    enable(s3, bucket)
    for key, count in [("a", 3), ("dir/x", 2), ("dir/y", 1), ("n", 1), ("z", 2)]:
        for n in range(count):
            made.setdefault(key, []).append((s3.put_object(Bucket=bucket, Key=key, Body=f"{key} {n}".encode())["VersionId"], False))
    made["dir/y"].append((s3.delete_object(Bucket=bucket, Key="dir/y")["VersionId"], True))
    gone = made["z"].pop(0)[0]
    s3.delete_object(Bucket=bucket, Key="z", VersionId=gone)  # deleted by id: never listed again
    listing = []
    for key in sorted(made, key=str.encode):
        listing += [(key, version_id, index == 0, marker) for index, (version_id, marker) in enumerate(reversed(made[key]))]
    return listing


def test_one_page_lists_every_version_and_marker_newest_first(s3, bucket):
    expected = make_history(s3, bucket)
    page = s3.list_object_versions(Bucket=bucket)
    assert page["IsTruncated"] is False and "NextKeyMarker" not in page
    versions = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in page["Versions"]]
    markers = [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in page["DeleteMarkers"]]
    assert versions == [entry for entry in expected if not entry[3]]
    assert markers == [entry for entry in expected if entry[3]] == [("dir/y", markers[0][1], True, True)]
    first = page["Versions"][0]
    assert (first["Key"], first["Size"], first["StorageClass"]) == ("a", 3, "STANDARD") and first["ETag"].startswith('"')
    assert page["DeleteMarkers"][0]["Owner"]["ID"]


@pytest.mark.parametrize("page_size", [1, 2, 3, 5])
def test_the_paginator_walks_every_version_once(s3, bucket, page_size):
    expected = make_history(s3, bucket)
    pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": page_size}))
    assert all(len(p.get("Versions", [])) + len(p.get("DeleteMarkers", [])) <= page_size for p in pages)
    assert len(pages) == -(-len(expected) // page_size)
    for page in pages[:-1]:
        assert page["IsTruncated"] and page["NextKeyMarker"] and page["NextVersionIdMarker"]
    # boto3 hands versions and delete markers in two lists: each in the listing's order, and
    # together, page after page, the whole listing exactly once.
    where = {entry[:2]: index for index, entry in enumerate(expected)}
    walked = []
    for page in pages:
        versions, markers = page.get("Versions", []), page.get("DeleteMarkers", [])
        for part in (versions, markers):
            assert [where[(e["Key"], e["VersionId"])] for e in part] == sorted(where[(e["Key"], e["VersionId"])] for e in part)
        walked += sorted(((e["Key"], e["VersionId"], e["IsLatest"], e in markers) for e in versions + markers), key=lambda e: where[e[:2]])
    assert walked == expected


def test_markers_resume_inside_a_keys_history_or_after_the_key(s3, bucket):
    expected = make_history(s3, bucket)
    a = [entry for entry in expected if entry[0] == "a"]
    inside = s3.list_object_versions(Bucket=bucket, KeyMarker="a", VersionIdMarker=a[0][1], MaxKeys=2)
    assert [(v["VersionId"], v["IsLatest"]) for v in inside["Versions"]] == [(a[1][1], False), (a[2][1], False)]
    assert (inside["IsTruncated"], inside["NextKeyMarker"], inside["NextVersionIdMarker"]) == (True, "a", a[2][1])
    after = s3.list_object_versions(Bucket=bucket, KeyMarker="a")
    assert after["KeyMarker"] == "a" and all(v["Key"] != "a" for v in after["Versions"])


def test_a_delimiter_rolls_keys_up_and_a_prefix_narrows(s3, bucket):
    make_history(s3, bucket)
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert page["CommonPrefixes"] == [{"Prefix": "dir/"}]
    assert {v["Key"] for v in page["Versions"]} == {"a", "n", "z"} and "DeleteMarkers" not in page
    inside = s3.list_object_versions(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [v["Key"] for v in inside["Versions"]] == ["dir/x", "dir/x", "dir/y"]
    assert [m["Key"] for m in inside["DeleteMarkers"]] == ["dir/y"]
    # A page that ends at a common prefix resumes after every key under it.
    first = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="a", MaxKeys=1)
    assert (first["CommonPrefixes"], first["NextKeyMarker"], first["IsTruncated"]) == ([{"Prefix": "dir/"}], "dir/", True)
    assert "NextVersionIdMarker" not in first
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="dir/")
    assert [v["Key"] for v in rest["Versions"]][:1] == ["n"]


def test_a_null_version_is_listed_with_its_id_at_its_place(s3, bucket):
    make_history(s3, bucket)
    n = s3.list_object_versions(Bucket=bucket, Prefix="n")["Versions"]
    assert [v["VersionId"] == "null" for v in n] == [False, True] and n[0]["IsLatest"]


def test_url_encoding_applies_to_keys_and_markers(s3, bucket, raw_s3, server):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="a b/é", Body=b"x")
    status, _, body = raw_s3(server).request("GET", f"/{bucket}?versions&encoding-type=url&key-marker=a%20a")
    assert status == 200
    assert b"<Key>a%20b/%C3%A9</Key>" in body and b"<KeyMarker>a%20a</KeyMarker>" in body and b"<EncodingType>url</EncodingType>" in body


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("versions&version-id-marker=null", "version-id-marker"),  # a version marker needs a key marker
        ("versions&key-marker=a&version-id-marker=not-an-id", "version-id-marker"),
        ("versions&max-keys=-1", "max-keys"),
        ("versions&encoding-type=base64", "encoding-type"),
    ],
)
def test_arguments_s3_refuses_are_invalid_argument(bucket, raw_s3, server, query, name):
    status, _, body = raw_s3(server).request("GET", f"/{bucket}?{query}")
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body and f"<ArgumentName>{name}</ArgumentName>".encode() in body, body


def test_versions_of_a_missing_bucket_is_no_such_bucket(s3):
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket="no-such-bucket-for-versions")
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"


def test_aws_cli_lists_versions_and_pages_through_them(s3, bucket, run_aws):
    expected = make_history(s3, bucket)
    result = json.loads(run_aws("s3api", "list-object-versions", "--bucket", bucket, "--page-size", "2").stdout)
    got = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in result["Versions"]]
    got += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in result["DeleteMarkers"]]
    assert sorted(got) == sorted(expected)
    a = [entry[1] for entry in expected if entry[0] == "a"]
    one = json.loads(run_aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "a", "--max-items", "1").stdout)
    assert [v["VersionId"] for v in one["Versions"]] == a[:1]
    rest = run_aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "a", "--starting-token", one["NextToken"]).stdout
    assert [v["VersionId"] for v in json.loads(rest)["Versions"]] == a[1:]


def test_rclone_with_s3_versions_sees_and_reads_old_versions(s3, bucket, server, tmp_path):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"old words")
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"new words!")
    rclone = Rclone(Endpoint(server, None), tmp_path / "home")
    listed = json.loads(rclone.rclone("lsjson", "--s3-versions", f"ws3:{bucket}").stdout)
    sizes = {entry["Name"]: entry["Size"] for entry in listed}
    old = [name for name in sizes if name != "doc.txt"]
    assert len(sizes) == 2 and sizes["doc.txt"] == 10 and len(old) == 1, sizes
    assert re.fullmatch(r"doc-v\d{4}-\d\d-\d\d-\d{6}-\d{3}\.txt", old[0]) and sizes[old[0]] == 9
    assert rclone.rclone("cat", "--s3-versions", f"ws3:{bucket}/{old[0]}").stdout == "old words"
