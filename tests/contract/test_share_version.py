"""share_version: a new version of a key over the bytes of another of its versions (a restore),
with the meta given, on every kind of Backend."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.contract.conftest import MemoryBody, get, multipart_meta, read, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta

DATA = bytes(range(256)) * 40 + b"tail"


def versioned_put(backend: Backend, bucket: str, key: str, data: bytes, version_id: str):
    return backend.put_object(bucket, key, MemoryBody(data, user_meta={"n": version_id}), stamp(version_id))


def test_a_shared_version_is_the_new_latest_with_the_sources_bytes_and_meta(backend: Backend, bucket: str) -> None:
    first = versioned_put(backend, bucket, "k", DATA, "v1")
    versioned_put(backend, bucket, "k", b"second", "v2")
    meta = replace(first.meta, tags={"restored": "yes"})
    shared = backend.share_version(first, stamp("v3"), meta)
    assert (shared.version_id, shared.size, shared.etag, shared.is_latest) == ("v3", len(DATA), first.etag, True)
    found = backend.head_object(bucket, "k")
    assert (found.version_id, found.meta.user_meta, found.meta.tags) == ("v3", {"n": "v1"}, {"restored": "yes"})
    assert get(backend, bucket, "k") == DATA
    assert read(backend, found, 4000, 10) == DATA[4000:4010]


def test_the_shared_version_outlives_its_source(backend: Backend, bucket: str) -> None:
    first = versioned_put(backend, bucket, "k", DATA, "v1")
    backend.share_version(first, stamp("v2"), first.meta)
    backend.delete_version(bucket, "k", stamp("v1"))
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k", "v1")
    assert get(backend, bucket, "k") == DATA


def test_a_deleted_source_is_not_found(backend: Backend, bucket: str) -> None:
    first = versioned_put(backend, bucket, "k", DATA, "v1")
    backend.delete_version(bucket, "k", stamp("v1"))
    with pytest.raises(errors.NotFound):
        backend.share_version(first, stamp("v2"), first.meta)
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")


def test_the_null_version_shared_over_itself_keeps_its_bytes(backend: Backend, bucket: str) -> None:
    source = backend.put_object(bucket, "k", MemoryBody(DATA), stamp())
    shared = backend.share_version(source, stamp(), source.meta)
    assert shared.version_id == source.version_id and shared.timestamp_ns > source.timestamp_ns
    assert get(backend, bucket, "k") == DATA


def test_a_multipart_version_is_shared_with_its_parts(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "mp", ObjectMeta(etag=""), "")
    parts = [backend.upload_part(upload, number, MemoryBody(chunk)) for number, chunk in enumerate((DATA, b"second part"), start=1)]
    source = backend.complete_upload(upload, parts, multipart_meta(parts), stamp("v1"))
    shared = backend.share_version(source, stamp("v2"), source.meta)
    assert (shared.etag, shared.meta.part_sizes) == (source.etag, (len(DATA), 11))
    backend.delete_version(bucket, "mp", stamp("v1"))
    assert get(backend, bucket, "mp") == DATA + b"second part"
