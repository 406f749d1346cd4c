"""Multipart uploads: create, parts (a part number uploaded again replaces the first), list_parts
pages, complete with some of the parts in order, abort, list_uploads pages.

Part sizes are S3's business above the seam (the gateway checks the 5 MiB minimum), so parts here
are a few bytes."""

from __future__ import annotations

import hashlib

import pytest

from tests.contract.conftest import MemoryBody, get, multipart_meta, put, read, stamp
from wsgi_s3.backend.base import Backend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectMeta, Upload

CREATED = ObjectMeta(etag="", content={"content-type": "text/plain"}, user_meta={"origin": "contract"})
PARTS = {1: b"one-" * 3, 2: b"two-" * 5, 3: b"three-" * 2, 4: b"four"}


def upload_parts(backend: Backend, upload: Upload, numbers: list[int]) -> None:
    for number in numbers:
        backend.upload_part(upload, number, MemoryBody(PARTS[number]))


def test_a_created_upload_is_found_as_created(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "CRC32")
    assert (upload.bucket, upload.key, upload.meta, upload.checksum_algorithm) == (bucket, "k", CREATED, "CRC32")
    assert backend.get_upload(bucket, "k", upload.upload_id) == upload
    assert backend.list_parts(upload) == []


def test_parts_are_listed_in_number_order_with_their_etag_and_size(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [3, 1, 2])
    listed = backend.list_parts(upload)
    assert [(p.part_number, p.etag, p.size) for p in listed] == [
        (n, hashlib.md5(PARTS[n]).hexdigest(), len(PARTS[n])) for n in (1, 2, 3)
    ]


def test_list_parts_pages_by_part_number(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1, 2, 3, 4])
    assert [p.part_number for p in backend.list_parts(upload, 0, 2)] == [1, 2]
    assert [p.part_number for p in backend.list_parts(upload, 2, 2)] == [3, 4]
    assert backend.list_parts(upload, 4, 2) == []


def test_a_part_uploaded_again_replaces_the_first(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    first = backend.upload_part(upload, 1, MemoryBody(b"first body"))
    second = backend.upload_part(upload, 1, MemoryBody(b"second"))
    assert [(p.part_number, p.etag, p.size) for p in backend.list_parts(upload)] == [(1, second.etag, 6)]
    with pytest.raises(errors.NotFound) as raised:  # the replaced part is no longer there to complete with
        backend.complete_upload(upload, [first], multipart_meta([first]), stamp())
    assert raised.value.what == "part"
    backend.complete_upload(upload, [second], multipart_meta([second]), stamp())
    assert get(backend, bucket, "k") == b"second"


def test_completing_with_some_parts_makes_exactly_their_bytes_visible(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1, 2, 3, 4])
    chosen = [p for p in backend.list_parts(upload) if p.part_number in (1, 3, 4)]
    meta = multipart_meta(chosen)
    version = backend.complete_upload(upload, chosen, meta, stamp())
    expected = PARTS[1] + PARTS[3] + PARTS[4]
    found = backend.head_object(bucket, "k")
    assert (found.size, found.etag, found.meta.part_sizes) == (len(expected), meta.etag, (12, 12, 4))
    assert found.etag.endswith("-3") and found.version_id == version.version_id
    assert get(backend, bucket, "k") == expected
    for start, length in [(10, 4), (11, 14), (0, len(expected)), (len(expected) - 5, 5), (12, 12)]:  # across part boundaries
        assert read(backend, found, start, length) == expected[start : start + length]


def test_a_completed_upload_is_gone_and_replaces_the_object_at_its_key(backend: Backend, bucket: str) -> None:
    put(backend, bucket, "k", b"before")
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1])
    parts = backend.list_parts(upload)
    backend.complete_upload(upload, parts, multipart_meta(parts), stamp())
    assert get(backend, bucket, "k") == PARTS[1]
    with pytest.raises(errors.NotFound) as raised:
        backend.get_upload(bucket, "k", upload.upload_id)
    assert raised.value.what == "upload"
    assert backend.list_uploads(bucket, "", "", 1000) == []


def test_completing_with_a_part_never_uploaded_is_not_found_part_and_changes_nothing(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1, 2])
    parts = backend.list_parts(upload)
    ghost = backend.upload_part(upload, 3, MemoryBody(PARTS[3]))
    backend.upload_part(upload, 3, MemoryBody(b"other"))  # `ghost` is now stale
    with pytest.raises(errors.NotFound) as raised:
        backend.complete_upload(upload, [*parts, ghost], multipart_meta([*parts, ghost]), stamp())
    assert raised.value.what == "part"
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
    assert backend.get_upload(bucket, "k", upload.upload_id) == upload  # still there to complete
    backend.complete_upload(upload, parts, multipart_meta(parts), stamp())
    assert get(backend, bucket, "k") == PARTS[1] + PARTS[2]


def test_an_aborted_upload_is_gone_and_made_nothing(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1, 2])
    backend.abort_upload(upload)
    with pytest.raises(errors.NotFound) as raised:
        backend.get_upload(bucket, "k", upload.upload_id)
    assert raised.value.what == "upload"
    with pytest.raises(errors.NotFound) as raised:
        backend.upload_part(upload, 3, MemoryBody(PARTS[3]))
    assert raised.value.what == "upload"
    with pytest.raises(errors.NotFound):
        backend.head_object(bucket, "k")
    assert backend.list_uploads(bucket, "", "", 1000) == []


def test_uploads_of_one_key_are_independent(backend: Backend, bucket: str) -> None:
    first = backend.create_upload(bucket, "k", CREATED, "")
    second = backend.create_upload(bucket, "k", CREATED, "")
    assert first.upload_id != second.upload_id
    upload_parts(backend, first, [1])
    upload_parts(backend, second, [2])
    backend.abort_upload(first)
    assert [p.part_number for p in backend.list_parts(second)] == [2]
    assert [u.upload_id for u in backend.list_uploads(bucket, "", "", 1000)] == [second.upload_id]


def test_list_uploads_pages_after_a_key_and_upload_id_pair(backend: Backend, bucket: str) -> None:
    # The Backend's marker is the pair (key, upload id): the uploads listed are those after it, in
    # that order. S3's "key-marker alone skips the whole key" is the gateway's to build on it.
    made = [backend.create_upload(bucket, key, CREATED, "") for key in ("b", "a", "é", "a", "c/d", "a")]
    backend.create_bucket("other", "us-east-1", "owner")
    backend.create_upload("other", "a", CREATED, "")  # another bucket's upload is never listed
    pages: list[list[Upload]] = []
    key_marker = upload_id_marker = ""
    while page := backend.list_uploads(bucket, key_marker, upload_id_marker, 2):
        assert len(page) <= 2
        pages.append(page)
        key_marker, upload_id_marker = page[-1].key, page[-1].upload_id
    listed = [upload for page in pages for upload in page]
    assert listed == sorted(made, key=lambda u: (u.key.encode(), u.upload_id))
    assert listed == backend.list_uploads(bucket, "", "", 1000)  # pages join up to the one-page listing
    assert backend.list_uploads(bucket, "a", "", 1000) == listed  # every upload id of "a" is after ""
    assert backend.list_uploads(bucket, "a", listed[2].upload_id, 1000) == listed[3:]
