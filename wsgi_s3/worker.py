"""The gunicorn worker wsgi-s3 runs: gevent's, answering in S3's terms where gunicorn itself would answer.

gunicorn answers malformed HTTP, and any exception that escapes the application, with an HTML page; S3
clients expect an <Error> document. gunicorn also sends `100 Continue` while it builds the WSGI environ,
before the application has authenticated anything; S3 invites the body only of a request it will serve.
"""

from __future__ import annotations

import http
import signal
import socket
import ssl
from collections.abc import Callable
from datetime import datetime

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.ggevent import GeventWorker

from wsgi_s3.config import active
from wsgi_s3.gateway.errors import error_document
from wsgi_s3.observability.logs import new_request_id
from wsgi_s3.s3 import errors

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
DRAIN_LIMIT = 64 * 1024  # the largest body of a refused request read before answering (S3Worker.refuse)


def s3_error(exc: BaseException) -> errors.S3Error:
    """The S3 error for what reached gunicorn's error handler: a parse error is the client's, the rest is ours."""
    # The application's own invalid response header is a ParseException too, but not the client's fault.
    if isinstance(exc, (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName, http_errors.ConfigurationProblem)):
        return errors.InternalError()
    if isinstance(exc, http_errors.LimitRequestLine):
        return errors.RequestHeaderSectionTooLarge(**({"MaxSizeAllowed": str(exc.max_size)} if exc.max_size else {}))
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return errors.RequestHeaderSectionTooLarge()
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return errors.NotImplemented_(Header="Transfer-Encoding")
    if isinstance(exc, http_errors.ForbiddenProxyRequest):
        return errors.AccessDenied()
    if isinstance(exc, (http_errors.ParseException, ssl.SSLError)):
        return errors.BadRequest()
    return errors.InternalError()


class WsgiInput:
    """wsgi.input over gunicorn's body reader.

    It sends the `100 Continue` a request asked for on the application's first read: the gateway reads a
    body only after authenticating and authorizing the request. Until then the connection is marked to
    close after the response, since a client told no may never send the body it announced. Malformed
    framing found while reading (a bad chunk) is S3's BadRequest, not an error the application would
    answer with 500."""

    def __init__(self, body, req, continue_to=None) -> None:
        self._body = body
        self._req = req
        self._continue_to = continue_to
        self._must_close = req.must_close
        if continue_to is not None:
            req.must_close = True

    def _read(self, method: Callable, *args):
        if self._continue_to is not None:
            util.write(self._continue_to, CONTINUE)
            self._continue_to = None
            self._req.must_close = self._must_close
        try:
            return method(*args)
        except http_errors.ParseException as exc:
            raise s3_error(exc) from exc

    def read(self, size: int | None = None) -> bytes:
        return self._read(self._body.read, size)

    def readline(self, size: int | None = None) -> bytes:
        return self._read(self._body.readline, size)

    def readlines(self, size: int | None = None) -> list[bytes]:
        return self._read(self._body.readlines, size)

    def __iter__(self) -> WsgiInput:
        return self

    def __next__(self) -> bytes:
        return self._read(self._body.__next__)

    def __getattr__(self, name: str):
        return getattr(self._body, name)  # e.g. `failed`, which gunicorn checks before reusing the connection


class S3Worker(GeventWorker):
    """gunicorn's gevent worker with S3 error documents, a deferred `100 Continue`, a cap on the requests
    it serves at once (max_inflight) and a shutdown that idle keep-alive connections do not hold up."""

    def init_process(self) -> None:
        # A TERM arriving while the worker boots (patching, importing, loading the app) would reach the
        # master's handler, inherited by the fork, and be lost: the worker would serve on until killed
        # at graceful_timeout. From here on it is this worker's (gunicorn's init_signals keeps it so).
        signal.signal(signal.SIGTERM, self.handle_exit)
        settings = active()
        # A storage node's callers are gateways, which bound their own fan-out; only S3 services cap.
        self.max_inflight = settings.max_inflight if settings.mode != "node" else None
        self.busy: set = set()  # the connections whose request is being served now
        self.connections: set = set()  # every open connection
        super().init_process()

    def handle(self, listener, client, addr) -> None:
        self.connections.add(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self.connections.discard(client)

    def handle_request(self, listener_name, req, sock, addr):
        if self.max_inflight is not None and len(self.busy) >= self.max_inflight:
            self.refuse(req, sock, addr)
            raise StopIteration()  # the answer said Connection: close; a large body was never read
        self.busy.add(sock)
        try:
            # gunicorn's flag (http/message.py), read by wsgi.create(), which would answer 100 right away.
            continue_to = sock if req._expected_100_continue else None
            req._expected_100_continue = False
            req.body = WsgiInput(req.body, req, continue_to)
            super().handle_request(listener_name, req, sock, addr)
        finally:
            self.busy.discard(sock)
        if not self.alive:
            raise StopIteration()  # shutting down: a request that started before it closes its connection

    def notify(self) -> None:
        """Also called every second while a stopping worker waits for its connections (GeventWorker.run):
        an idle keep-alive connection would hold it for all of graceful_timeout, so it is closed, as
        HTTP lets a server close an idle connection; its client retries on a new one. (A request still
        arriving there has had no answer, so it was not acknowledged: the client retries it too.)"""
        super().notify()
        if not self.alive:
            for client in self.connections - self.busy:
                try:
                    # Through a duplicate descriptor: gevent's own shutdown() would wake the greenlet waiting
                    # on this socket with EBADF, logged as a socket error; this way it reads EOF and ends.
                    with socket.fromfd(client.fileno(), client.family, client.type) as twin:
                        twin.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the client

    def refuse(self, req, client, addr) -> None:
        """503 SlowDown for a request past max_inflight, before its body is invited (no 100 Continue) or read."""
        from wsgi_s3.observability import metrics  # not at import: the master loads this class before metrics are set up

        metrics.RATE_LIMIT_REJECTED.labels("max_inflight").inc()
        started = datetime.now()
        length = next((value for name, value in req.headers if name == "CONTENT-LENGTH"), "0")
        if not req._expected_100_continue and length.isdigit() and int(length) <= DRAIN_LIMIT:
            # A small body the client already sent is read and dropped: closing the connection with it
            # unread would reset it, and the client could lose the answer. A larger one is not worth the wait.
            try:
                req.body.read()
            except (http_errors.ParseException, OSError):
                return  # the client is gone or sent garbage: no one to answer
        self.send_error(req, client, addr, errors.SlowDown(), started)

    def handle_error(self, req, client, addr, exc) -> None:
        """Replaces gunicorn's HTML error page (workers/base.py) with S3's <Error> document."""
        started = datetime.now()
        if req is None and isinstance(exc, (http_errors.InvalidHeader, http_errors.InvalidHeaderName)):
            req = getattr(exc, "req", None)  # the request a header error was found in, if it got that far
        error = s3_error(exc)
        if error.status >= 500:
            # The path only: the query may carry a presigned signature.
            self.log.exception("Error handling request %s %s", getattr(req, "method", "-"), getattr(req, "path", "-"))
        else:
            # The exception's text may quote the request line, and with it a presigned signature.
            self.log.warning("Invalid request from ip=%s: %s (%s)", (addr or ("",))[0], error.code, type(exc).__name__)
        self.send_error(req, client, addr, error, started)

    def send_error(self, req, client, addr, error: errors.S3Error, started: datetime) -> None:
        """`error` as S3's <Error> document, with Connection: close, logged as an access line."""
        addr = addr or ("", -1)  # a unix socket has no peer address
        request_id = new_request_id()
        body = b"" if getattr(req, "method", None) == "HEAD" else error_document(error, getattr(req, "path", None) or "/", request_id)
        status = f"{error.status} {http.HTTPStatus(error.status).phrase}"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            f"x-amz-request-id: {request_id}\r\nx-amz-id-2: {request_id}\r\nConnection: close\r\n\r\n"
        )
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ.update(REMOTE_ADDR=addr[0], REMOTE_PORT=str(addr[1]))
            resp = Response(req, client, self.cfg)
            resp.status, resp.response_length = status, len(body)
            self.log.access(resp, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, head.encode("latin-1") + body)
        except Exception:  # noqa: BLE001 - the client may be gone; there is no one left to tell
            self.log.debug("Failed to send error response.")
