"""Put/GetBucketLifecycleConfiguration and DeleteBucketLifecycle through boto3, the seed's JSON
through plain signed HTTP, and x-amz-expiration on writes (PutObject, CopyObject,
CompleteMultipartUpload) and reads: on the embedded server and a cluster's gateway."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from botocore.exceptions import ClientError

RULES = [
    {
        "ID": "logs",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "1"}], "ObjectSizeGreaterThan": 1, "ObjectSizeLessThan": 100}},
        "Status": "Enabled",
        "Expiration": {"Days": 30},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2},
    },
    {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 2}},
    {"ID": "markers", "Filter": {}, "Status": "Disabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {"ID": "uploads", "Filter": {"Prefix": ""}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
    {"ID": "dated", "Filter": {"Prefix": "dated/"}, "Status": "Enabled", "Expiration": {"Date": datetime(2031, 2, 3, tzinfo=timezone.utc)}},
]


def code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_rules_are_kept_and_given_back_until_deleted(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(exc) == "NoSuchLifecycleConfiguration" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert got[0]["Filter"]["And"] == RULES[0]["Filter"]["And"]
    assert got[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 5, "NewerNoncurrentVersions": 2}
    assert [rule["ID"] for rule in got] == [rule["ID"] for rule in RULES]
    assert got[1]["Filter"] == {"Prefix": "tmp/"} and got[1]["Expiration"] == {"Days": 2}
    assert got[2]["Status"] == "Disabled" and got[2]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert got[3]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert got[4]["Expiration"]["Date"] == datetime(2031, 2, 3, tzinfo=timezone.utc)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code(exc) == "NoSuchLifecycleConfiguration"


def test_a_missing_bucket_is_named_first(s3):
    for call in (s3.get_bucket_lifecycle_configuration, s3.delete_bucket_lifecycle):
        with pytest.raises(ClientError) as exc:
            call(Bucket="no-such-bucket-lifecycle")
        assert code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(Bucket="no-such-bucket-lifecycle", LifecycleConfiguration={"Rules": RULES})
    assert code(exc) == "NoSuchBucket"


@pytest.mark.parametrize(
    "rules, expected",
    [
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 0}}], "InvalidArgument"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Date": datetime(2031, 1, 1, 5, tzinfo=timezone.utc)}}], "InvalidArgument"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}}] * 2, "InvalidArgument"),
        ([{"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled"}], "InvalidRequest"),
        ([{"ID": str(n), "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}} for n in range(1001)], "MalformedXML"),
        ([{"ID": "x", "Status": "Enabled", "Expiration": {"Days": 1}}], "MalformedXML"),
    ],
)
def test_invalid_rules_are_refused_as_s3_refuses_them(s3, bucket, rules, expected):
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert code(exc) == expected and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)  # nothing was stored


def test_xml_without_a_digest_is_refused_and_the_seeds_json_is_accepted(server, s3, bucket, raw_s3):
    client = raw_s3(server)
    xml = b"<LifecycleConfiguration><Rule><ID>a</ID><Prefix>p/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>"
    status, _, body = client.request("PUT", f"/{bucket}?lifecycle", xml)
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body
    md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
    assert client.request("PUT", f"/{bucket}?lifecycle", xml, {"Content-MD5": md5})[0] == 200
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Prefix"] == "p/"  # the legacy form, as sent
    seed = {"rules": [{"id": "expire-logs", "prefix": "logs/", "enabled": True, "expiration_days": 30}, {"id": "off", "prefix": "x/", "enabled": False, "expiration_days": 7}]}
    status, _, body = client.request("PUT", f"/{bucket}?lifecycle", json.dumps(seed).encode(), {"Content-Type": "application/json"})
    assert status == 200, body
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(r["ID"], r["Filter"], r["Status"], r["Expiration"]) for r in rules] == [
        ("expire-logs", {"Prefix": "logs/"}, "Enabled", {"Days": 30}),
        ("off", {"Prefix": "x/"}, "Disabled", {"Days": 7}),
    ]
    status, _, body = client.request("PUT", f"/{bucket}?lifecycle", b'{"rules": [{"id": "a", "expiration_days": 0}]}')
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body


def expiry(headers: dict) -> tuple[datetime, str]:
    match = re.fullmatch(r'expiry-date="([^"]+)", rule-id="([^"]+)"', headers["x-amz-expiration"])
    return parsedate_to_datetime(match.group(1)), match.group(2)


def test_objects_a_rule_will_expire_say_when(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    put = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"x")["ResponseMetadata"]["HTTPHeaders"]
    head = s3.head_object(Bucket=bucket, Key="tmp/a")
    created = head["LastModified"]
    expected = datetime.combine((created + timedelta(days=2)).date() + timedelta(days=1), datetime.min.time(), timezone.utc)
    assert expiry(put) == (expected, "tmp")
    assert expiry(head["ResponseMetadata"]["HTTPHeaders"]) == (expected, "tmp")
    assert head["Expiration"] == put["x-amz-expiration"]  # boto3 reads it too
    get = s3.get_object(Bucket=bucket, Key="tmp/a")
    assert expiry(get["ResponseMetadata"]["HTTPHeaders"]) == (expected, "tmp")
    s3.put_object(Bucket=bucket, Key="dated/a", Body=b"x")
    assert expiry(s3.head_object(Bucket=bucket, Key="dated/a")["ResponseMetadata"]["HTTPHeaders"]) == (
        datetime(2031, 2, 3, tzinfo=timezone.utc),
        "dated",
    )
    # No rule expires these: another prefix, or the rule's tags missing.
    for key in ("other", "logs/a"):
        assert "x-amz-expiration" not in s3.put_object(Bucket=bucket, Key=key, Body=b"xx")["ResponseMetadata"]["HTTPHeaders"]
        assert "Expiration" not in s3.head_object(Bucket=bucket, Key=key)
    # The rule of logs/ needs the tag a=1 (and a size between 1 and 100): written with it, or set later.
    tagged = s3.put_object(Bucket=bucket, Key="logs/tagged", Body=b"xx", Tagging="a=1")["ResponseMetadata"]["HTTPHeaders"]
    assert expiry(tagged)[1] == "logs"
    s3.put_object_tagging(Bucket=bucket, Key="logs/a", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert expiry(s3.head_object(Bucket=bucket, Key="logs/a")["ResponseMetadata"]["HTTPHeaders"])[1] == "logs"
    copied = s3.copy_object(Bucket=bucket, Key="tmp/copy", CopySource={"Bucket": bucket, "Key": "other"})
    assert expiry(copied["ResponseMetadata"]["HTTPHeaders"])[1] == "tmp"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="tmp/parts")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="tmp/parts", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    completed = s3.complete_multipart_upload(
        Bucket=bucket, Key="tmp/parts", UploadId=upload, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert expiry(completed["ResponseMetadata"]["HTTPHeaders"])[1] == "tmp" and completed["Expiration"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="tmp/v", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="tmp/v", Body=b"2")
    # A noncurrent version is not what Expiration expires: no header for it.
    assert "x-amz-expiration" not in s3.head_object(Bucket=bucket, Key="tmp/v", VersionId=first)["ResponseMetadata"]["HTTPHeaders"]

