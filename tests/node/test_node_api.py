"""The node API end to end: a real node process driven through NodeClient, every storage error
rebuilt as the class the node's Store raised."""

from __future__ import annotations

import io
import os
import time
import uuid
import zlib
from dataclasses import replace

import pytest

from tests.node.conftest import TOKEN
from wsgi_s3.cluster.node_client import NodeClient
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, ObjectVersion, Part, Segment, StagedBlob, StoredPart, StoredVersion, Upload
from wsgi_s3.model.versions import NULL_VERSION, StampedDocument, VersionStamp, new_version_id
from wsgi_s3.node import protocol


def version_of(bucket: str, key: str, staged: list[StagedBlob], *, stamp: int = 1000, version_id: str = NULL_VERSION) -> StoredVersion:
    meta = ObjectMeta(etag=uuid.uuid4().hex, content={"content-type": "text/plain"}, user_meta={"colour": "blue"})
    segments = tuple(Segment(blob.blob_id, blob.size) for blob in staged)
    return StoredVersion(bucket, key, version_id, stamp, sum(s.size for s in segments), meta, origin="gw-1", segments=segments)


def put(client: NodeClient, bucket: str, key: str, data: bytes, **options) -> ObjectVersion:
    staged = client.stage(io.BytesIO(data), len(data))
    return client.commit_version(version_of(bucket, key, [staged], **options))


def read_all(client: NodeClient, version: ObjectVersion, start: int, length: int) -> bytes:
    stream = client.read(version, start, length)
    try:
        return b"".join(iter(lambda: stream.read(7919), b""))
    finally:
        stream.close()


def test_bucket_records(client: NodeClient):
    name = "records-" + uuid.uuid4().hex[:8]
    created = client.create_bucket(name, "eu-west-1", "AKIAOWNER")
    assert (created.name, created.region, created.owner) == (name, "eu-west-1", "AKIAOWNER")
    assert client.get_bucket(name) == created
    assert name in [bucket.name for bucket in client.list_buckets()]
    with pytest.raises(errors.AlreadyExists) as exists:
        client.create_bucket(name, "eu-west-1", "AKIAOWNER")
    assert (exists.value.what, exists.value.name) == ("bucket", name)
    put(client, name, "k", b"x")
    with pytest.raises(errors.NotEmpty):
        client.delete_bucket(name)
    client.delete_version(name, "k", NULL_VERSION, time.time_ns(), "test")
    client.delete_bucket(name)
    with pytest.raises(errors.NotFound) as missing:
        client.get_bucket(name)
    assert (missing.value.what, missing.value.name) == ("bucket", name)


def test_bucket_configs(client: NodeClient, bucket: str):
    """A configuration document per kind travels with its stamp; the newest stamp wins whatever the
    arrival order; a removal is a stamped tombstone; a missing bucket is NotFound."""
    first, removal, last = (VersionStamp("", stamp, "gw-1") for stamp in (1000, 2000, 3000))
    assert client.get_bucket_config(bucket, "versioning") is None
    client.put_bucket_config(bucket, "versioning", "Enabled", first)
    assert client.get_bucket_config(bucket, "versioning") == StampedDocument("Enabled", first)
    assert client.get_bucket(bucket).versioning == "Enabled"
    client.put_bucket_config(bucket, "versioning", None, removal)
    client.put_bucket_config(bucket, "versioning", "Suspended", first)  # older: ignored
    assert client.get_bucket_config(bucket, "versioning") == StampedDocument(None, removal)
    assert client.bucket_configs(bucket) == {"versioning": StampedDocument(None, removal)}
    client.put_bucket_config(bucket, "versioning", "Suspended", last)
    assert client.get_bucket(bucket).versioning == "Suspended"
    with pytest.raises(errors.NotFound):
        client.put_bucket_config("missing-" + uuid.uuid4().hex[:8], "versioning", "Enabled", last)


def test_a_bucket_read_answers_the_record_with_every_stamped_configuration(client: NodeClient, bucket: str):
    """One GET of the bucket brings what a request needs of it: a gateway merges these kind by kind."""
    older, newer = VersionStamp("", 1000, "gw-1"), VersionStamp("", 2000, "gw-2")
    client.put_bucket_config(bucket, "lifecycle", '{"rules": []}', older)
    client.put_bucket_config(bucket, "version-policy", '{"max_versions": 3, "retention_days": 0}', older)
    client.put_bucket_config(bucket, "version-policy", None, newer)
    state = client.bucket_state(bucket)
    assert state.configs == {"lifecycle": StampedDocument('{"rules": []}', older), "version-policy": StampedDocument(None, newer)}
    assert state.info.configs == {"lifecycle": '{"rules": []}'}
    assert client.get_bucket(bucket) == state.info
    with pytest.raises(errors.NotFound) as missing:
        client.bucket_state("missing-" + uuid.uuid4().hex[:8])
    assert missing.value.what == "bucket"


def test_stage_commit_head_and_read_ranges(client: NodeClient, bucket: str):
    data = bytes(range(256)) * 4000
    staged = client.stage(io.BytesIO(data))  # chunked: no length given
    assert (staged.size, staged.crc32) == (len(data), zlib.crc32(data))
    # A key that a path would mangle: slashes, dots, a query mark, a percent sign, UTF-8, a trailing slash.
    key = "a/../b//c?d=%2F&é/"
    committed = client.commit_version(version_of(bucket, key, [staged]))
    assert committed.is_latest
    head = client.get_version(bucket, key)
    assert head == committed
    assert head.meta.user_meta == {"colour": "blue"} and head.meta.content == {"content-type": "text/plain"}
    assert client.get_version(bucket, key, NULL_VERSION) == committed
    assert read_all(client, head, 0, len(data)) == data
    assert read_all(client, head, 1000, 5) == data[1000:1005]
    assert read_all(client, head, len(data) - 1, 1) == data[-1:]
    assert read_all(client, head, len(data), 0) == b""
    with pytest.raises(protocol.Refused) as past_end:
        client.read(head, len(data) - 1, 2)
    assert past_end.value.status == 400
    with pytest.raises(errors.NotFound) as missing:
        client.get_version(bucket, "a/../b")
    assert (missing.value.what, missing.value.name) == ("key", "a/../b")
    with pytest.raises(errors.NotFound):
        client.get_version("no-such-bucket-" + uuid.uuid4().hex[:6], key)


def test_read_is_of_exactly_the_version_seen(client: NodeClient, bucket: str):
    old = put(client, bucket, "k", b"old bytes", stamp=1000)
    put(client, bucket, "k", b"new bytes", stamp=2000)  # the null version again, overwritten
    with pytest.raises(errors.NotFound) as gone:
        client.read(old, 0, 3)
    assert gone.value.what == "version"
    assert read_all(client, client.get_version(bucket, "k"), 0, 9) == b"new bytes"


def test_an_older_stamp_does_not_replace_a_newer_null_version(client: NodeClient, bucket: str):
    put(client, bucket, "k", b"newer", stamp=2000)
    lost = put(client, bucket, "k", b"older", stamp=1000)
    assert not lost.is_latest
    head = client.get_version(bucket, "k")
    assert head.timestamp_ns == 2000 and read_all(client, head, 0, 5) == b"newer"


def test_commit_conditions(client: NodeClient, bucket: str):
    first = client.commit_version(version_of(bucket, "c", [client.stage(io.BytesIO(b"1"), 1)], stamp=1000), if_none_match=True)
    with pytest.raises(errors.PreconditionFailed):
        client.commit_version(version_of(bucket, "c", [client.stage(io.BytesIO(b"2"), 1)], stamp=2000), if_none_match=True)
    with pytest.raises(errors.PreconditionFailed):
        client.commit_version(version_of(bucket, "c", [client.stage(io.BytesIO(b"2"), 1)], stamp=2000), if_match="not-the-etag")
    second = client.commit_version(version_of(bucket, "c", [client.stage(io.BytesIO(b"2"), 1)], stamp=2000), if_match=first.etag)
    assert client.get_version(bucket, "c") == second


def test_versions_and_delete(client: NodeClient, bucket: str):
    v1 = put(client, bucket, "v", b"one", stamp=1000, version_id=new_version_id(1000))
    v2 = put(client, bucket, "v", b"two", stamp=2000, version_id=new_version_id(2000))
    assert client.get_version(bucket, "v") == v2
    assert client.get_version(bucket, "v", v1.version_id).etag == v1.etag
    removed = client.delete_version(bucket, "v", v2.version_id, 3000, "test")
    assert removed is not None and removed.version_id == v2.version_id
    assert client.get_version(bucket, "v").version_id == v1.version_id  # the next newest is latest again
    assert client.delete_version(bucket, "v", v2.version_id, 3001, "test") is None
    # The tombstone outlives a replay of the write it deleted.
    put(client, bucket, "v", b"two", stamp=2000, version_id=v2.version_id)
    assert client.get_version(bucket, "v").version_id == v1.version_id
    assert client.delete_version(bucket, "v", v1.version_id, 500, "test") is None  # older than the write: kept
    assert client.get_version(bucket, "v").version_id == v1.version_id
    with pytest.raises(errors.NotFound) as missing:
        client.get_version(bucket, "v", v2.version_id)
    assert missing.value.what == "version"


def test_entries_in_key_order_after_a_marker_and_before_a_bound(client: NodeClient, bucket: str):
    keys = ["b", "a/1", "a/2", "c", "é", "a"]
    for stamp, key in enumerate(keys, 1):
        put(client, bucket, key, key.encode(), stamp=stamp)
    marker = StoredVersion(bucket, "c", NULL_VERSION, 99, 0, ObjectMeta(etag=""), delete_marker=True, origin="gw-1")
    client.commit_version(marker)
    everything = client.entries_after(bucket, "", False, None, 100)
    assert [entry.key for entry in everything] == ["a", "a/1", "a/2", "b", "c", "é"]  # UTF-8 byte order
    assert [entry.key for entry in everything if entry.delete_marker] == ["c"]
    assert everything[0].size == 1 and everything[0].timestamp_ns == 6
    assert [e.key for e in client.entries_after(bucket, "a/1", False, None, 100)] == ["a/2", "b", "c", "é"]
    assert [e.key for e in client.entries_after(bucket, "a/1", True, "b", 100)] == ["a/1", "a/2"]
    assert [e.key for e in client.entries_after(bucket, "", False, None, 2)] == ["a", "a/1"]
    assert client.entries_after(bucket, "", False, "", 100) == []  # an empty bound is a bound, not "none"


def test_a_staged_blob_is_invisible_until_committed(client: NodeClient, bucket: str):
    staged = client.stage(io.BytesIO(b"never committed"), 15)
    assert client.entries_after(bucket, "", False, None, 10) == []
    with pytest.raises(errors.NotFound):
        client.get_version(bucket, "k")
    client.discard([staged])
    # A discarded blob can no longer be committed: its file is gone.
    with pytest.raises(errors.Unavailable):
        client.commit_version(version_of(bucket, "k", [staged]))
    assert client.entries_after(bucket, "", False, None, 10) == []


def test_a_body_cut_short_is_not_staged(node, bucket: str):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    conn.putrequest("POST", protocol.BLOBS)
    conn.putheader("Authorization", "Bearer " + TOKEN)
    conn.putheader("Content-Length", "1000")
    conn.endheaders()
    conn.send(b"x" * 10)
    conn.sock.shutdown(1)  # the sender is gone after 10 of 1000 bytes
    response = conn.getresponse()
    assert response.status == 400, response.read()
    conn.close()


def test_multipart_upload_reads_across_parts(client: NodeClient, bucket: str):
    upload = Upload(uuid.uuid4().hex, bucket, "mp", 123, ObjectMeta(etag="", content={"content-type": "a/b"}), "CRC32")
    client.create_upload(upload)
    assert client.get_upload(bucket, "mp", upload.upload_id) == upload
    with pytest.raises(errors.NotFound) as wrong_key:
        client.get_upload(bucket, "other", upload.upload_id)
    assert wrong_key.value.what == "upload"
    assert client.list_uploads(bucket, "", "", 10) == [upload]
    bodies = {1: b"first part " * 1000, 2: b"second part " * 1000, 3: b"end"}
    parts = []
    for number, data in bodies.items():
        staged = client.stage(io.BytesIO(data), len(data))
        part = StoredPart(number, f"etag{number}", staged.size, 1000 + number, {"CRC32": "AAAAAA=="}, blob_id=staged.blob_id)
        client.put_part(upload.upload_id, part)
        parts.append(part)
    assert client.list_parts(upload.upload_id) == parts
    assert client.list_parts(upload.upload_id, after_part=1, limit=1) == parts[1:2]
    whole = b"".join(bodies.values())
    meta = ObjectMeta(etag="abc-3", part_sizes=tuple(len(b) for b in bodies.values()))
    version = ObjectVersion(bucket, "mp", NULL_VERSION, 5000, len(whole), meta, origin="gw-1")
    done = client.complete_upload(upload.upload_id, version, [Part.of(part) for part in parts])  # as a gateway names them
    assert len(done.segments) == 3 and done.meta.part_sizes == meta.part_sizes
    head = client.get_version(bucket, "mp")
    assert read_all(client, head, 0, len(whole)) == whole
    start = len(bodies[1]) - 5  # across all three segments
    assert read_all(client, head, start, len(whole) - start) == whole[start:]
    assert client.list_uploads(bucket, "", "", 10) == []
    with pytest.raises(errors.NotFound):
        client.get_upload(bucket, "mp", upload.upload_id)


def test_abort_and_a_part_of_an_unknown_upload(client: NodeClient, bucket: str):
    upload = Upload(uuid.uuid4().hex, bucket, "gone", 1, ObjectMeta(etag=""))
    client.create_upload(upload)
    client.abort_upload(bucket, "gone", upload.upload_id)
    with pytest.raises(errors.NotFound) as missing:
        client.abort_upload(bucket, "gone", upload.upload_id)
    assert missing.value.what == "upload"
    staged = client.stage(io.BytesIO(b"p"), 1)
    with pytest.raises(errors.NotFound):
        client.put_part(upload.upload_id, StoredPart(1, "e", 1, 1, blob_id=staged.blob_id))


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x"])
def test_a_missing_or_wrong_token_is_refused(node, bucket: str, token: str | None):
    intruder = NodeClient(node.endpoint, token or "", connect_timeout=2, read_timeout=10)
    if token is None:
        intruder.headers.clear()
    try:
        for call in (intruder.list_buckets, lambda: intruder.get_bucket(bucket), lambda: intruder.stage(io.BytesIO(b"x"), 1)):
            with pytest.raises(protocol.Refused) as refused:
                call()
            assert refused.value.status == (401 if token is None else 403)
    finally:
        intruder.close()


def test_records_from_the_wire_are_parsed_strictly(node, client: NodeClient, bucket: str):
    import json

    import urllib3

    def post(path: str, document: object) -> tuple[int, dict]:
        with urllib3.PoolManager(retries=False) as http:
            headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
            response = http.request("POST", node.endpoint + path, body=json.dumps(document).encode(), headers=headers)
            return response.status, response.json()

    good = protocol.version_json(version_of(bucket, "k", [client.stage(io.BytesIO(b"abc"), 3)]))
    bad_blob = {**good, "segments": [["../../../etc/passwd", 3]]}
    bad_size = {**good, "size": True}
    wrong_sum = {**good, "size": 4}
    for version in (bad_blob, bad_size, wrong_sum):
        status, answer = post(protocol.VERSIONS, {"version": version, "if_none_match": False, "if_match": None})
        assert (status, answer["error"]) == (400, "BadRequest"), version
    with pytest.raises(protocol.Refused):
        client.entries_after(bucket, "", False, None, 10**9)
    with pytest.raises(errors.NotFound):
        client.get_version(bucket, "k")  # nothing was committed


def test_unavailable_quickly_when_the_node_is_down(tmp_path):
    from tests.node.conftest import node_server

    server = node_server(tmp_path / "data")
    server.start()
    client = NodeClient(server.endpoint, TOKEN, connect_timeout=0.5, read_timeout=2)
    try:
        client.create_bucket("b", "us-east-1", "")
        version = put(client, "b", "k", b"bytes")
        server.kill()
        for call in (client.list_buckets, lambda: client.get_version("b", "k"), lambda: client.stage(io.BytesIO(b"x"), 1)):
            with pytest.raises(errors.Unavailable):
                call()
        server.start()  # the same port and data: the pool reconnects, the data is there
        assert read_all(client, client.get_version("b", "k"), 0, 5) == b"bytes" and version.size == 5
    finally:
        client.close()
        server.stop()


def test_a_node_killed_mid_stream_is_an_error_never_a_short_body(tmp_path):
    from tests.node.conftest import node_server

    server = node_server(tmp_path / "data")
    server.start()
    client = NodeClient(server.endpoint, TOKEN, connect_timeout=0.5, read_timeout=5)
    size = 64 << 20  # far more than loopback socket buffers hold, so most of it is still unsent at the kill
    try:
        client.create_bucket("b", "us-east-1", "")
        staged = client.stage(io.BytesIO(bytes(size)), size)
        version = client.commit_version(version_of("b", "k", [staged]))
        stream = client.read(version, 0, size)
        received = len(stream.read(1 << 20))
        server.kill()
        with pytest.raises(errors.Unavailable):
            while data := stream.read(1 << 20):
                received += len(data)
        assert received < size
        stream.close()
    finally:
        client.close()
        server.stop()


class FailingBody:
    """A body whose own check fails part-way, as a gateway's digest check does at EOF."""

    def __init__(self) -> None:
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        if self.sent >= 3 << 20:
            raise ValueError("bad digest")
        self.sent += 1 << 20
        return bytes(1 << 20)


def test_an_error_of_the_body_itself_propagates_and_nothing_is_staged(node, client: NodeClient, bucket: str):
    blobs = node.data_dir / "blobs"
    before = sorted(blobs.rglob("*"))
    with pytest.raises(ValueError, match="bad digest"):
        client.stage(FailingBody())
    assert client.list_buckets()  # the pool still works after the broken-off request
    assert client.entries_after(bucket, "", False, None, 10) == []
    assert sorted(blobs.rglob("*")) == before


def test_share_commits_a_version_over_the_nodes_own_blobs_of_its_source(node, client: NodeClient, bucket: str):
    source = put(client, bucket, "k", b"shared bytes", version_id="v1")

    def blob_files() -> int:
        return sum(len(names) for _, _, names in os.walk(node.data_dir / "blobs"))

    before = blob_files()
    # The node finds the source's blobs itself: the gateway names the source, never its blobs.
    named = ObjectVersion(bucket, "k", "v1", source.timestamp_ns, source.size, source.meta, origin=source.origin)
    shared = client.share_version(named, ObjectVersion(bucket, "k", "v2", 2000, source.size, source.meta, origin="gw-1"))
    assert (shared.version_id, shared.is_latest, shared.size, blob_files()) == ("v2", True, source.size, before)
    assert read_all(client, shared, 0, shared.size) == b"shared bytes"
    stale = ObjectVersion(bucket, "k", "v1", source.timestamp_ns + 1, source.size, source.meta, origin=source.origin)
    with pytest.raises(errors.NotFound):  # not the version this node holds under that id: this node misses the write
        client.share_version(stale, ObjectVersion(bucket, "k", "v3", 3000, source.size, source.meta))
    with pytest.raises(errors.NotFound):
        client.share_version(replace(named, bucket="no-such-bucket"), ObjectVersion("no-such-bucket", "k", "v3", 3000, 0, source.meta))
