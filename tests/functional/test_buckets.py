"""Bucket operations and addressing styles through boto3 against a real embedded server."""

from __future__ import annotations

import hashlib
import uuid

import boto3
import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY, make_client
from wsgi_s3.gateway.auth import CredentialStore, generate_credential


def fresh_name() -> str:
    return "bkt-" + uuid.uuid4().hex[:12]


def test_create_list_head_delete(s3):
    name = fresh_name()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == "/" + name
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_create_twice_is_already_owned_by_you(s3):
    name = fresh_name()
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert exc.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_bucket_of_another_credential_already_exists(start_server, tmp_path):
    server = start_server()
    other = generate_credential()
    CredentialStore(str(server.data_dir / "credentials.json")).add(other)
    owner_client = make_client(server.endpoint)
    other_client = boto3.client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=other.access_key, aws_secret_access_key=other.secret_key, region_name="us-east-1"
    )
    owner_client.create_bucket(Bucket="shared-name")
    with pytest.raises(ClientError) as exc:
        other_client.create_bucket(Bucket="shared-name")
    assert exc.value.response["Error"]["Code"] == "BucketAlreadyExists"


def test_location_constraint_is_kept(s3):
    name = fresh_name()
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    default = fresh_name()
    s3.create_bucket(Bucket=default)
    assert s3.get_bucket_location(Bucket=default)["LocationConstraint"] is None


def test_delete_non_empty_bucket_is_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)


def test_delete_bucket_with_unfinished_upload_aborts_it(s3, bucket):
    s3.create_multipart_upload(Bucket=bucket, Key="pending")
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("name", ["ab", "UPPER", "a_b", "192.168.1.1", "-abc", "abc-", "a..b", "x" * 64, "xn--abc"])
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert exc.value.response["Error"]["Code"] == "InvalidBucketName"


def test_bucket_versioning_is_off_by_default(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


def signed_request(method: str, url: str, body: bytes = b"") -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    return request


def test_virtual_hosted_style(start_server):
    server = start_server("--domain", "s3.localhost")
    path_client = make_client(server.endpoint)
    path_client.create_bucket(Bucket="vhost-bucket")
    http = urllib3.PoolManager()
    # The host name need not resolve: connect to loopback and send the virtual host as Host.
    for method, body in (("PUT", b"virtual"), ("GET", b"")):
        signed = signed_request(method, f"http://vhost-bucket.s3.localhost:{server.port}/a/b%20c.txt", body)
        headers = {**signed.headers, "Host": f"vhost-bucket.s3.localhost:{server.port}"}
        response = http.request(method, f"{server.endpoint}/a/b%20c.txt", body=body or None, headers=headers)
        assert response.status == 200, response.data
    assert response.data == b"virtual"
    assert path_client.get_object(Bucket="vhost-bucket", Key="a/b c.txt")["Body"].read() == b"virtual"
