"""Put/GetBucketLifecycleConfiguration and DeleteBucketLifecycle (S3 XML, and the seed's JSON on PUT), and the
x-amz-expiration header of objects a rule will expire. The rules live as the bucket's "lifecycle"
configuration document (s3/lifecycle.py's stored form); daemons/lifecycle.py applies them."""

from __future__ import annotations

import falcon

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.model.types import ObjectVersion
from wsgi_s3.s3 import errors, lifecycle
from wsgi_s3.s3.checksums import require_integrity_header

KIND = "lifecycle"


def put_bucket_lifecycle_configuration(ctx: S3Context) -> None:
    ctx.backend.get_bucket(ctx.bucket)  # S3 names a missing bucket before a bad document
    document = ctx.document()
    if lifecycle.is_json(document):
        rules = lifecycle.parse_json(document)  # the seed's form, sent by curl without a digest
    else:
        require_integrity_header(ctx.headers)
        rules = lifecycle.parse_xml(document)
    ctx.backend.put_bucket_config(ctx.bucket, KIND, lifecycle.dumps(rules), ctx.clock.config_stamp())


def get_bucket_lifecycle_configuration(ctx: S3Context) -> None:
    document = ctx.backend.get_bucket_config(ctx.bucket, KIND)
    if document is None:
        raise errors.NoSuchLifecycleConfiguration(BucketName=ctx.bucket)
    ctx.xml(lifecycle.render_xml(lifecycle.loads(document)))


def delete_bucket_lifecycle(ctx: S3Context) -> None:
    ctx.backend.put_bucket_config(ctx.bucket, KIND, None, ctx.clock.config_stamp())
    ctx.resp.status = falcon.HTTP_204


def set_expiration_header(ctx: S3Context, version: ObjectVersion) -> None:
    """x-amz-expiration on a current version that an enabled rule will expire (the rules: the
    request's one bucket read)."""
    if not version.is_latest or version.delete_marker:
        return
    document = ctx.bucket_info(version.bucket).configs.get(KIND)
    if document is None:
        return
    rules = lifecycle.loads(document)
    tags = ctx.backend.get_object_tags(version.bucket, version.key, version.version_id) if lifecycle.uses_tags(rules) else None
    value = lifecycle.expiration_header(rules, version.key, version.size, version.timestamp_ns, tags)
    if value is not None:
        ctx.resp.set_header("x-amz-expiration", value)
