"""The wire contract in-process: every storage error and every record survives the trip, and what
the wire may not carry is refused."""

from __future__ import annotations

import json

import pytest

from wsgi_s3.model import errors
from wsgi_s3.model.types import BucketInfo, ListEntry, ObjectMeta, ObjectTags, ObjectVersion, Part, Segment, StagedBlob, StoredPart, StoredVersion, Upload
from wsgi_s3.model.versions import StampedBucket, StampedDocument, VersionStamp
from wsgi_s3.node import protocol

BLOB = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    "error",
    [
        errors.NotFound("upload", "u-1"),
        errors.AlreadyExists("bucket", "b"),
        errors.NotEmpty("b"),
        errors.PreconditionFailed("k"),
        errors.Busy("locked for 10 s"),
        errors.Unavailable("staged blob gone"),
    ],
)
def test_every_storage_error_comes_back_as_itself(error):
    status, body = protocol.error_body(error)
    again = protocol.error_from(status, json.loads(json.dumps(body)))
    assert type(again) is type(error) and str(again) == str(error)
    assert (getattr(again, "what", None), getattr(again, "name", None)) == (getattr(error, "what", None), getattr(error, "name", None))


def test_other_answers_are_refusals_or_unavailability():
    refused = protocol.error_from(403, {"error": "403 Forbidden", "message": "wrong cluster token"})
    assert isinstance(refused, protocol.Refused) and refused.status == 403
    assert isinstance(protocol.error_from(502, None), errors.Unavailable)  # a proxy's page, not JSON
    assert isinstance(protocol.error_from(500, {"error": "InternalError"}), errors.Unavailable)


def test_records_survive_the_trip():
    meta = ObjectMeta("e-2", {"content-type": "a/b"}, {"k": "v"}, {"CRC32": "AAAA"}, "COMPOSITE", (5, 1), ("x", "y"))
    version = StoredVersion("b", "k/é", "v1", 7, 6, meta, False, False, "gw", segments=(Segment(BLOB, 5), Segment(BLOB, 1)))
    assert protocol.version_from(json.loads(json.dumps(protocol.version_json(version)))) == version
    entry = ListEntry("k", 7, "e", 6, ("CRC32",), "FULL_OBJECT", True)
    assert protocol.entry_from(protocol.entry_json(entry)) == entry
    bucket = BucketInfo("b", 1, "r", "o", "Enabled")
    assert protocol.bucket_from(json.loads(json.dumps(protocol.bucket_json(bucket)))) == bucket
    configs = {"lifecycle": StampedDocument("<rules/>", VersionStamp("", 6, "gw")), "tagging": StampedDocument(None, VersionStamp("", 7, "gw"))}
    state = StampedBucket.of(bucket, configs)
    assert protocol.bucket_state_from(json.loads(json.dumps(protocol.bucket_state_json(state)))) == state
    assert state.info.configs == {"lifecycle": "<rules/>"} and state.info.versioning == ""  # as the documents say
    upload = Upload("u", "b", "k", 3, meta, "CRC32")
    assert protocol.upload_from(protocol.upload_json(upload)) == upload
    part = StoredPart(2, "e", 5, 9, {"CRC32": "AAAA"}, blob_id=BLOB)
    assert protocol.stored_part_from(protocol.stored_part_json(part)) == part
    # A completion names a part without its blob (each node finds its own), and one that still
    # sends the blob id (a gateway of the release before) is understood.
    assert protocol.part_json(part) == protocol.part_json(Part.of(part)) and "blob_id" not in protocol.part_json(part)
    assert protocol.part_from(protocol.stored_part_json(part)) == protocol.part_from(protocol.part_json(part)) == Part.of(part)
    staged = StagedBlob(BLOB, 5, 123)
    assert protocol.staged_from(protocol.staged_json(staged)) == staged


@pytest.mark.parametrize("text", [None, "", " 1", "+1", "1_0", "١", "1.0", "-1", "9" * 5000, str(2**63)])
def test_numbers_are_ascii_digits_in_range(text):
    with pytest.raises(protocol.BadRequest):
        protocol.parse_uint(text, "n")


def test_numbers_and_flags():
    assert protocol.parse_uint("0", "n") == 0 and protocol.parse_uint(str(2**63 - 1), "n") == 2**63 - 1
    assert protocol.parse_uint("10", "n", 10) == 10
    with pytest.raises(protocol.BadRequest):
        protocol.parse_uint("11", "n", 10)
    assert protocol.parse_flag("1", "f") and not protocol.parse_flag("0", "f")
    with pytest.raises(protocol.BadRequest):
        protocol.parse_flag("true", "f")


@pytest.mark.parametrize("blob_id", ["../../etc/passwd", BLOB.upper(), BLOB + "0", BLOB[:-1] + "/", 12])
def test_blob_ids_are_exactly_what_the_store_makes(blob_id):
    with pytest.raises(protocol.BadRequest):
        protocol.staged_from({"blob_id": blob_id, "size": 1, "crc32": 0})


@pytest.mark.parametrize("size", [True, -1, 2**63, 1.0, "1"])
def test_record_fields_have_exact_types(size):
    with pytest.raises(protocol.BadRequest):
        protocol.staged_from({"blob_id": BLOB, "size": size, "crc32": 0})


def test_names_are_one_path_segment():
    assert protocol.path(protocol.OBJECT, bucket="b", key="../a/.?%") == "/v1/objects/b/%2E%2E%2Fa%2F%2E%3F%25"


def test_tags_survive_the_trip_and_a_peer_without_tags_sends_none():
    tags = ObjectTags("v1", 7, {"k": "v", "é": ""}, 9, "gw")
    assert protocol.tags_from(json.loads(json.dumps(protocol.tags_json(tags)))) == tags
    meta = ObjectMeta("e", tags={"a": "1"})
    assert protocol.meta_from(protocol.meta_json(meta)) == meta
    older = {name: value for name, value in protocol.meta_json(meta).items() if name != "tags"}
    assert protocol.meta_from(older).tags == {}
    with pytest.raises(protocol.BadRequest):
        protocol.tags_from({**protocol.tags_json(tags), "tags": {"k": 1}})


def test_configuration_documents_travel_with_their_stamp_and_a_document_needs_one():
    for config in (StampedDocument("Enabled", VersionStamp("", 5, "gw")), StampedDocument(None, VersionStamp("", 6, "gw")), None):
        assert protocol.config_from(json.loads(json.dumps(protocol.config_json(config)))) == config
    for bad in ({"document": "Enabled", "stamp": None}, {"document": "Enabled"}, {"stamp": None}, {"document": 1, "stamp": {"timestamp_ns": 5, "origin": "gw"}},
                {"document": None, "stamp": {"timestamp_ns": -1, "origin": "gw"}}):
        with pytest.raises(protocol.BadRequest):
            protocol.config_from(bad)


def test_a_share_names_its_source_by_its_identity_on_the_versions_key():
    meta = ObjectMeta(etag="e-2", part_sizes=(5, 3))
    source = StoredVersion("b", "k", "v1", 10, 8, meta, origin="gw", segments=(Segment("a" * 32, 5), Segment("b" * 32, 3)))
    version = ObjectVersion("b", "k", "v2", 20, 8, meta, origin="gw")
    sent = json.loads(json.dumps(protocol.share_json(source, version)))
    assert sent["source"] == {"version_id": "v1", "timestamp_ns": 10, "origin": "gw"}  # each node finds its own blobs of it
    assert sent["version"]["segments"] == []  # and gives them to the version itself
    named, shared = protocol.share_from(sent)
    assert (named.bucket, named.key, named.version_id, named.timestamp_ns, named.origin, shared) == ("b", "k", "v1", 10, "gw", StoredVersion.of(version))
    for wrong in ({**sent, "source": {"version_id": "v1", "timestamp_ns": "10", "origin": "gw"}}, {"version": sent["version"]}):
        with pytest.raises(protocol.BadRequest):
            protocol.share_from(wrong)
