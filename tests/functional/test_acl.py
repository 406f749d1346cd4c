"""ACLs until they are built: the owner's FULL_CONTROL is reported, the canned `private` accepted,
anything that would grant more refused with NotImplemented."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.clients.drivers import Endpoint, S3cmd
from tests.conftest import ACCESS_KEY

OWNER = {"ID": ACCESS_KEY, "DisplayName": ACCESS_KEY}
OWNER_ONLY = [{"Grantee": {**OWNER, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]


def _code(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"]


def test_get_acls_answer_the_owners_full_control(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for answer in (s3.get_bucket_acl(Bucket=bucket), s3.get_object_acl(Bucket=bucket, Key="k")):
        assert (answer["Owner"], answer["Grants"]) == (OWNER, OWNER_ONLY)
    assert _code(lambda: s3.get_object_acl(Bucket=bucket, Key="absent")) == "NoSuchKey"
    assert _code(lambda: s3.get_bucket_acl(Bucket="absent-bucket")) == "NoSuchBucket"


def test_canned_private_is_accepted_where_s3_takes_an_acl(s3, bucket):
    name = bucket + "-private"
    s3.create_bucket(Bucket=name, ACL="private")
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="private")
    s3.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "k"}, ACL="private")
    upload = s3.create_multipart_upload(Bucket=name, Key="mp", ACL="private")
    s3.abort_multipart_upload(Bucket=name, Key="mp", UploadId=upload["UploadId"])
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_object_acl(Bucket=name, Key="k", ACL="private")
    assert s3.get_object(Bucket=name, Key="copy")["Body"].read() == b"x"


@pytest.mark.parametrize("acl", [{"ACL": "public-read"}, {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}])
def test_more_than_private_is_not_implemented(s3, bucket, acl):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    calls = [
        lambda: s3.create_bucket(Bucket=bucket + "-public", **acl),
        lambda: s3.put_object(Bucket=bucket, Key="public", Body=b"x", **acl),
        lambda: s3.copy_object(Bucket=bucket, Key="public", CopySource={"Bucket": bucket, "Key": "k"}, **acl),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="public", **acl),
        lambda: s3.put_bucket_acl(Bucket=bucket, **acl),
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", **acl),
    ]
    assert [_code(call) for call in calls] == ["NotImplemented"] * len(calls)
    assert _code(lambda: s3.head_object(Bucket=bucket, Key="public")) == "404"
    assert _code(lambda: s3.head_bucket(Bucket=bucket + "-public")) == "404"


def test_acl_documents_are_not_implemented_and_an_unknown_canned_acl_is_invalid(s3, bucket, server, raw_s3):
    policy = s3.get_bucket_acl(Bucket=bucket)
    document = {"Owner": policy["Owner"], "Grants": policy["Grants"]}
    assert _code(lambda: s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=document)) == "NotImplemented"
    status, _, body = raw_s3(server).request("PUT", f"/{bucket}/k", body=b"x", headers={"x-amz-acl": "world-writable"})
    assert (status, b"<Code>InvalidArgument</Code>" in body) == (400, True)
    status, _, body = raw_s3(server).request("PUT", f"/{bucket}?acl")
    assert (status, b"<Code>MissingSecurityHeader</Code>" in body) == (400, True)


def test_s3cmd_info_and_cp(s3, bucket, server, tmp_path):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3cmd = S3cmd(Endpoint(server, None), tmp_path / "s3cmd", signature_v2=False)
    for target in (f"s3://{bucket}/k", f"s3://{bucket}"):
        out = s3cmd.s3cmd("info", target).stdout
        assert f"ACL:       {ACCESS_KEY}: FULL_CONTROL" in out, out
    # s3cmd cp reads the source's ACL and PUTs it as a document on the copy; it takes 501 as
    # "ACLs not supported" and the copy stands.
    s3cmd.s3cmd("cp", f"s3://{bucket}/k", f"s3://{bucket}/copy")
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"x"
