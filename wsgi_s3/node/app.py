"""create_app: a storage node's Falcon application, its internal API behind the cluster token."""

from __future__ import annotations

import hmac
import json
import logging

import falcon

from wsgi_s3.model import errors
from wsgi_s3.node import protocol, resources
from wsgi_s3.observability.status import StatusEndpoints
from wsgi_s3.store.store import Store

log = logging.getLogger(__name__)


class RequireToken:
    """Every request carries `Authorization: Bearer <token>`: 401 without one, 403 with another."""

    def __init__(self, token: str) -> None:
        if not token or not (token.isascii() and token.isprintable()):
            raise ValueError("a node needs a cluster token of printable ASCII (it travels in a header)")
        self.expected = (protocol.BEARER + token).encode()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header(protocol.AUTH_HEADER)
        if not given:
            raise falcon.HTTPUnauthorized(description="a cluster token is required")
        # compare_digest: the time taken says nothing about how much of the token was right. WSGI headers are latin-1.
        if not hmac.compare_digest(given.encode("latin-1"), self.expected):
            raise falcon.HTTPForbidden(description="wrong cluster token")


def handle(req: falcon.Request, resp: falcon.Response, exc: Exception, params: dict) -> None:
    """The only place an exception becomes a node response: always JSON."""
    if isinstance(exc, errors.StorageError) and type(exc).__name__ in protocol.ERRORS:
        status, body = protocol.error_body(exc)
    elif isinstance(exc, protocol.BadRequest):
        status, body = 400, {"error": "BadRequest", "message": str(exc)}
    elif isinstance(exc, falcon.HTTPError):
        status, body = exc.status_code, {"error": exc.title, "message": exc.description or exc.title}
    else:
        log.exception("error handling %s %s", req.method, req.path)
        status, body = 500, {"error": "InternalError", "message": type(exc).__name__}
    resp.status = status
    resp.content_type = protocol.JSON_TYPE
    resp.text = json.dumps(body)


def create_app(store: Store, token: str, status: StatusEndpoints) -> falcon.App:
    """`status` answers /health, /ready (open to probes), /metrics and /debug/* before the token check."""
    app = falcon.App(middleware=[status, RequireToken(token)], cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = False  # "a/" and "a" are different keys
    app.req_options.auto_parse_form_urlencoded = False
    routes = {
        protocol.BUCKETS: resources.Buckets,
        protocol.BUCKET: resources.Bucket,
        protocol.BUCKET_CONFIG: resources.BucketConfig,
        protocol.BUCKET_CONFIGS: resources.BucketConfigs,
        protocol.BUCKET_CLOSING: resources.BucketClosing,
        protocol.BUCKET_UPLOADS: resources.BucketUploads,
        protocol.ENTRIES: resources.Entries,
        protocol.BLOBS: resources.Blobs,
        protocol.DISCARD: resources.Discard,
        protocol.VERSIONS: resources.Versions,
        protocol.OBJECT.replace("{key}", "{key:path}"): resources.Object,
        protocol.DATA.replace("{key}", "{key:path}"): resources.Data,
        protocol.UPLOADS: resources.Uploads,
        protocol.UPLOAD: resources.Upload,
        protocol.PARTS: resources.Parts,
        protocol.PART: resources.Part,
        protocol.COMPLETE: resources.Complete,
        protocol.HISTORY.replace("{key}", "{key:path}"): resources.History,
        protocol.RING_DIGEST: resources.RingDigest,
        protocol.RING_HOLDINGS: resources.RingHoldings,
        protocol.HINTS: resources.Hints,
        protocol.HINTS_DROP: resources.HintsDrop,
        protocol.STATUS: resources.Status,
        protocol.STATE: resources.State,
        protocol.TAGS.replace("{key}", "{key:path}"): resources.Tags,

        protocol.VERSION_ENTRIES: resources.VersionEntries,
        protocol.VERSION_RECORDS: resources.VersionRecords,
        protocol.LEASE: resources.LeaseClaim,
        protocol.SHARE: resources.Share,
        protocol.TAG_UPDATES.replace("{key}", "{key:path}"): resources.TagUpdates,
    }
    for template, resource in routes.items():
        app.add_route(template, resource(store))
    app.add_error_handler(Exception, handle)
    app.add_error_handler(falcon.HTTPError, handle)
    return app
