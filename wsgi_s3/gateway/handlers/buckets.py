"""CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation (versioning: handlers/versioning.py)."""

from __future__ import annotations

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.model import errors as storage
from wsgi_s3.s3 import errors
from wsgi_s3.s3.names import check_bucket_name, check_location_constraint
from wsgi_s3.s3.xml import parse_location_constraint, render


def create_bucket(ctx: S3Context) -> None:
    check_bucket_name(ctx.bucket)
    document = ctx.document()
    # A self-hosted store has one location: any constraint the client's region implies is accepted
    # and reported back, so clients configured for another region still work.
    region = check_location_constraint(parse_location_constraint(document) or ctx.region)
    owner = ctx.principal.credential.access_key if ctx.principal.credential else ""
    try:
        ctx.backend.create_bucket(ctx.bucket, region, owner)
    except storage.AlreadyExists:
        existing = ctx.backend.get_bucket(ctx.bucket)
        if existing.owner == owner:
            raise errors.BucketAlreadyOwnedByYou(BucketName=ctx.bucket) from None
        raise errors.BucketAlreadyExists(BucketName=ctx.bucket) from None
    ctx.resp.set_header("Location", "/" + ctx.bucket)


def head_bucket(ctx: S3Context) -> None:
    bucket = ctx.backend.get_bucket(ctx.bucket)
    ctx.resp.set_header("x-amz-bucket-region", bucket.region)


def delete_bucket(ctx: S3Context) -> None:
    ctx.backend.delete_bucket(ctx.bucket)
    ctx.resp.status = "204 No Content"


def get_bucket_location(ctx: S3Context) -> None:
    region = ctx.backend.get_bucket(ctx.bucket).region
    # Amazon answers an empty constraint for us-east-1.
    ctx.xml(render("LocationConstraint", "" if region == "us-east-1" else region))
