"""ACLs until they are built: every bucket and object is private to the bucket's owner.

GetBucketAcl and GetObjectAcl answer the owner's FULL_CONTROL grant (what tools such as s3cmd `info`
show); the canned `private` ACL is accepted wherever S3 takes an ACL, and anything that would grant
more is refused with NotImplemented.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from wsgi_s3.gateway.context import S3Context
from wsgi_s3.gateway.handlers.objects import find_version, version_headers
from wsgi_s3.s3 import errors
from wsgi_s3.s3.xml import S3_NS

# S3's canned ACLs; an unknown name is InvalidArgument, a known one other than "private" NotImplemented.
CANNED_ACLS = frozenset(
    {
        "private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
        "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write",
    }
)
# The operations that take x-amz-acl and x-amz-grant-* headers.
OPERATIONS_WITH_ACL = frozenset({"CreateBucket", "PutObject", "CopyObject", "CreateMultipartUpload", "PutBucketAcl", "PutObjectAcl"})
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def check_acl_headers(headers: Mapping[str, str]) -> None:
    """Accept no ACL or the canned `private`, which is what every bucket and object has."""
    grants = sorted(name for name in headers if name.startswith("x-amz-grant-"))
    if grants:
        raise errors.NotImplemented_(f"The {grants[0]} header is not implemented: only the canned 'private' ACL is.")
    canned = headers.get("x-amz-acl")
    if canned is None or canned.strip() == "private":
        return
    if canned.strip() not in CANNED_ACLS:
        raise errors.InvalidArgument(ArgumentName="x-amz-acl", ArgumentValue=canned)
    raise errors.NotImplemented_(f"The canned ACL '{canned.strip()}' is not implemented: only 'private' is.")


def _person(parent: ET.Element, owner: str) -> None:
    ET.SubElement(parent, "ID").text = owner
    ET.SubElement(parent, "DisplayName").text = owner


def _owner_only_policy(owner: str) -> bytes:
    """An AccessControlPolicy with one grant: FULL_CONTROL to the owner (a CanonicalUser grantee)."""
    root = ET.Element("AccessControlPolicy", {"xmlns": S3_NS})
    _person(ET.SubElement(root, "Owner"), owner)
    grant = ET.SubElement(ET.SubElement(root, "AccessControlList"), "Grant")
    # The grantee's type is an xsi:type attribute, which render() cannot write; clients read it.
    _person(ET.SubElement(grant, "Grantee", {"xmlns:xsi": _XSI, "xsi:type": "CanonicalUser"}), owner)
    ET.SubElement(grant, "Permission").text = "FULL_CONTROL"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _object_version(ctx: S3Context) -> None:
    """The version an object ACL request names must exist; its version id is echoed as S3 does."""
    ctx.set_headers(version_headers(ctx, find_version(ctx, ctx.bucket, ctx.key, ctx.query.get("versionId"))))


def _put_acl(ctx: S3Context) -> None:
    """PutBucketAcl/PutObjectAcl: the headers were checked by the dispatcher (OPERATIONS_WITH_ACL);
    an ACL document would set grants, so it is not implemented; nothing at all is S3's MissingSecurityHeader."""
    has_body = ctx.headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in ctx.headers
    if has_body:
        raise errors.NotImplemented_("Setting an ACL from an AccessControlPolicy document is not implemented: only the canned 'private' ACL is.")
    if "x-amz-acl" not in ctx.headers:
        raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")


def get_bucket_acl(ctx: S3Context) -> None:
    ctx.xml(_owner_only_policy(ctx.backend.get_bucket(ctx.bucket).owner))


def put_bucket_acl(ctx: S3Context) -> None:
    ctx.backend.get_bucket(ctx.bucket)
    _put_acl(ctx)


def get_object_acl(ctx: S3Context) -> None:
    _object_version(ctx)
    # Objects have no owner of their own yet: the bucket's owner owns them (as ListObjects' fetch-owner says).
    ctx.xml(_owner_only_policy(ctx.backend.get_bucket(ctx.bucket).owner))


def put_object_acl(ctx: S3Context) -> None:
    _object_version(ctx)
    _put_acl(ctx)
