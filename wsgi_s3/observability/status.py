"""/health, /ready, /metrics, /debug/vars and /debug/performance on a service's own port, for the
S3 gateway and the storage node alike, with the access the operator configured.

Access, per group of endpoints: "open" (anyone), "token" (`Authorization: Bearer <token>`) or "off"
(the path is not taken: on an S3 port it is then an ordinary bucket name). Whatever fails inside,
the caller learns only that it failed; the reason goes to the service's log.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

import falcon

from wsgi_s3.observability import metrics

log = logging.getLogger(__name__)

ACCESS = ("open", "token", "off")
HEALTH_PATHS = frozenset({"/health", "/ready"})
STATUS_PATHS = frozenset({"/metrics", "/debug/vars", "/debug/performance"})

_worker = None  # this gunicorn worker, once it runs (gunicorn_conf.post_worker_init)


def note_worker(worker: object) -> None:
    global _worker
    _worker = worker


def draining() -> bool:
    """True once gunicorn told this worker to stop: it finishes what it serves and takes no more."""
    return _worker is not None and not getattr(_worker, "alive", True)


class StatusEndpoints:
    """Falcon middleware answering the status endpoints before any other middleware (S3
    authentication, the node's token) sees the request. Only plain GET and HEAD without a query
    are taken, so signed S3 requests to buckets of these names still work."""

    def __init__(
        self,
        ready_check: Callable[[], None],
        collectors: Callable[[], list[object]],
        about: dict[str, object],
        *,
        health_access: str = "open",
        status_access: str = "off",
        token: str = "",
    ) -> None:
        for name, value in (("health_access", health_access), ("status_access", status_access)):
            if value not in ACCESS:
                raise ValueError(f"{name}: expected one of {', '.join(ACCESS)}, got {value!r}")
            if value == "token" and not token:
                raise ValueError(f"{name} = token needs status_token (the bearer token callers present)")
        self.ready_check = ready_check
        self.collectors = collectors
        self.about = about
        self.access = {**{path: health_access for path in HEALTH_PATHS}, **{path: status_access for path in STATUS_PATHS}}
        self.expected = ("Bearer " + token).encode() if token else b""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        access = self.access.get(req.path, "off")
        if access == "off" or req.method not in ("GET", "HEAD") or req.query_string:
            return
        given = req.get_header("Authorization") or ""
        if access == "open" and given.startswith("AWS"):
            return  # a signed S3 request (SigV4 "AWS4-HMAC-SHA256", SigV2 "AWS "): a bucket of that name
        req.context["status_endpoint"] = True
        resp.complete = True
        if access == "token" and not hmac.compare_digest(given.encode("latin-1"), self.expected):
            _answer(resp, falcon.HTTP_401 if not given else falcon.HTTP_403, "text/plain", "forbidden")
            return
        try:
            self._answer(req, resp)
        except Exception:  # noqa: BLE001 - the details (paths, SQL, errno) are for the operator's log
            log.exception("%s failed", req.path)
            _answer(resp, falcon.HTTP_500, "text/plain", "internal error")

    def _answer(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path == "/health":
            _answer(resp, falcon.HTTP_200, "text/plain", "OK")
        elif req.path == "/ready":
            ready = not draining() and self._ready()
            _answer(resp, falcon.HTTP_200 if ready else falcon.HTTP_503, "text/plain", "READY" if ready else "NOT READY")
        elif req.path == "/metrics":
            body, content_type = metrics.exposition(self.collectors())
            resp.status, resp.content_type, resp.data = falcon.HTTP_200, content_type, body
        elif req.path == "/debug/vars":
            _answer(resp, falcon.HTTP_200, "application/json", json.dumps(metrics.debug_vars(self.collectors(), self.about)))
        else:
            _answer(resp, falcon.HTTP_200, "application/json", json.dumps(metrics.performance(self.collectors())))

    def _ready(self) -> bool:
        try:
            self.ready_check()
        except Exception:  # noqa: BLE001 - any failure means not ready
            log.warning("/ready: the check failed", exc_info=True)
            return False
        return True


def _answer(resp: falcon.Response, status: str, content_type: str, text: str) -> None:
    resp.status, resp.content_type, resp.text = status, content_type, text
