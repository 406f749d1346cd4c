"""ListBuckets."""

from __future__ import annotations

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.s3.xml import iso8601, render


def owner_fields(access_key: str) -> list[tuple[str, str]]:
    return [("ID", access_key), ("DisplayName", access_key)]


def list_buckets(ctx: S3Context) -> None:
    credential = ctx.principal.credential
    caller = credential.access_key if credential else "anonymous"
    buckets = [
        ("Bucket", [("Name", b.name), ("CreationDate", iso8601(b.created_ns)), ("BucketRegion", b.region)])
        for b in ctx.backend.list_buckets()
        # Internal buckets (no S3 name starts with "."), and those outside a scoped key's buckets, are not shown.
        if not b.name.startswith(".") and (credential is None or credential.covers_bucket(b.name))
    ]
    ctx.xml(render("ListAllMyBucketsResult", [("Owner", owner_fields(caller)), ("Buckets", buckets)]))
