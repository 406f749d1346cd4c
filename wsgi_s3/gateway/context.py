"""S3Context: everything a handler needs about one request, built once by the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field

import falcon
from gevent.lock import Semaphore

from wsgi_s3.backend.base import Backend
from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.auth import Principal
from wsgi_s3.gateway.body import MAX_PUT_SIZE, RequestBody, read_document
from wsgi_s3.model.types import BucketInfo
from wsgi_s3.model.versions import HybridClock, VersionStamp
from wsgi_s3.s3.operations import Operation
from wsgi_s3.s3.xml import MAX_DOCUMENT_BYTES


@dataclass
class S3Context:
    req: falcon.Request
    resp: falcon.Response
    backend: Backend
    operation: Operation
    principal: Principal
    bucket: str
    key: str
    query: dict[str, str]  # decoded query parameters (the last value wins for repeated names)
    headers: dict[str, str]  # lower-case header names
    region: str
    clock: HybridClock  # this worker's: stamps every write it makes (gateway/versioning.py)
    max_body: int = MAX_PUT_SIZE  # the largest upload body (max_body_mb), in bytes
    _buckets: dict[str, BucketInfo] = field(default_factory=dict, init=False, repr=False)
    _reading: Semaphore = field(default_factory=Semaphore, init=False, repr=False)

    def bucket_info(self, name: str | None = None) -> BucketInfo:
        """The request's bucket (or the one named) with its configuration documents, read once per
        request: in a cluster each read asks most nodes, so versioning, lifecycle and version policy
        all come from this one. A handler that changes the configuration reads the backend itself.
        Greenlets of one request (/batch) wait for a read in flight rather than make their own."""
        name = self.bucket if name is None else name
        with self._reading:
            if name not in self._buckets:
                self._buckets[name] = self.backend.get_bucket(name)
            return self._buckets[name]

    def new_version(self, bucket: BucketInfo) -> VersionStamp:
        return versioning.new_version(bucket, self.clock)

    def body(self, **options) -> RequestBody:
        """The request body as a verified stream (see gateway/body.py)."""
        options.setdefault("max_size", self.max_body)
        return RequestBody(self.req.env["wsgi.input"], self.headers, self.principal.signature, **options)

    def document(self, limit: int = MAX_DOCUMENT_BYTES, headers: dict[str, str] | None = None) -> bytes:
        """A small request document (XML), read whole and verified against `headers` (default: the request's)."""
        return read_document(self.req.env["wsgi.input"], self.headers if headers is None else headers, self.principal.signature, limit)

    def set_headers(self, headers: dict[str, str]) -> None:
        for name, value in headers.items():
            self.resp.set_header(name, value)

    def xml(self, document: bytes, status: int = 200) -> None:
        self.resp.status = falcon.code_to_http_status(status)
        self.resp.content_type = "application/xml"
        self.resp.data = document
