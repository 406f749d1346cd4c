"""The management endpoints' pure parts: which requests they take, the presigned query (the same
signature botocore makes), the chunk plan, the JSON field parsers and the batch limits."""

from __future__ import annotations

from datetime import datetime, timezone
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wsgi_s3.gateway.extensions import ENDPOINTS, api, batch
from wsgi_s3.gateway.extensions.presign import presigned_query
from wsgi_s3.gateway.extensions.uploads import Plan
from wsgi_s3.model.types import Part
from wsgi_s3.s3 import errors, sigv4
from wsgi_s3.s3.sigv4 import SignedRequest

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WHEN = datetime(2026, 12, 1, 1, 2, 3, tzinfo=timezone.utc)
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    "method, path, query, headers, taken",
    [
        ("POST", "/batch", "", JSON, True),
        ("POST", "/presign", "", {}, True),  # curl -d without a type is the seed's own example
        ("POST", "/presign", "", {"content-type": "application/x-www-form-urlencoded"}, True),
        ("POST", "/concurrent-upload/initiate", "", {"content-type": "Application/JSON; charset=utf-8"}, True),
        ("POST", "/batch", "delete", JSON, False),  # DeleteObjects on a bucket called batch
        ("POST", "/concurrent-upload/initiate", "uploads", JSON, False),  # CreateMultipartUpload
        ("POST", "/batch", "", {"content-type": "multipart/form-data; boundary=x"}, False),  # a form upload
        ("GET", "/batch", "", JSON, False),
        ("PUT", "/presign", "", JSON, False),
        ("POST", "/batch/", "", JSON, False),
        ("POST", "/batch/key", "", JSON, False),
        ("POST", "/concurrent-upload", "", JSON, False),
    ],
)
def test_which_requests_the_endpoints_take(method, path, query, headers, taken):
    assert (api.find(ENDPOINTS, method, path, query, headers) is not None) is taken


@pytest.mark.parametrize("key", ["file.txt", "dir/a b+ü=&?~.txt", "%41"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_the_presigned_query_is_botocores(method, key):
    path = api.object_path("mybucket", key)
    ours = presigned_query(method, path, "s3.example.test:9000", ACCESS_KEY, SECRET, "us-east-1", 900, WHEN)
    request = AWSRequest(method=method, url=f"http://s3.example.test:9000{path}")
    with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN.replace(tzinfo=None)):
        S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1", expires=900).add_auth(request)
    assert sorted(parse_qsl(ours)) == sorted(parse_qsl(urlsplit(request.url).query))
    signed = SignedRequest(method, path, parse_qsl(ours), {"host": "s3.example.test:9000"})
    assert sigv4.verify(signed, {ACCESS_KEY: SECRET}.get, WHEN).access_key == ACCESS_KEY


def test_the_chunk_plan():
    plan = Plan(total_size=25, chunk_size=10)
    assert (plan.count, [plan.size(n) for n in (1, 2, 3)]) == (3, [10, 10, 5])
    assert (Plan(10, 10).count, Plan(1, 5 * 1024**3).count) == (1, 1)
    parts = [Part(1, "e", 10, 0), Part(2, "e", 7, 0), Part(3, "e", 5, 0), Part(4, "e", 5, 0)]
    # A part of the wrong size is still to upload; a part beyond the plan is not one of its chunks.
    assert sorted(plan.done(parts)) == [1, 3]


@pytest.mark.parametrize("value", [True, 1.0, "1", None, -1, 101])
def test_integers_are_json_integers_in_range(value):
    with pytest.raises(errors.InvalidArgument):
        api.integer({"n": value}, "n", minimum=0, maximum=100)


def test_fields_and_defaults():
    assert api.integer({}, "n", minimum=1, default=7) == 7
    assert api.text({"s": "x"}, "s") == "x" and api.text({}, "s", "") == ""
    assert api.flag({}, "f") is False
    for document, name in (({"s": ""}, "s"), ({"s": 3}, "s"), ({}, "s")):
        with pytest.raises(errors.InvalidArgument):
            api.text(document, name)
    with pytest.raises(errors.InvalidArgument):
        api.flag({"f": "true"}, "f")


def test_batch_items_and_their_limits():
    items = batch._items([{"bucket": "b", "key": "k"}, {"bucket": "b", "key": "k", "version_id": "v", "dest_key": "d"}])
    assert [(i.dest_bucket, i.dest_key, i.version_id) for i in items] == [("b", "k", None), ("b", "d", "v")]
    assert items[1].echo() == {"bucket": "b", "key": "k", "version_id": "v", "dest_bucket": "b", "dest_key": "d"}
    assert len(batch._items([{"bucket": "b", "key": "k"}] * 1000)) == 1000
    for entries in ([{"bucket": "b", "key": "k"}] * 1001, [], None, {"bucket": "b"}, ["k"], [{"bucket": "b", "key": "k", "version_id": 1}]):
        with pytest.raises(errors.InvalidArgument):
            batch._items(entries)
