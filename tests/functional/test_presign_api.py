"""POST /presign against real servers (embedded and cluster): the URL it answers works with plain
urllib3 as it is for GET, PUT, HEAD and DELETE, expires, is capped at a week, carries exactly the
caller's permissions and scope; invalid input is a 400 S3 error; a bucket called `presign` is
still an ordinary bucket for S3 requests."""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3
from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY
from tests.functional import signed_http
from tests.functional.test_auth_schemes import hmac_headers
from tests.functional.test_credentials import credentials_cli, eventually, issued, unique

HTTP = urllib3.PoolManager(retries=False, timeout=60)


def post_json(server, path: str, document: object, *, keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY), signed_body: bool = False) -> tuple[int, object]:
    """A POST of a JSON document signed by botocore's SigV4 signer with `keys`, its payload signed
    (the body's SHA-256) or not: (status, the JSON answer or the bytes of an error document)."""
    body = json.dumps(document).encode() if not isinstance(document, bytes) else document
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    request = AWSRequest(method="POST", url=server.endpoint + path, data=body, headers=headers)
    PayloadSigner(keys, hashlib.sha256(body).hexdigest() if signed_body else "UNSIGNED-PAYLOAD").add_auth(request)
    response = HTTP.request("POST", server.endpoint + path, body=body, headers=dict(request.headers.items()))
    if response.headers.get("Content-Type") == "application/json":
        return response.status, json.loads(response.data)
    return response.status, response.data


class PayloadSigner(S3SigV4Auth):
    def __init__(self, keys: tuple[str, str], payload_hash: str) -> None:
        super().__init__(Credentials(*keys), "s3", REGION)
        self.payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self.payload_hash


def presign(server, bucket: str, key: str, operation: str, expires: int = 3600, **options) -> str:
    status, answer = post_json(server, "/presign", {"bucket": bucket, "key": key, "operation": operation, "expires": expires}, **options)
    assert status == 200, answer
    return answer["url"]


@pytest.mark.parametrize("key", ["report.pdf", "dir/a b+ü=&?.txt"])
def test_presigned_urls_work_as_they_are(server, s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"shared bytes")
    got = HTTP.request("GET", presign(server, bucket, key, "GET"))
    assert (got.status, got.data) == (200, b"shared bytes")
    head = HTTP.request("HEAD", presign(server, bucket, key, "HEAD"))
    assert head.status == 200 and head.headers["Content-Length"] == "12"
    put = HTTP.request("PUT", presign(server, bucket, key, "PUT"), body=b"replaced by the URL")
    assert put.status == 200, put.data
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"replaced by the URL"
    deleted = HTTP.request("DELETE", presign(server, bucket, key, "DELETE"))
    assert deleted.status == 204
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_a_url_does_one_operation_only(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = presign(server, bucket, "k", "GET")
    assert signed_http.error_code(*_status_data(HTTP.request("DELETE", url))) == "SignatureDoesNotMatch"
    other = url.replace(f"/{bucket}/k?", f"/{bucket}/other?")
    assert signed_http.error_code(*_status_data(HTTP.request("GET", other))) == "SignatureDoesNotMatch"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_a_url_expires(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = presign(server, bucket, "k", "GET", expires=1)
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["1"]

    def refused() -> bool:
        response = HTTP.request("GET", url)
        return response.status == 403 and b"Request has expired" in response.data

    assert eventually(refused, timeout=30)


def test_expires_is_capped_at_a_week(server, bucket):
    status, answer = post_json(server, "/presign", {"bucket": bucket, "key": "k", "operation": "GET", "expires": 10**9})
    assert status == 200 and answer["expires"] == 604800
    assert parse_qs(urlsplit(answer["url"]).query)["X-Amz-Expires"] == ["604800"]


@pytest.mark.parametrize(
    "document, code",
    [
        ({"bucket": "b-x", "key": "k", "operation": "POST", "expires": 60}, "InvalidArgument"),
        ({"bucket": "b-x", "key": "k", "operation": "get", "expires": 60}, "InvalidArgument"),
        ({"key": "k", "operation": "GET", "expires": 60}, "InvalidArgument"),
        ({"bucket": "b-x", "key": "", "operation": "GET", "expires": 60}, "InvalidArgument"),
        ({"bucket": "b-x", "key": "k", "operation": "GET", "expires": 0}, "InvalidArgument"),
        ({"bucket": "b-x", "key": "k", "operation": "GET", "expires": "3600"}, "InvalidArgument"),
        ({"bucket": "b-x", "key": "k", "operation": "GET", "expires": True}, "InvalidArgument"),
        ({"bucket": "B_X", "key": "k", "operation": "GET", "expires": 60}, "InvalidBucketName"),
        (b"{not json", "InvalidRequest"),
        (b"[1, 2]", "InvalidRequest"),
    ],
)
def test_invalid_input_is_a_400(server, document, code):
    status, body = post_json(server, "/presign", document)
    assert status == 400
    assert signed_http.error_code(status, body) == code


def test_the_body_is_verified_against_a_signed_payload_hash(server, bucket):
    status, answer = post_json(server, "/presign", {"bucket": bucket, "key": "k", "operation": "GET"}, signed_body=True)
    assert status == 200 and answer["expires"] == 3600
    document = json.dumps({"bucket": bucket, "key": "k", "operation": "GET"}).encode()
    headers = {"Content-Type": "application/json"}
    wrong = hashlib.sha256(document + b" ").hexdigest()
    status, _, body = signed_http.request(server, "POST", "/presign", document, headers, payload_hash=wrong)
    assert signed_http.error_code(status, body) == "XAmzContentSHA256Mismatch"


def test_unsigned_requests_are_refused(server, bucket):
    response = HTTP.request("POST", server.endpoint + "/presign", body=json.dumps({"bucket": bucket, "key": "k", "operation": "GET"}))
    assert signed_http.error_code(response.status, response.data) == "AccessDenied"


def test_a_scoped_key_presigns_only_within_its_scope(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared/doc", Body=b"in scope")
    s3.put_object(Bucket=bucket, Key="private/doc", Body=b"out of scope")
    keys = issued(credentials_cli(server, "create", unique("presigner"), "read", "--buckets", bucket, "--prefixes", "shared/").stdout)
    assert eventually(lambda: post_json(server, "/presign", {"bucket": bucket, "key": "shared/doc", "operation": "GET"}, keys=keys)[0] == 200)
    url = presign(server, bucket, "shared/doc", "GET", keys=keys)
    assert keys[0] in url and HTTP.request("GET", url).data == b"in scope"
    for document in (
        {"bucket": bucket, "key": "private/doc", "operation": "GET"},  # outside its prefixes
        {"bucket": bucket, "key": "shared/doc", "operation": "PUT"},  # no write permission
        {"bucket": bucket, "key": "shared/doc", "operation": "DELETE"},  # no delete permission
    ):
        status, body = post_json(server, "/presign", document, keys=keys)
        assert signed_http.error_code(status, body) == "AccessDenied"
    other = "other-" + uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=other)
    status, body = post_json(server, "/presign", {"bucket": other, "key": "shared/doc", "operation": "GET"}, keys=keys)
    assert signed_http.error_code(status, body) == "AccessDenied"  # outside its buckets


def test_a_bucket_called_presign_stays_a_bucket(server, s3):
    if "presign" not in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="presign")
    s3.put_object(Bucket="presign", Key="initiate", Body=b"an object")
    assert s3.get_object(Bucket="presign", Key="initiate")["Body"].read() == b"an object"
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket="presign")["Contents"]] == ["initiate"]
    # POST /presign?delete is S3's DeleteObjects: a query string is never the extension's.
    s3.delete_objects(Bucket="presign", Delete={"Objects": [{"Key": "initiate"}]})
    assert s3.list_objects_v2(Bucket="presign")["KeyCount"] == 0


def _status_data(response: urllib3.BaseHTTPResponse) -> tuple[int, bytes]:
    return response.status, response.data


def test_every_authentication_scheme_presigns_with_its_credential(server, s3, bucket):
    """SigV2, the seed's HMAC scheme and a bearer token lead to the same credential, whose key signs the URL."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"by any scheme")
    output = credentials_cli(server, "create", unique("schemes"), "read", "--token").stdout
    access_key, secret_key = issued(output)
    token = output.split("Bearer Token: ", 1)[1].split()[0]
    body = json.dumps({"bucket": bucket, "key": "k", "operation": "GET"}).encode()
    v2 = AWSRequest(method="POST", url=server.endpoint + "/presign", data=body, headers={"Content-Type": "application/json"})
    HmacV1Auth(Credentials(access_key, secret_key)).add_auth(v2)
    schemes = {
        "SigV2": lambda: dict(v2.headers.items()),
        "S3-HMAC-SHA256": lambda: {**hmac_headers(access_key, secret_key, "POST", "/presign"), "Content-Type": "application/json"},
        "Bearer": lambda: {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    }
    for scheme, headers in schemes.items():
        assert eventually(lambda: HTTP.request("POST", server.endpoint + "/presign", body=body, headers=headers()).status == 200), scheme
        url = json.loads(HTTP.request("POST", server.endpoint + "/presign", body=body, headers=headers()).data)["url"]
        assert f"X-Amz-Credential={access_key}%2F" in url
        assert HTTP.request("GET", url).data == b"by any scheme"
