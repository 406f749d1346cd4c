"""ListObjects (v1) and ListObjectsV2 against a real embedded server."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

KEYS = sorted(
    [
        "a.txt",
        "b/1.txt",
        "b/2.txt",
        "b/c/3.txt",
        "d e/f+g.txt",
        "photos/2024/jan.jpg",
        "photos/2024/feb.jpg",
        "photos/2025/mar.jpg",
        "zebra",
        "ünïcode/ключ",
    ],
    key=lambda k: k.encode("utf-8"),
)


@pytest.fixture
def filled(s3, bucket):
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def all_pages_v2(s3, bucket, **params):
    keys, prefixes, pages = [], [], 0
    token = None
    while True:
        extra = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, **params, **extra)
        pages += 1
        assert page["KeyCount"] == len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            return keys, prefixes, pages
        token = page["NextContinuationToken"]


def test_v2_lists_in_utf8_byte_order_with_sizes_and_etags(s3, filled):
    page = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in page["Contents"]] == KEYS
    assert page["KeyCount"] == len(KEYS) and page["IsTruncated"] is False
    first = page["Contents"][0]
    assert first["Size"] == len(KEYS[0].encode()) and first["ETag"].startswith('"') and first["StorageClass"] == "STANDARD"
    assert "Owner" not in first


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_v2_pagination_visits_every_key_once(s3, filled, page_size):
    keys, _, pages = all_pages_v2(s3, filled, MaxKeys=page_size)
    assert keys == KEYS
    assert pages == -(-len(KEYS) // page_size)


def test_v2_delimiter_rolls_up_common_prefixes(s3, filled):
    keys, prefixes, _ = all_pages_v2(s3, filled, Delimiter="/")
    assert keys == ["a.txt", "zebra"]
    assert prefixes == ["b/", "d e/", "photos/", "ünïcode/"]
    keys, prefixes, _ = all_pages_v2(s3, filled, Delimiter="/", Prefix="photos/")
    assert keys == [] and prefixes == ["photos/2024/", "photos/2025/"]
    keys, prefixes, _ = all_pages_v2(s3, filled, Delimiter="/", Prefix="b/")
    assert keys == ["b/1.txt", "b/2.txt"] and prefixes == ["b/c/"]


@pytest.mark.parametrize("page_size", [1, 2])
def test_v2_delimiter_pagination_counts_prefixes_as_keys(s3, filled, page_size):
    keys, prefixes, pages = all_pages_v2(s3, filled, Delimiter="/", MaxKeys=page_size)
    assert keys == ["a.txt", "zebra"]
    assert prefixes == ["b/", "d e/", "photos/", "ünïcode/"]
    assert pages == -(-6 // page_size)


def test_v2_start_after_and_prefix(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, StartAfter="b/2.txt")
    assert [o["Key"] for o in page["Contents"]] == KEYS[KEYS.index("b/2.txt") + 1 :]
    assert page["StartAfter"] == "b/2.txt"
    page = s3.list_objects_v2(Bucket=filled, Prefix="photos/2024/")
    assert [o["Key"] for o in page["Contents"]] == ["photos/2024/feb.jpg", "photos/2024/jan.jpg"]
    assert s3.list_objects_v2(Bucket=filled, Prefix="nothing")["KeyCount"] == 0


def test_v2_fetch_owner(s3, filled):
    page = s3.list_objects_v2(Bucket=filled, FetchOwner=True, MaxKeys=1)
    assert page["Contents"][0]["Owner"]["ID"]


def test_v2_encoding_type_url(s3, filled):
    # Asked for by the caller, boto3 leaves url-encoded keys as the server sent them.
    page = s3.list_objects_v2(Bucket=filled, EncodingType="url", Prefix="d e/")
    assert [o["Key"] for o in page["Contents"]] == ["d%20e/f%2Bg.txt"]
    assert page["Prefix"] == "d%20e/"
    raw = {}
    s3.meta.events.register_first("after-call.s3.ListObjectsV2", lambda http_response, **_: raw.setdefault("body", http_response.content))
    s3.list_objects_v2(Bucket=filled, EncodingType="url", Prefix="ü")
    s3.meta.events.unregister("after-call.s3.ListObjectsV2")
    assert b"<Key>%C3%BCn%C3%AFcode/%D0%BA%D0%BB%D1%8E%D1%87</Key>" in raw["body"]
    assert unquote("%C3%BCn%C3%AFcode") == "ünïcode"


def test_max_keys_is_capped_at_1000(s3, bucket):
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert page["MaxKeys"] == 1000


def test_v1_marker_and_next_marker(s3, filled):
    page = s3.list_objects(Bucket=filled, MaxKeys=3)
    assert [o["Key"] for o in page["Contents"]] == KEYS[:3]
    assert page["IsTruncated"] is True
    assert "NextMarker" not in page  # only with a delimiter, as Amazon does
    rest = s3.list_objects(Bucket=filled, Marker=KEYS[2])
    assert [o["Key"] for o in rest["Contents"]] == KEYS[3:]
    with_delimiter = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert with_delimiter["IsTruncated"] and with_delimiter["NextMarker"] == "b/"
    after = s3.list_objects(Bucket=filled, Delimiter="/", Marker="b/")
    assert [o["Key"] for o in after.get("Contents", [])] == ["zebra"]
    assert [p["Prefix"] for p in after["CommonPrefixes"]] == ["d e/", "photos/", "ünïcode/"]
    owner = page["Contents"][0]["Owner"]
    assert owner["ID"]


def test_paginator_over_many_keys(s3, bucket):
    for index in range(120):
        s3.put_object(Bucket=bucket, Key=f"many/{index:04d}", Body=b"")
    paginator = s3.get_paginator("list_objects_v2")
    keys = [o["Key"] for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 50}) for o in page["Contents"]]
    assert keys == [f"many/{index:04d}" for index in range(120)]


def test_listing_a_missing_bucket(s3):
    with pytest.raises(Exception) as exc:
        s3.list_objects_v2(Bucket="no-such-bucket-for-listing")
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"
