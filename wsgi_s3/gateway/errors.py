"""The only place an exception becomes a response: S3 errors, storage errors, Falcon's, anything else."""

from __future__ import annotations

import logging

import falcon

from wsgi_s3.model import errors as storage
from wsgi_s3.s3 import errors as s3
from wsgi_s3.s3.redact import redact_uri
from wsgi_s3.s3.xml import render

log = logging.getLogger(__name__)

_NOT_FOUND = {"bucket": s3.NoSuchBucket, "key": s3.NoSuchKey, "version": s3.NoSuchVersion, "upload": s3.NoSuchUpload, "part": s3.InvalidPart}
_EXISTS = {"bucket": s3.BucketAlreadyOwnedByYou}
# The element Amazon names the missing thing with, e.g. <Key>photo.jpg</Key> in NoSuchKey.
_NOT_FOUND_FIELD = {"bucket": "BucketName", "key": "Key", "version": "Key", "upload": "UploadId"}


def to_s3_error(exc: BaseException) -> s3.S3Error:
    """Map any exception to the S3 error a client should see."""
    if isinstance(exc, s3.S3Error):
        return exc
    if isinstance(exc, storage.NotFound):
        field = _NOT_FOUND_FIELD.get(exc.what)
        return _NOT_FOUND.get(exc.what, s3.NoSuchKey)(**({field: exc.name} if field and exc.name else {}))
    if isinstance(exc, storage.AlreadyExists):
        return _EXISTS.get(exc.what, s3.InternalError)()
    if isinstance(exc, storage.NotEmpty):
        return s3.BucketNotEmpty()
    if isinstance(exc, storage.PreconditionFailed):
        return s3.PreconditionFailed()
    if isinstance(exc, storage.Busy):
        return s3.SlowDown()
    if isinstance(exc, storage.Unavailable):
        return s3.ServiceUnavailable()
    if isinstance(exc, falcon.HTTPError):
        return _from_falcon(exc)
    return s3.InternalError()


def _from_falcon(exc: falcon.HTTPError) -> s3.S3Error:
    status = int(str(exc.status).split()[0])
    if status == 405:
        return s3.MethodNotAllowed()
    if status == 411:
        return s3.MissingContentLength()
    if status == 413:
        return s3.EntityTooLarge()
    if status in (400, 404):
        return s3.InvalidRequest(exc.title or "Bad Request")
    return s3.InternalError()


def error_document(error: s3.S3Error, resource: str, request_id: str) -> bytes:
    """The <Error> document S3 answers `error` with (also used by the gunicorn worker, below the app)."""
    fields: list[tuple[str, str]] = [("Code", error.code), ("Message", error.message)]
    fields += [(name, value) for name, value in error.extra.items()]
    fields += [("Resource", resource), ("RequestId", request_id)]
    return render("Error", fields, namespace=False)


def handle(req: falcon.Request, resp: falcon.Response, exc: BaseException, params: dict) -> None:
    """Falcon error handler: render the S3 error document with the request's resource and id."""
    error = to_s3_error(exc)
    # NotImplemented is a deliberate answer (an unsupported sub-resource), not a server failure to look into.
    if error.status >= 500 and not isinstance(error, s3.NotImplemented_):
        log.error("request failed: %s %s", req.method, redact_uri(req.relative_uri), exc_info=exc)
    request_id = req.context.get("request_id", "")
    resp.status = falcon.code_to_http_status(error.status)
    resp.content_type = "application/xml"
    resp.stream = None
    req.context["error_code"] = error.code
    # HEAD responses carry no body; the status (and x-amz headers) say it all.
    resp.data = b"" if req.method == "HEAD" else error_document(error, req.context.get("resource", req.path), request_id)
    if error.code in ("SlowDown", "ServiceUnavailable"):
        resp.set_header("Retry-After", "1")
