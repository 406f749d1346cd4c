"""Get/PutBucketVersioning (S3's XML, or the seed's JSON policy with pruning), the seed's restore of
a version (POST ?restore&versionId=) and version statistics (GET ?version-stats)."""

from __future__ import annotations

import json

import falcon

from wsgi_s3.gateway import versioning
from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.objects import find_version, write_headers
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_version_id
from wsgi_s3.s3.xml import iso8601, parse_versioning, render

STATS_PAGE = 1000


def put_bucket_versioning(ctx: S3Context) -> None:
    document = ctx.document()
    # The seed's curl examples say application/json; a JSON object is never an XML document either.
    if ctx.headers.get("content-type", "").startswith("application/json") or document.lstrip().startswith(b"{"):
        _put_policy(ctx, versioning.parse_policy(document))
        return
    status, mfa_delete = parse_versioning(document)
    if mfa_delete == "Enabled":
        raise errors.NotImplemented_("MFA Delete is not implemented.")
    if status is not None:
        ctx.backend.put_bucket_config(ctx.bucket, "versioning", status, ctx.clock.config_stamp())
    else:
        ctx.backend.get_bucket(ctx.bucket)  # nothing to change, but the bucket must exist


def _put_policy(ctx: S3Context, policy: versioning.VersionPolicy) -> None:
    """The seed's form: enabled is S3's Enabled; disabled suspends a bucket that has had versioning
    (S3 has no way back to never-versioned) and leaves any other alone. The limits replace any
    earlier ones; none removes them."""
    bucket = ctx.backend.get_bucket(ctx.bucket)
    status = "Enabled" if policy.enabled else "Suspended" if bucket.versioning else None
    if status is not None:
        ctx.backend.put_bucket_config(ctx.bucket, "versioning", status, ctx.clock.config_stamp())
    ctx.backend.put_bucket_config(ctx.bucket, versioning.POLICY, policy.document(), ctx.clock.config_stamp())


def get_bucket_versioning(ctx: S3Context) -> None:
    status = ctx.backend.get_bucket(ctx.bucket).versioning
    ctx.xml(render("VersioningConfiguration", [("Status", status or None)]))


def restore_object_version(ctx: S3Context) -> None:
    """The named version's bytes and metadata become a new current version, which shares its
    bytes (none are copied); older versions stay. A delete marker cannot be restored (405)."""
    version_id = check_version_id(ctx.query.get("versionId"))
    if version_id is None:
        raise errors.NotImplemented_("Restoring archived objects is not implemented: POST ?restore takes a versionId to make current again.")
    source = find_version(ctx, ctx.bucket, ctx.key, version_id)
    version = versioning.restore(ctx.backend, source, ctx.bucket_info(), ctx.clock)
    write_headers(ctx, version)
    _json(ctx, {"bucket": ctx.bucket, "key": ctx.key, "restored_version_id": source.version_id, "version_id": version.version_id})


def get_bucket_version_stats(ctx: S3Context) -> None:
    """Counts over every version of the bucket, walked a listing page at a time (so it costs a
    listing of the whole bucket's history)."""
    bucket = ctx.bucket_info()
    policy = versioning.stored_policy(bucket)
    stats = {"versions": 0, "delete_markers": 0, "bytes": 0, "noncurrent_versions": 0, "noncurrent_bytes": 0}
    oldest: int | None = None
    key_marker, version_marker = "", None
    while True:
        page = ctx.backend.list_versions(ctx.bucket, "", "", key_marker, version_marker, STATS_PAGE)
        for version in page.versions:
            oldest = version.timestamp_ns if oldest is None else min(oldest, version.timestamp_ns)
            if version.delete_marker:
                stats["delete_markers"] += 1
                continue
            stats["versions"] += 1
            stats["bytes"] += version.size
            if not version.is_latest:
                stats["noncurrent_versions"] += 1
                stats["noncurrent_bytes"] += version.size
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker or "", page.next_version_id_marker
    _json(ctx, {
        "bucket": ctx.bucket,
        "versioning": bucket.versioning or "Disabled",
        "policy": {"max_versions": policy.max_versions, "retention_days": policy.retention_days} if policy else None,
        **stats,
        "oldest": iso8601(oldest) if oldest is not None else None,
    })


def _json(ctx: S3Context, data: dict) -> None:
    ctx.resp.status = falcon.HTTP_200
    ctx.resp.content_type = "application/json"
    ctx.resp.text = json.dumps(data)
