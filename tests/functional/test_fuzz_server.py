"""Property: whatever a correctly signing client puts in the query parameters, headers and XML documents
of real operations, the server never answers 5xx, and every error is a well-formed S3 <Error> with a Code.

The generator stays inside what reaches the application with a valid signature: malformed HTTP
(control characters in header values, bad request lines) and signature tampering are other tests'.
Derandomized, so every run tries the same examples.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.functional.signed_http import request

BUCKET = "fuzz-target"

# Text a client can send percent-encoded in a query or inside an XML document: any Unicode scalar value.
_CHAR = st.characters(blacklist_categories=("Cs",))
KEY = st.text(_CHAR, min_size=1, max_size=30)
_NUMBERISH = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet="0123456789²١٢+- _.xX", max_size=30),
    st.sampled_from(["9" * 5000, "18446744073709551616", "2147483648", "-0"]),
)
TEXT = st.one_of(st.text(_CHAR, max_size=40), _NUMBERISH, st.sampled_from(["", "null", "url", "2", "true", "bytes=0-1"]))
# Header values travel as UTF-8 without control characters: those (CR, LF, NUL...) are malformed
# HTTP, refused below the application, and belong to the HTTP layer's tests.
HEADER_TEXT = TEXT.filter(lambda value: value == value.strip() and not any(c < " " or "\x7f" <= c <= "\x9f" for c in value))

# Each operation with what it reads: (method, key or None for the bucket, fixed query, query
# parameters, headers, body: "" none, "xml" a document, "data" bytes). "{upload}" is the module's upload.
OPERATIONS = [
    ("GET", "ten", "", ["partNumber", "versionId"], ["Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "x-amz-checksum-mode"], ""),
    ("HEAD", "ten", "", ["partNumber", "versionId"], ["Range", "If-Match", "If-Modified-Since"], ""),
    ("GET", "ten", "tagging=", ["versionId"], [], ""),
    ("GET", None, "", ["max-keys", "prefix", "delimiter", "marker", "encoding-type"], [], ""),
    ("GET", None, "list-type=2", ["max-keys", "prefix", "delimiter", "start-after", "continuation-token", "fetch-owner", "encoding-type"], [], ""),
    ("GET", None, "uploads=", ["max-uploads", "prefix", "delimiter", "key-marker", "upload-id-marker", "encoding-type"], [], ""),
    ("GET", "mp", "uploadId={upload}", ["max-parts", "part-number-marker"], [], ""),
    ("PUT", "mp", "uploadId={upload}", ["partNumber"], ["Content-MD5", "x-amz-checksum-crc32"], "data"),
    ("PUT", "mp", "uploadId={upload}", ["partNumber"], ["x-amz-copy-source", "x-amz-copy-source-range", "x-amz-copy-source-if-match"], ""),
    ("POST", "mp", "uploadId={upload}", [], ["x-amz-checksum-crc32"], "xml"),
    ("POST", "new", "uploads=", [], ["x-amz-checksum-algorithm", "x-amz-checksum-type"], ""),
    ("POST", None, "delete=", [], [], "xml"),
    ("PUT", "put", "", [], ["Content-MD5", "x-amz-checksum-crc32", "x-amz-checksum-algorithm", "If-None-Match", "If-Match", "x-amz-storage-class"], "data"),
    ("PUT", "copy", "", [], ["x-amz-copy-source", "x-amz-metadata-directive", "x-amz-checksum-algorithm", "x-amz-copy-source-if-modified-since"], ""),
    ("DELETE", "gone", "", ["versionId"], [], ""),
    ("GET", None, "location=", [], [], ""),
    ("GET", KEY, "", ["versionId"], ["Range"], ""),
    ("PUT", KEY, "", [], ["x-amz-meta-fuzz"], "data"),
    ("DELETE", KEY, "", [], [], ""),
    ("GET", None, "versioning=", [], [], ""),
    ("PUT", "ten", "tagging=", ["versionId"], ["x-amz-checksum-crc32"], "xml"),
    ("DELETE", "ten", "tagging=", ["versionId"], [], ""),
    ("PUT", None, "tagging=", [], [], "xml"),
    ("PUT", "put", "", [], ["x-amz-tagging"], "data"),
    ("PUT", "copy", "", [], ["x-amz-copy-source", "x-amz-tagging-directive", "x-amz-tagging"], ""),
]
# CreateBucket goes to a bucket of its own: the document's LocationConstraint is checked before the name exists or not.
CREATE_BUCKET = ("PUT", None, "", [], [], "xml")


def _element(tag: str, inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return inner.map(lambda text: f"<{tag}>{text}</{tag}>")


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


_XML_TEXT = TEXT.map(_escaped)
_PART = st.tuples(_XML_TEXT, _XML_TEXT).map(lambda p: f"<Part><PartNumber>{p[0]}</PartNumber><ETag>{p[1]}</ETag></Part>")
_OBJECT = st.tuples(_XML_TEXT, st.none() | _XML_TEXT).map(
    lambda o: f"<Object><Key>{o[0]}</Key>" + ("" if o[1] is None else f"<VersionId>{o[1]}</VersionId>") + "</Object>"
)
DOCUMENTS = st.one_of(
    st.lists(_PART, max_size=4).map(lambda parts: "<CompleteMultipartUpload>" + "".join(parts) + "</CompleteMultipartUpload>"),
    st.tuples(st.lists(_OBJECT, max_size=4), _XML_TEXT).map(lambda d: "<Delete>" + "".join(d[0]) + f"<Quiet>{d[1]}</Quiet></Delete>"),
    _element("LocationConstraint", _XML_TEXT).map(lambda c: f"<CreateBucketConfiguration>{c}</CreateBucketConfiguration>"),
    st.text(_CHAR, max_size=60),
    st.lists(st.tuples(_XML_TEXT, _XML_TEXT), max_size=12).map(
        lambda tags: "<Tagging><TagSet>" + "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags) + "</TagSet></Tagging>"
    ),
).map(str.encode)


@st.composite
def requests(draw) -> tuple[str, str, dict[str, str], bytes, str]:
    """(method, target, headers, body, payload hash) of a signed request to a real operation."""
    method, key, fixed, names, header_names, body_kind = draw(st.sampled_from([*OPERATIONS, CREATE_BUCKET]))
    bucket = "fuzz-created" if (method, key, fixed) == ("PUT", None, "") else BUCKET
    if isinstance(key, st.SearchStrategy):
        key = draw(key.filter(lambda k: k != "ten"))
    params = [(name, draw(TEXT)) for name in names if draw(st.booleans())]
    query = "&".join([fixed] * bool(fixed) + [f"{name}={quote(value, safe='-_.~')}" for name, value in params])
    headers = {name: draw(HEADER_TEXT) for name in header_names if draw(st.booleans())}
    if "x-amz-copy-source" in headers and draw(st.booleans()):
        headers["x-amz-copy-source"] = f"/{BUCKET}/ten?versionId={quote(headers['x-amz-copy-source'], safe='')}"
    body, payload_hash = b"", "UNSIGNED-PAYLOAD"
    if body_kind == "xml":
        body = draw(DOCUMENTS)
    elif body_kind == "data":
        body = draw(st.binary(max_size=64))
        if draw(st.booleans()):
            # An aws-chunked body whose framing and decoded length are generated too.
            size, decoded = draw(st.integers(0, 2**40)), draw(HEADER_TEXT)
            body = b"%x\r\n" % size + body + b"\r\n0\r\n\r\n"
            headers.update({"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": decoded})
            payload_hash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    if fixed in ("delete=", "tagging="):
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    path = f"/{bucket}/{quote(key, safe='/-_.~')}" if key else f"/{bucket}"
    target = path + ("?" + query if query else "")
    # Over-long request lines and header fields are refused below the application (the HTTP layer's tests).
    assume(len(target) < 8000 and all(len(value) < 6000 for value in headers.values()))
    return method, target, headers, body, payload_hash


@pytest.fixture(scope="module")
def target(server):
    from tests.conftest import make_client

    client = make_client(server.endpoint)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="ten", Body=b"0123456789")
    upload_id = client.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    client.upload_part(Bucket=BUCKET, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part one")
    yield server, upload_id
    client.close()


@settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=requests())
def test_no_generated_request_is_a_server_error(target, case):
    (server, upload_id), (method, path, headers, body, payload_hash) = target, case
    status, _, answer = request(server, method, path.replace("{upload}", upload_id), body, headers, payload_hash)
    if status >= 400 and method != "HEAD":
        root = ET.fromstring(answer)
        assert root.tag == "Error" and root.findtext("Code"), answer[:500]
    # 501 NotImplemented is S3's deliberate answer for a sub-resource the server does not serve.
    assert status < 500 or (status == 501 and method != "HEAD" and root.findtext("Code") == "NotImplemented"), (status, answer[:500])
