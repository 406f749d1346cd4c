"""MeteredBackend: counts the objects and bytes the gateway stores (s3_objects_stored_total,
s3_bytes_stored_total) at the one place every write of an object passes, the backend."""

from __future__ import annotations

from wsgi_s3.backend.base import Backend
from wsgi_s3.model.types import ObjectVersion
from wsgi_s3.observability import metrics


class MeteredBackend:
    """Any Backend, with its object writes counted once they succeeded (PutObject and CopyObject
    call put_object, CompleteMultipartUpload complete_upload); everything else passes through."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def put_object(self, *args, **kwargs) -> ObjectVersion:
        version = self._backend.put_object(*args, **kwargs)
        metrics.record_stored(version.size)
        return version

    def complete_upload(self, *args, **kwargs) -> ObjectVersion:
        version = self._backend.complete_upload(*args, **kwargs)
        metrics.record_stored(version.size)
        return version
