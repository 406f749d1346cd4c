"""A write whose body fails its digest check (BodySource.finish() raises) leaves nothing visible:
no object, no new version, no part; and the error reaches the caller as raised."""

from __future__ import annotations

import pytest

from tests.contract.conftest import DigestMismatch, MemoryBody, get, put, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta

DATA = b"x" * 5000


def failing() -> MemoryBody:
    return MemoryBody(DATA, fail=DigestMismatch("content-md5 did not match"))


def test_a_failed_put_of_a_new_key_leaves_no_object(backend: Backend, bucket: str) -> None:
    body = failing()
    with pytest.raises(DigestMismatch, match="content-md5 did not match"):
        backend.put_object(bucket, "k", body, stamp())
    assert body.finished  # the body was read to its end and asked to verify: the failure came from there
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
    assert backend.list_objects(bucket, "", "", "", 1000).objects == []
    backend.delete_bucket(bucket)  # nothing half-written keeps the bucket from being empty


def test_a_failed_overwrite_leaves_the_old_object(backend: Backend, bucket: str) -> None:
    old = put(backend, bucket, "k", b"old bytes")
    with pytest.raises(DigestMismatch):
        backend.put_object(bucket, "k", failing(), stamp())
    found = backend.head_object(bucket, "k")
    assert (found.version_id, found.etag, found.size) == (old.version_id, old.etag, old.size)
    assert get(backend, bucket, "k") == b"old bytes"


def test_a_failed_conditional_put_leaves_no_object(backend: Backend, bucket: str) -> None:
    with pytest.raises(DigestMismatch):
        backend.put_object(bucket, "k", failing(), stamp(), if_none_match=True)
    put(backend, bucket, "k", b"now", if_none_match=True)  # the failed create did not take the key
    assert get(backend, bucket, "k") == b"now"


def test_a_failed_part_leaves_no_part_and_keeps_an_earlier_one(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", ObjectMeta(etag=""), "")
    kept = backend.upload_part(upload, 1, MemoryBody(b"good part"))
    for number in (1, 2):
        with pytest.raises(DigestMismatch):
            backend.upload_part(upload, number, failing())
    assert [(p.part_number, p.etag, p.size) for p in backend.list_parts(upload)] == [(1, kept.etag, 9)]
