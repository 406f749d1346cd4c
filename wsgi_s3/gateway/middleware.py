"""Falcon middleware: request ids on every response, and the unauthenticated health endpoints."""

from __future__ import annotations

import logging
import os

import falcon

log = logging.getLogger(__name__)


def new_request_id() -> str:
    return os.urandom(8).hex().upper()


class RequestId:
    """Gives each request an id, sent back as x-amz-request-id (and x-amz-id-2, as S3 does)."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context["request_id"] = new_request_id()

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool) -> None:
        request_id = req.context.get("request_id", "")
        resp.set_header("x-amz-request-id", request_id)
        resp.set_header("x-amz-id-2", request_id)


class Health:
    """GET /health (the process answers) and /ready (storage answers) for load balancers.

    Only unauthenticated GET/HEAD requests are taken, so a bucket named "health" still works
    for signed requests."""

    def __init__(self, ready_check) -> None:
        self.ready_check = ready_check

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path not in ("/health", "/ready") or req.method not in ("GET", "HEAD") or req.get_header("Authorization"):
            return
        if req.query_string:
            return
        resp.content_type = "text/plain"
        if req.path == "/health":
            resp.text = "OK"
        else:
            try:
                self.ready_check()
                resp.text = "READY"
            except Exception:  # noqa: BLE001 - any failure means not ready
                # The details are for the operator's log, not for whoever asks (paths, SQL, errno).
                log.warning("/ready: the storage check failed", exc_info=True)
                resp.status = falcon.HTTP_503
                resp.text = "NOT READY"
        resp.complete = True
