"""create_app: the gateway's Falcon application (middleware, the S3 sink, the error handler)."""

from __future__ import annotations

import falcon

from wsgi_s3.backend.base import Backend
from wsgi_s3.gateway import errors
from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.body import MAX_PUT_SIZE
from wsgi_s3.gateway.dispatch import S3Dispatcher
from wsgi_s3.gateway.extensions.metrics import MeteredBackend
from wsgi_s3.gateway.middleware import Observe
from wsgi_s3.observability.status import StatusEndpoints


def create_app(
    backend: Backend, authenticator: Authenticator, *, domain: str, region: str, status: StatusEndpoints, max_body: int = MAX_PUT_SIZE
) -> falcon.App:
    """`status` answers /health, /ready, /metrics and /debug/* (observability/status.py); `max_body`: the
    largest upload body in bytes."""
    backend = MeteredBackend(backend)
    app = falcon.App(middleware=[Observe(), status], cors_enable=False)
    app.req_options.strip_url_path_trailing_slash = False
    app.req_options.auto_parse_form_urlencoded = False
    # S3 sends no Content-Type on bodiless answers (PutObject, DeleteObject); Falcon would say JSON.
    app.resp_options.default_media_type = None
    app.add_sink(S3Dispatcher(backend, authenticator, domain=domain, region=region, max_body=max_body), prefix="/")
    app.add_error_handler(Exception, errors.handle)
    app.add_error_handler(falcon.HTTPError, errors.handle)
    return app
