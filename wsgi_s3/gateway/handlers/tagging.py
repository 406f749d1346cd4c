"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging, GetBucketTagging, PutBucketTagging,
DeleteBucketTagging.

An object's tags belong to one version: an update names it (versionId, or the latest) and replaces
its tags without making a new version; the update carries this gateway's stamp, so that every
replica keeps the newest whatever the arrival order (Backend.put_object_tags). A bucket's tags are
its "tagging" configuration document (JSON), replicated like the rest of its configuration.
The tags a new object is written with come from x-amz-tagging (s3/tagging.py, handlers/objects.py
and handlers/multipart.py).
"""

from __future__ import annotations

import json

import falcon

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.objects import find_version, require_content_checksum, version_headers
from wsgi_s3.model.types import ObjectVersion
from wsgi_s3.model.versions import VersionStamp
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_version_id
from wsgi_s3.s3.tagging import Tags, check_tag_set
from wsgi_s3.s3.xml import parse_tagging, render

BUCKET_TAGS = "tagging"  # the bucket configuration kind of its tags


def render_tags(tags: Tags) -> bytes:
    return render("Tagging", [("TagSet", [("Tag", [("Key", key), ("Value", value)]) for key, value in tags.items()])])


def _named_version(ctx: S3Context) -> ObjectVersion:
    """The version the request names (versionId, or the latest); delete markers answer as for GET."""
    version = find_version(ctx, ctx.bucket, ctx.key, check_version_id(ctx.query.get("versionId")))
    ctx.set_headers(version_headers(ctx, version))
    return version


def _set_tags(ctx: S3Context, version: ObjectVersion, tags: Tags) -> None:
    ctx.backend.put_object_tags(version, tags, VersionStamp(version.version_id, ctx.clock.stamp(), ctx.clock.origin))


def get_object_tagging(ctx: S3Context) -> None:
    version = _named_version(ctx)
    ctx.xml(render_tags(ctx.backend.get_object_tags(ctx.bucket, ctx.key, version.version_id)))


def put_object_tagging(ctx: S3Context) -> None:
    require_content_checksum(ctx)
    tags = check_tag_set(parse_tagging(ctx.document()), "object")
    _set_tags(ctx, _named_version(ctx), tags)


def delete_object_tagging(ctx: S3Context) -> None:
    _set_tags(ctx, _named_version(ctx), {})
    ctx.resp.status = falcon.HTTP_204


def get_bucket_tagging(ctx: S3Context) -> None:
    document = ctx.backend.get_bucket_config(ctx.bucket, BUCKET_TAGS)
    if document is None:
        raise errors.NoSuchTagSet(BucketName=ctx.bucket)
    ctx.xml(render_tags(json.loads(document)))


def put_bucket_tagging(ctx: S3Context) -> None:
    require_content_checksum(ctx)
    tags = check_tag_set(parse_tagging(ctx.document()), "bucket")
    # An empty tag set leaves the bucket without one (GetBucketTagging: NoSuchTagSet).
    ctx.backend.put_bucket_config(ctx.bucket, BUCKET_TAGS, json.dumps(tags) if tags else None, ctx.clock.config_stamp())
    ctx.resp.status = falcon.HTTP_204


def delete_bucket_tagging(ctx: S3Context) -> None:
    ctx.backend.put_bucket_config(ctx.bucket, BUCKET_TAGS, None, ctx.clock.config_stamp())
    ctx.resp.status = falcon.HTTP_204
