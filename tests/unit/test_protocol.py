"""Pure protocol pieces: ranges, conditionals, names, the route table, XML documents, SigV2 resources."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from wsgi_s3.s3 import errors, sigv2
from wsgi_s3.s3.conditions import NotModified, check_preconditions, parse_range
from wsgi_s3.s3.names import check_bucket_name, check_key, encode_key
from wsgi_s3.s3.operations import resolve
from wsgi_s3.s3.sigv4 import SignedRequest
from wsgi_s3.s3.xml import parse_complete_multipart, parse_delete, render


def NOW() -> datetime:
    return datetime.now(timezone.utc)


@pytest.mark.parametrize(
    ("header", "size", "span"),
    [(None, 10, None), ("bytes=0-0", 10, (0, 1)), ("bytes=9-", 10, (9, 1)), ("bytes=-1", 10, (9, 1)), ("bytes=3-2", 10, None), ("bytes=0-1,4-5", 10, None)],
)
def test_parse_range(header, size, span):
    assert parse_range(header, size) == span


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=-0", "bytes=10-11"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(errors.InvalidRange):
        parse_range(header, 10)


def test_preconditions_order():
    last_modified = 1_700_000_000 * 10**9
    check_preconditions({"if-match": '"abc"', "if-unmodified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}, "abc", last_modified)
    with pytest.raises(NotModified):
        check_preconditions({"if-none-match": '"abc"'}, "abc", last_modified)
    with pytest.raises(errors.PreconditionFailed):
        check_preconditions({"x-amz-copy-source-if-none-match": '"abc"'}, "abc", last_modified, prefix="x-amz-copy-source-")


def test_names():
    check_bucket_name("my.bucket-1")
    for bad in ("My", "a", "a" * 64, "1.2.3.4", "a..b"):
        with pytest.raises(errors.InvalidBucketName):
            check_bucket_name(bad)
    check_key("../../etc/passwd")
    with pytest.raises(errors.KeyTooLongError):
        check_key("k" * 1025)
    assert encode_key("a b/ü+", "url") == "a%20b/%C3%BC%2B"


@pytest.mark.parametrize(
    ("method", "bucket", "key", "query", "headers", "name"),
    [
        ("GET", None, None, {}, {}, "ListBuckets"),
        ("GET", "b", None, {"list-type": "2"}, {}, "ListObjectsV2"),
        ("GET", "b", None, {}, {}, "ListObjects"),
        ("POST", "b", None, {"delete": ""}, {}, "DeleteObjects"),
        ("PUT", "b", "k", {"uploadId": "u", "partNumber": "1"}, {"x-amz-copy-source": "/b/k"}, "UploadPartCopy"),
        ("PUT", "b", "k", {}, {"x-amz-copy-source": "/b/k"}, "CopyObject"),
        ("POST", "b", "k", {"uploads": ""}, {}, "CreateMultipartUpload"),
        ("DELETE", "b", "k", {"uploadId": "u"}, {}, "AbortMultipartUpload"),
        ("GET", "b", "k", {"tagging": ""}, {}, "GetObjectTagging"),
        ("PUT", "b", "k", {"tagging": ""}, {}, "PutObjectTagging"),
        ("DELETE", "b", "k", {"tagging": ""}, {}, "DeleteObjectTagging"),
        ("GET", "b", None, {"tagging": ""}, {}, "GetBucketTagging"),
        ("PUT", "b", None, {"tagging": ""}, {}, "PutBucketTagging"),
        ("DELETE", "b", None, {"tagging": ""}, {}, "DeleteBucketTagging"),
        ("GET", "b", "k", {"attributes": ""}, {}, "GetObjectAttributes"),
        ("GET", "b", None, {"acl": ""}, {}, "GetBucketAcl"),
        ("PUT", "b", None, {"acl": ""}, {}, "PutBucketAcl"),
        ("GET", "b", "k", {"acl": ""}, {}, "GetObjectAcl"),
        ("PUT", "b", "k", {"acl": ""}, {"x-amz-copy-source": "/b/k"}, "PutObjectAcl"),
    ],
)
def test_route_table(method, bucket, key, query, headers, name):
    assert resolve(method, bucket, key, query, headers).name == name


def test_unserved_subresources_are_not_mistaken_for_plain_requests():
    with pytest.raises(errors.NotImplemented_):
        resolve("PUT", "b", "k", {"retention": ""}, {})
    with pytest.raises(errors.NotImplemented_):
        resolve("POST", "b", "k", {"tagging": ""}, {})
    with pytest.raises(errors.NotImplemented_):
        resolve("GET", "b", None, {"policy": ""}, {})
    with pytest.raises(errors.NotImplemented_):
        resolve("PUT", "b", "k", {"attributes": ""}, {})
    with pytest.raises(errors.MethodNotAllowed):
        resolve("POST", "b", "k", {}, {})


def test_xml_documents():
    parts = parse_complete_multipart(
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><PartNumber>1</PartNumber>'
        b'<ETag>"abc"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>'
    )
    assert [(p.part_number, p.etag, p.checksums) for p in parts] == [(1, "abc", {"CRC32": "AAAAAA=="})]
    objects, quiet = parse_delete(b"<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key><VersionId>v</VersionId></Object></Delete>")
    assert quiet and objects[0].key == "a&b" and objects[0].version_id == "v"
    bomb = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><Delete><Object><Key>&b;</Key></Object></Delete>'
    with pytest.raises(errors.MalformedXML):
        parse_delete(bomb)
    assert render("R", [("A", "x<y"), ("B", [("C", 1)]), ("D", None), ("E", True)]).endswith(
        b'<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><A>x&lt;y</A><B><C>1</C></B><E>true</E></R>'
    )


@pytest.mark.parametrize("url", ["http://h/bucket/key%20x?uploadId=1&partNumber=2", "http://h/bucket?delete", "http://h/b/k?response-content-type=a%2Fb&other=1"])
def test_sigv2_string_to_sign_matches_botocore(url):
    request = AWSRequest(method="PUT", url=url, headers={"Content-Type": "text/plain", "x-amz-meta-a": "  b  c "})
    auth = HmacV1Auth(Credentials("AK", "SK"))
    auth.add_auth(request)
    split = urlsplit(url)
    signed = SignedRequest("PUT", split.path, parse_qsl(split.query, keep_blank_values=True), {k.lower(): v for k, v in request.headers.items()})
    assert sigv2.verify(signed, lambda key: "SK", NOW()) == "AK"


def test_sigv2_virtual_host_signs_the_bucket():
    request = AWSRequest(method="GET", url="http://bucket.s3.example/key")
    HmacV1Auth(Credentials("AK", "SK")).add_auth(request)  # botocore signs the path only, without auth_path
    signed = SignedRequest("GET", "/key", [], {k.lower(): v for k, v in request.headers.items()})
    assert sigv2.verify(signed, lambda key: "SK", NOW()) == "AK"
    with pytest.raises(errors.SignatureDoesNotMatch):
        sigv2.verify(signed, lambda key: "SK", NOW(), virtual_bucket="bucket")


def test_a_10000_part_completion_document_fits():
    from wsgi_s3.s3.xml import MAX_DOCUMENT_BYTES

    parts = "".join(
        f'<Part><PartNumber>{n}</PartNumber><ETag>"{n:032x}"</ETag><ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME></Part>'
        for n in range(1, 10001)
    )
    document = f'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{parts}</CompleteMultipartUpload>'.encode()
    assert len(document) < MAX_DOCUMENT_BYTES
    parsed = parse_complete_multipart(document)
    assert len(parsed) == 10000 and parsed[-1].part_number == 10000 and parsed[-1].checksums == {"CRC64NVME": "AAAAAAAAAAA="}
