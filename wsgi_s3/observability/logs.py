"""JSON log lines, one object per line, each carrying the id of the request it was written for.

The request id lives in a context variable: gevent gives every greenlet its own context, so two
requests served at once by one worker never see each other's id. gunicorn's own lines (start-up,
worker restarts, errors) go through GunicornLogger and come out in the same format.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time

from gunicorn.glogging import Logger

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
ACCESS = logging.getLogger("wsgi_s3.access")
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def new_request_id() -> str:
    return os.urandom(8).hex().upper()


class JsonFormatter(logging.Formatter):
    """time, level, logger, msg, the request id if any, the fields given as `extra`, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        line.update((name, value) for name, value in vars(record).items() if name not in _STANDARD and not name.startswith("_"))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str) -> None:
    """JSON lines on stderr at `level` (debug, info, warning or warn, error) for every logger that
    propagates to the root (wsgi_s3's, urllib3's, ...)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))


def _level(name: str) -> int:
    return {"warn": logging.WARNING}.get(name.lower(), logging.getLevelName(name.upper()) if name else logging.INFO)


class GunicornLogger(Logger):
    """gunicorn's logger with JSON lines; also sets up the root logger the same way, so the
    application's lines share gunicorn's stream and level."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(JsonFormatter())
        configure(cfg.loglevel)
