"""What crosses the seam: a version a backend returns is the handle its reads take, and a part is
named by number, ETag and size. Where the bytes lie (blob ids, segments) stays below the seam, so a
version made by another backend, or rebuilt by the caller with another stamp, is refused (an error,
never other bytes), and an upload completes from parts the caller rebuilt, with no blob id in them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.contract.conftest import OWNER, REGION, MemoryBody, get, multipart_meta, put, read, stamp
from tests.contract.test_multipart import CREATED, PARTS, upload_parts
from wsgi_s3.backend.base import Backend
from wsgi_s3.backend.local import LocalBackend
from wsgi_s3.model import errors
from wsgi_s3.model.types import ObjectVersion, Part
from wsgi_s3.store.store import Store

DATA = b"the bytes this backend holds " * 50
OTHER = b"another store's bytes, same key " * 50


@pytest.fixture
def other(tmp_path: Path, bucket: str) -> LocalBackend:
    """Another backend, over a store of its own, with a bucket of the same name."""
    made = LocalBackend(Store(str(tmp_path / "other")))
    made.create_bucket(bucket, REGION, OWNER)
    return made


def test_a_version_another_backend_made_is_refused_not_read(backend: Backend, bucket: str, other: LocalBackend) -> None:
    put(backend, bucket, "k", DATA)
    foreign = put(other, bucket, "k", OTHER)  # same bucket, key and version id ("null")
    with pytest.raises((errors.NotFound, TypeError)):
        backend.open_object(foreign, 0, foreign.size).close()
    with pytest.raises((errors.NotFound, TypeError)):
        other.open_object(backend.head_object(bucket, "k"), 0, 10).close()
    assert get(backend, bucket, "k") == DATA and get(other, bucket, "k") == OTHER


def test_a_version_rebuilt_with_another_stamp_is_refused_not_read(backend: Backend, bucket: str) -> None:
    found = put(backend, bucket, "k", DATA)
    put(backend, bucket, "k", OTHER)  # the null version now has other bytes and a later stamp
    for stamp_ns in (found.timestamp_ns, backend.head_object(bucket, "k").timestamp_ns + 1):
        rebuilt = replace(ObjectVersion.of(found), timestamp_ns=stamp_ns)
        with pytest.raises((errors.NotFound, TypeError)):
            backend.open_object(rebuilt, 0, 10).close()
    assert read(backend, backend.head_object(bucket, "k")) == OTHER


def test_an_upload_completes_from_parts_named_by_number_etag_and_size(backend: Backend, bucket: str) -> None:
    upload = backend.create_upload(bucket, "k", CREATED, "")
    upload_parts(backend, upload, [1, 2, 3])
    named = [Part(p.part_number, p.etag, p.size, p.timestamp_ns, p.checksums) for p in backend.list_parts(upload)]
    wrong_size = replace(named[1], size=named[1].size + 1)
    with pytest.raises(errors.NotFound) as raised:
        backend.complete_upload(upload, [named[0], wrong_size], multipart_meta([named[0], wrong_size]), stamp())
    assert raised.value.what == "part"
    backend.complete_upload(upload, named, multipart_meta(named), stamp())
    assert get(backend, bucket, "k") == PARTS[1] + PARTS[2] + PARTS[3]



def test_parts_go_up_without_their_blob(backend: Backend, bucket: str) -> None:
    """What upload_part and list_parts return names a part, and nothing of where its bytes lie."""
    upload = backend.create_upload(bucket, "k", CREATED, "")
    uploaded = backend.upload_part(upload, 1, MemoryBody(PARTS[1]))
    listed = backend.list_parts(upload)
    assert [type(part) for part in [uploaded, *listed]] == [Part, Part]
    assert listed == [uploaded]
