"""Signature Version 2 over plain HTTP: header- and query-signed requests as botocore's HmacV1 makes them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET

import pytest
import urllib3
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY, SECRET_KEY, make_client

HTTP = urllib3.PoolManager(retries=False)


def send(request: AWSRequest) -> urllib3.BaseHTTPResponse:
    prepared = request.prepare()
    return HTTP.request(prepared.method, prepared.url, body=prepared.body, headers=dict(prepared.headers))


def code(response: urllib3.BaseHTTPResponse) -> str:
    return ET.fromstring(response.data).findtext("Code")


def header_signed(method: str, url: str, body: bytes = b"", secret: str = SECRET_KEY, **headers: str) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    HmacV1Auth(Credentials(ACCESS_KEY, secret)).add_auth(request)
    return request


def query_signed(method: str, url: str, expires: int = 60) -> AWSRequest:
    request = AWSRequest(method=method, url=url)
    HmacV1QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), expires=expires).add_auth(request)
    return request


def test_header_signed_put_get_list(server, s3, bucket):
    url = f"{server.endpoint}/{bucket}/v2%20key.txt"
    put = send(header_signed("PUT", url, b"signed with v2", **{"Content-Type": "text/plain", "x-amz-meta-who": "s3cmd"}))
    assert put.status == 200, put.data
    got = send(header_signed("GET", url))
    assert got.status == 200 and got.data == b"signed with v2"
    assert got.headers["x-amz-meta-who"] == "s3cmd"
    listing = send(header_signed("GET", f"{server.endpoint}/{bucket}?list-type=2&prefix=v2"))
    assert listing.status == 200 and b"<Key>v2 key.txt</Key>" in listing.data
    uploads = send(header_signed("POST", f"{server.endpoint}/{bucket}/mp?uploads"))
    assert uploads.status == 200, uploads.data


def test_header_signed_with_wrong_secret_or_tampering(server, bucket):
    url = f"{server.endpoint}/{bucket}/k"
    wrong = send(header_signed("PUT", url, b"x", secret="not-the-secret"))
    assert wrong.status == 403 and code(wrong) == "SignatureDoesNotMatch"
    request = header_signed("PUT", url, b"x", **{"x-amz-meta-a": "1"})
    request.headers.replace_header("x-amz-meta-a", "2")
    assert code(send(request)) == "SignatureDoesNotMatch"


def test_old_date_is_request_time_too_skewed(server, bucket):
    # botocore always stamps the current Date, so this one request is signed by hand.
    old = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() - 3600))
    text = f"GET\n\n\n{old}\n/{bucket}"
    signature = base64.b64encode(hmac.new(SECRET_KEY.encode(), text.encode(), hashlib.sha1).digest()).decode()
    response = HTTP.request("GET", f"{server.endpoint}/{bucket}", headers={"Date": old, "Authorization": f"AWS {ACCESS_KEY}:{signature}"})
    assert response.status == 403 and code(response) == "RequestTimeTooSkewed"


def test_unknown_access_key(server, bucket):
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}")
    HmacV1Auth(Credentials("NOSUCHKEY0000000000", SECRET_KEY)).add_auth(request)
    response = send(request)
    assert response.status == 403 and code(response) == "InvalidAccessKeyId"


def test_query_signed_get_expired_and_tampered(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"presigned v2")
    url = f"{server.endpoint}/{bucket}/shared.txt"
    fresh = send(query_signed("GET", url))
    assert fresh.status == 200 and fresh.data == b"presigned v2"
    expired_request = query_signed("GET", url, expires=1)
    time.sleep(2)
    expired = send(expired_request)
    assert expired.status == 403 and code(expired) == "AccessDenied"
    prepared = query_signed("GET", url).prepare()
    tampered = HTTP.request("GET", prepared.url.replace("shared.txt", "other.txt"))
    assert tampered.status == 403 and code(tampered) == "SignatureDoesNotMatch"


def test_query_signed_put(server, s3, bucket):
    prepared = query_signed("PUT", f"{server.endpoint}/{bucket}/uploaded.txt").prepare()
    response = HTTP.request("PUT", prepared.url, body=b"via presigned v2 put")
    assert response.status == 200, response.data
    assert s3.get_object(Bucket=bucket, Key="uploaded.txt")["Body"].read() == b"via presigned v2 put"


@pytest.mark.parametrize("permissions", ["read"])
def test_v2_permissions_are_checked(start_server, permissions):
    from wsgi_s3.gateway.auth import Credential, CredentialStore, generate_credential

    server = start_server()
    make_client(server.endpoint).create_bucket(Bucket="readable")
    limited = generate_credential()
    CredentialStore(str(server.data_dir / "credentials.json")).add(Credential(limited.access_key, limited.secret_key, frozenset({permissions})))

    def v2(method: str, path: str) -> urllib3.BaseHTTPResponse:
        request = AWSRequest(method=method, url=f"{server.endpoint}{path}")
        HmacV1Auth(Credentials(limited.access_key, limited.secret_key)).add_auth(request)
        return send(request)

    # The same key is accepted for what it may do (so SigV2 really authenticated it) and refused the rest.
    allowed = v2("GET", "/readable?list-type=2")
    assert allowed.status == 200 and b"<Name>readable</Name>" in allowed.data
    refused = v2("PUT", "/some-bucket")
    assert refused.status == 403 and code(refused) == "AccessDenied"
