"""Falcon middleware of the S3 gateway: the request id, the access log line and the request metrics."""

from __future__ import annotations

import logging
import time

import falcon

from wsgi_s3.observability import metrics
from wsgi_s3.observability.logs import ACCESS, REQUEST_ID, new_request_id
from wsgi_s3.s3.redact import redact_uri

# Codes with which authentication (not authorization) refuses a request (s3/sigv4.py, s3/sigv2.py, auth.py).
AUTH_FAILURES = frozenset({
    "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError", "ExpiredToken", "RequestTimeTooSkewed", "MissingSecurityHeader",
})


class CountingInput:
    """wsgi.input, counting the body bytes the application reads."""

    def __init__(self, source) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int | None = None) -> bytes:
        data = self._source.read(size)
        self.count += len(data)
        return data

    def readline(self, size: int | None = None) -> bytes:
        data = self._source.readline(size)
        self.count += len(data)
        return data

    def __getattr__(self, name: str):
        return getattr(self._source, name)


class ObservedStream:
    """A response body stream that reports its bytes when the server closes it, after the last byte.
    File-like attributes (fileno) pass through, so gunicorn still uses sendfile for a blob file."""

    def __init__(self, stream, declared: int, done) -> None:
        self._stream = stream
        self._declared = declared
        self._done = done
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data

    def close(self) -> None:
        try:
            getattr(self._stream, "close", lambda: None)()
        finally:
            if self._done is not None:
                # Bytes sent by sendfile are not read through here: they are the declared length.
                self._done(self.count or self._declared)
                self._done = None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class Observe:
    """Gives each request an id (x-amz-request-id and x-amz-id-2, as S3 does, and on every log line
    written while serving it), then, once the last byte is out, writes its access line and counts it."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        request_id = new_request_id()
        REQUEST_ID.set(request_id)
        req.context["request_id"] = request_id
        req.context["started"] = time.monotonic()
        req.context["input"] = req.env["wsgi.input"] = CountingInput(req.env["wsgi.input"])
        metrics.IN_FLIGHT.inc()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool) -> None:
        request_id = req.context.get("request_id", "")
        resp.set_header("x-amz-request-id", request_id)
        resp.set_header("x-amz-id-2", request_id)
        if "started" not in req.context:
            return  # an earlier middleware failed before ours ran
        if resp.stream is not None and req.method != "HEAD":
            declared = int(resp.content_length or 0) if str(resp.content_length or "").isdigit() else 0
            resp.stream = ObservedStream(resp.stream, declared, lambda sent: self._finish(req, resp, sent))
        else:
            body = resp.render_body() if req.method != "HEAD" else None
            self._finish(req, resp, len(body or b""))

    def _finish(self, req: falcon.Request, resp: falcon.Response, bytes_out: int) -> None:
        seconds = time.monotonic() - req.context["started"]
        metrics.IN_FLIGHT.dec()
        status = int(str(resp.status).split()[0]) if not isinstance(resp.status, int) else resp.status
        operation = req.context.get("operation", "Unknown")
        error_code = req.context.get("error_code")
        bytes_in = req.context["input"].count
        principal = req.context.get("principal")
        credential = getattr(principal, "credential", None)
        if req.context.get("status_endpoint"):
            level, operation = logging.DEBUG, req.path  # probes and scrapes: not S3 traffic
        else:
            level = logging.INFO
            metrics.record_request(req.method, operation, status, seconds, bytes_in, bytes_out, error_code)
            if credential is not None:
                metrics.AUTH_SUCCESS.inc()
            elif principal is None and error_code in AUTH_FAILURES:
                metrics.AUTH_FAILURE.labels(error_code).inc()
        resource = req.context.get("resource", "")
        ACCESS.log(
            level,
            "request completed",
            extra={
                "method": req.method,
                "path": redact_uri(req.relative_uri),
                "operation": operation,
                "bucket": resource[1:].partition("/")[0] if resource else "",
                "credential": credential.access_key if credential is not None else "",
                "status": status,
                "error_code": error_code or "",
                "duration_ms": round(seconds * 1000, 3),
                "bytes_in": bytes_in,
                "bytes_out": bytes_out,
                "remote_addr": req.remote_addr,
            },
        )
        REQUEST_ID.set("")
