"""S3 XML documents: parse request bodies safely (defusedxml) and render responses.

Responses are described as nested (tag, value) pairs, so repeated elements and order are kept:
    render("ListAllMyBucketsResult", [("Owner", [("ID", "x")]), ("Buckets", [...])])
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from wsgi_s3.s3 import errors
from wsgi_s3.s3.numbers import INT32_MAX, parse_uint

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a 10,000-part CompleteMultipartUpload fits comfortably

Value = str | int | bool | None | Sequence[tuple[str, "Value"]]


# What XML 1.0 cannot carry, not even as a character reference: C0 controls but tab, LF and CR,
# lone surrogates (undecodable request bytes kept by surrogateescape), U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """`value` with what XML 1.0 cannot carry replaced by U+FFFD. Amazon writes such characters as
    references (&#x1B;) that every XML 1.0 parser refuses, so its clients fail to read the document;
    a visible replacement keeps the document readable (listings with encoding-type=url stay exact)."""
    return _NOT_XML.sub("\ufffd", value)


def render(root: str, children: Sequence[tuple[str, Value]] | str, *, namespace: bool = True) -> bytes:
    """Every text goes through xml_text, so no client input can make the document unparseable."""
    element = ET.Element(root, {"xmlns": S3_NS} if namespace else {})
    if isinstance(children, str):
        element.text = xml_text(children)
    else:
        _fill(element, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")


def _fill(parent: ET.Element, children: Sequence[tuple[str, Value]]) -> None:
    for tag, value in children:
        if value is None:
            continue
        child = ET.SubElement(parent, tag)
        if isinstance(value, bool):
            child.text = "true" if value else "false"
        elif isinstance(value, (str, int)):
            child.text = xml_text(str(value))
        else:
            _fill(child, value)


def iso8601(timestamp_ns: int) -> str:
    """S3's timestamp format in XML: millisecond precision, UTC, trailing Z."""
    moment = datetime.fromtimestamp(timestamp_ns // 1_000_000 / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# parsing


def parse(document: bytes) -> ET.Element:
    """Parse a request document; entity tricks and malformed XML both give MalformedXML."""
    if not document.strip():
        raise errors.MalformedXML()
    try:
        root = SafeET.fromstring(document, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise errors.MalformedXML() from exc
    for element in root.iter():
        element.tag = _local(element.tag)
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element, tag: str) -> str | None:
    child = element.find(tag)
    return None if child is None else (child.text or "")


@dataclass(frozen=True)
class CompletedPart:
    part_number: int
    etag: str
    checksums: dict[str, str]


def parse_complete_multipart(document: bytes) -> list[CompletedPart]:
    root = parse(document)
    if root.tag != "CompleteMultipartUpload":
        raise errors.MalformedXML()
    parts = []
    for element in root.findall("Part"):
        number, etag = _text(element, "PartNumber"), _text(element, "ETag")
        if etag is None:
            raise errors.MalformedXML()
        part_number = parse_uint(number and number.strip(), name="PartNumber", maximum=INT32_MAX, error=errors.MalformedXML())
        checksums = {
            child.tag[len("Checksum"):].upper(): child.text or ""
            for child in element
            if child.tag.startswith("Checksum") and child.tag != "ChecksumType"
        }
        parts.append(CompletedPart(part_number, etag.strip().strip('"'), checksums))
    if not parts:
        raise errors.MalformedXML()
    return parts


@dataclass(frozen=True)
class ObjectToDelete:
    key: str
    version_id: str | None


def parse_delete(document: bytes) -> tuple[list[ObjectToDelete], bool]:
    """A DeleteObjects document: the objects (1,000 at most) and the Quiet flag."""
    root = parse(document)
    if root.tag != "Delete":
        raise errors.MalformedXML()
    objects = []
    for element in root.findall("Object"):
        key = _text(element, "Key")
        if key is None:
            raise errors.MalformedXML()
        objects.append(ObjectToDelete(key, _text(element, "VersionId")))
    if not objects or len(objects) > 1000:
        raise errors.MalformedXML()
    quiet = (_text(root, "Quiet") or "").strip().lower() == "true"
    return objects, quiet


def parse_location_constraint(document: bytes) -> str | None:
    """CreateBucketConfiguration's LocationConstraint, or None for an empty body."""
    if not document.strip():
        return None
    root = parse(document)
    if root.tag != "CreateBucketConfiguration":
        raise errors.MalformedXML()
    return _text(root, "LocationConstraint")


def parse_versioning(document: bytes) -> tuple[str | None, str | None]:
    """A VersioningConfiguration's (Status, MfaDelete), each None when absent; other values are MalformedXML."""
    root = parse(document)
    if root.tag != "VersioningConfiguration":
        raise errors.MalformedXML()
    status, mfa_delete = _text(root, "Status"), _text(root, "MfaDelete")
    if status not in (None, "Enabled", "Suspended") or mfa_delete not in (None, "Enabled", "Disabled"):
        raise errors.MalformedXML()
    return status, mfa_delete


def parse_tagging(document: bytes) -> list[tuple[str, str]]:
    """A Tagging document's (key, value) pairs as sent; s3/tagging.py checks them. A document without
    a TagSet, or a Tag without its Key or Value, does not follow the schema."""
    root = parse(document)
    tag_set = root.find("TagSet")
    if root.tag != "Tagging" or tag_set is None:
        raise errors.MalformedXML()
    pairs = []
    for element in tag_set.findall("Tag"):
        key, value = _text(element, "Key"), _text(element, "Value")
        if key is None or value is None:
            raise errors.MalformedXML()
        pairs.append((key, value))
    return pairs
