"""The seed's JSON management endpoints (/presign, /batch, /concurrent-upload/*): which requests
they take, their JSON documents, and the per-object checks they share with S3 requests.

A request is one of them only when it is a path-style POST to exactly one of their paths, with no
query string and a JSON body (Content-Type application/json, none, or the form type that
`curl -d` sends). S3 has no operation of that shape (POST on a bucket or key always carries a
sub-resource such as ?delete or ?uploads, except the browser form upload, multipart/form-data), so
a bucket called `batch` or `presign` stays reachable by every S3 request, signed or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from wsgi_s3.gateway.admission import admit
from wsgi_s3.gateway.auth import Authenticator
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.s3 import errors
from wsgi_s3.s3.numbers import INT64_MAX
from wsgi_s3.s3.operations import Operation, resolve

JSON_TYPES = frozenset({"", "application/json", "application/x-www-form-urlencoded"})
MAX_JSON_BYTES = 4 * 1024 * 1024  # 1,000 batch items with 1 KiB keys fit


@dataclass(frozen=True)
class Endpoint:
    operation: Operation  # its name labels metrics and the access log; permissions are checked per object
    handler: Callable[[S3Context, Authenticator], None]


def find(endpoints: Mapping[str, Endpoint], method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]) -> Endpoint | None:
    """The endpoint a path-style request is for, None for an S3 request (see the module's rule)."""
    if method != "POST" or raw_query:
        return None
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    return endpoints.get(raw_path) if content_type in JSON_TYPES else None


def read_json(ctx: S3Context) -> dict[str, Any]:
    """The request's JSON object, verified like any body (a signed payload hash is checked)."""
    text = ctx.document(MAX_JSON_BYTES)
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise errors.InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise errors.InvalidRequest("The request body must be a JSON object.")
    return document


def answer(ctx: S3Context, document: dict[str, Any], status: int = 200) -> None:
    ctx.resp.status = status
    ctx.resp.content_type = "application/json"
    ctx.resp.data = json.dumps(document).encode() + b"\n"  # a shell prompt after `curl` starts on a line of its own


def text(document: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = document.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise errors.InvalidArgument(f"{name} must be a non-empty string", ArgumentName=name)
    return value


def integer(document: Mapping[str, Any], name: str, *, minimum: int, maximum: int = INT64_MAX, default: int | None = None) -> int:
    value = document.get(name, default)
    # bool is an int to Python, never to a client; a float (1e3) is refused rather than truncated.
    if type(value) is not int or not minimum <= value <= maximum:
        raise errors.InvalidArgument(f"{name} must be an integer between {minimum} and {maximum}", ArgumentName=name, ArgumentValue=str(value))
    return value


def flag(document: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = document.get(name, default)
    if not isinstance(value, bool):
        raise errors.InvalidArgument(f"{name} must be true or false", ArgumentName=name, ArgumentValue=str(value))
    return value


def authorize(
    ctx: S3Context, authenticator: Authenticator, method: str, bucket: str, key: str, query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
) -> Operation:
    """Check one object as the S3 request of that shape would be checked (the same operation, the
    same permissions and scope, NoSuchBucket before AccessDenied); returns that operation."""
    query, headers = dict(query or {}), dict(headers or {})
    operation = resolve(method, bucket, key, query, headers)
    admit(ctx.backend, authenticator, ctx.principal, operation, query, bucket, key)
    return operation


def object_url(ctx: S3Context, bucket: str, key: str) -> str:
    """The path-style URL of an object on the host the caller used (S3's URI encoding of the key)."""
    return f"{ctx.req.scheme}://{ctx.headers.get('host', '')}{object_path(bucket, key)}"


def object_path(bucket: str, key: str) -> str:
    return "/" + bucket + "/" + quote(key, safe="/-_.~")
