"""A bucket that does not exist is NoSuchBucket (404) for every caller, as in S3, before any AccessDenied."""

from __future__ import annotations

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY, SECRET_KEY


def _code(call) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"]


def test_delete_object_in_a_missing_bucket_is_no_such_bucket_for_a_caller_without_delete(start_server, tmp_path):
    ini = tmp_path / "anonymous.ini"
    ini.write_text("[auth]\nallow_anonymous = true\n")
    server = start_server("--config", str(ini))
    owner = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name="us-east-1")
    owner.create_bucket(Bucket="present")
    anonymous = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", config=Config(signature_version=UNSIGNED))
    assert _code(lambda: anonymous.delete_object(Bucket="absent", Key="k")) == "NoSuchBucket"
    assert _code(lambda: anonymous.put_object(Bucket="absent", Key="k", Body=b"x")) == "NoSuchBucket"
    # The bucket exists: now the permission decides.
    assert _code(lambda: anonymous.delete_object(Bucket="present", Key="k")) == "AccessDenied"
