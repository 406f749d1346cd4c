"""Bucket lifecycle rules: parse and validate S3's LifecycleConfiguration XML (and the seed's JSON
form), keep them as one normalized JSON document, render them back, and evaluate them.

Pure: no storage, no clock. The gateway stores `dumps(rules)` as the bucket's "lifecycle" config
and the lifecycle daemon (daemons/lifecycle.py) applies `loads(...)` to what it lists.

Errors follow Amazon's answers: a document that breaks the schema is MalformedXML; a value the
schema allows but S3 refuses (Days 0, a Date not at midnight, duplicate IDs) is InvalidArgument;
a rule without any action is InvalidRequest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote
from xml.etree.ElementTree import Element

from wsgi_s3.s3 import errors
from wsgi_s3.s3.numbers import INT32_MAX, INT64_MAX, parse_uint
from wsgi_s3.s3.xml import parse, render

MAX_RULES = 1000
MAX_ID_LENGTH = 255
MAX_NEWER_NONCURRENT = 100
DAY_NS = 86400 * 10**9
_DATE_LIMIT_NS = int(datetime(9999, 12, 31, tzinfo=timezone.utc).timestamp()) * 10**9


@dataclass(frozen=True)
class Filter:
    """Which objects a rule applies to: every condition given must hold."""

    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    # How the client wrote it, so GET gives back the same shape: "prefix" (the legacy <Prefix> of
    # a rule), "filter" (<Filter> with at most one condition) or "and" (<Filter><And>).
    form: str = "filter"

    def matches(self, key: str, size: int, tags: Mapping[str, str] | None) -> bool:
        """Whether an object matches; `tags` None means unknown, which no tag condition matches."""
        if not key.startswith(self.prefix):
            return False
        if self.size_greater_than is not None and not size > self.size_greater_than:
            return False
        if self.size_less_than is not None and not size < self.size_less_than:
            return False
        return all(tags is not None and tags.get(name) == value for name, value in self.tags)


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    filter: Filter = field(default_factory=Filter)
    expiration_days: int | None = None
    expiration_date: str | None = None  # ISO 8601 at midnight UTC, as S3 renders it
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None  # AbortIncompleteMultipartUpload's DaysAfterInitiation

    def expires_at(self, created_ns: int) -> int | None:
        """When a current version made at `created_ns` expires under this rule: S3 adds the days
        to the creation time and rounds up to the next midnight UTC; a Date is that midnight."""
        if self.expiration_days is not None:
            return midnight_after(created_ns + self.expiration_days * DAY_NS)
        if self.expiration_date is not None:
            return _date_ns(self.expiration_date)
        return None


def midnight_after(timestamp_ns: int) -> int:
    return -(-timestamp_ns // DAY_NS) * DAY_NS


def _date_ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 10**9


# XML


def parse_xml(document: bytes) -> list[Rule]:
    root = parse(document)
    if root.tag != "LifecycleConfiguration":
        raise errors.MalformedXML()
    return _checked([_rule(element) for element in root.findall("Rule")])


def _checked(rules: list[Rule]) -> list[Rule]:
    if not rules or len(rules) > MAX_RULES:
        raise errors.MalformedXML()
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise errors.InvalidArgument("Rule ID must be unique. Found same ID for more than one rule")
    return rules


def _one(element: Element, tag: str) -> Element | None:
    """The child `tag`, which the schema allows at most once."""
    found = element.findall(tag)
    if len(found) > 1:
        raise errors.MalformedXML()
    return found[0] if found else None


def _text(element: Element, tag: str) -> str | None:
    child = _one(element, tag)
    return None if child is None else (child.text or "")


def _count(text: str | None, maximum: int = INT32_MAX) -> int | None:
    """A whole number of the schema (days: 32 bits, sizes: 64); its lower bound is checked by the caller."""
    if text is None:
        return None
    return parse_uint(text.strip(), name="", maximum=maximum, error=errors.MalformedXML())


def _positive(value: int | None, message: str) -> int | None:
    if value is not None and value < 1:
        raise errors.InvalidArgument(message)
    return value


_KNOWN = {"ID", "Status", "Prefix", "Filter", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}
_TRANSITIONS = {"Transition", "NoncurrentVersionTransition"}


def _rule(element: Element) -> Rule:
    for child in element:
        if child.tag in _TRANSITIONS:
            raise errors.NotImplemented_("Lifecycle transitions to other storage classes are not implemented.")
        if child.tag not in _KNOWN:
            raise errors.MalformedXML()
    rule_id = _text(element, "ID")
    status = _text(element, "Status")
    if status not in ("Enabled", "Disabled"):
        raise errors.MalformedXML()
    legacy_prefix, filter_element = _text(element, "Prefix"), _one(element, "Filter")
    if (legacy_prefix is None) == (filter_element is None):
        raise errors.MalformedXML()  # exactly one of the two
    rule_filter = Filter(legacy_prefix, form="prefix") if legacy_prefix is not None else _filter(filter_element)
    fields: dict = {}
    expiration = _one(element, "Expiration")
    if expiration is not None:
        fields.update(_expiration(expiration))
    noncurrent = _one(element, "NoncurrentVersionExpiration")
    if noncurrent is not None:
        days = _count(_text(noncurrent, "NoncurrentDays"))
        if days is None:
            raise errors.MalformedXML()
        fields["noncurrent_days"] = _positive(days, "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
        newer = _count(_text(noncurrent, "NewerNoncurrentVersions"))
        if newer is not None and not 1 <= newer <= MAX_NEWER_NONCURRENT:
            raise errors.InvalidArgument(
                f"'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to {MAX_NEWER_NONCURRENT}"
            )
        fields["newer_noncurrent_versions"] = newer
    abort = _one(element, "AbortIncompleteMultipartUpload")
    if abort is not None:
        days = _count(_text(abort, "DaysAfterInitiation"))
        if days is None:
            raise errors.MalformedXML()
        fields["abort_days"] = _positive(days, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
    return _validated(Rule(_rule_id(rule_id), status == "Enabled", rule_filter, **fields))


def _rule_id(rule_id: str | None) -> str:
    if rule_id is None or rule_id == "":
        return uuid.uuid4().hex  # S3 names a rule that has no ID
    if len(rule_id) > MAX_ID_LENGTH:
        raise errors.InvalidArgument(f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}")
    return rule_id


def _validated(rule: Rule) -> Rule:
    """Checks across a rule's parts, shared by the XML and the JSON form."""
    actions = (rule.expiration_days, rule.expiration_date, rule.expired_object_delete_marker, rule.noncurrent_days, rule.abort_days)
    if all(action is None for action in actions):
        raise errors.InvalidRequest("At least one action needs to be specified in a rule")
    if rule.filter.tags and rule.expired_object_delete_marker is not None:
        raise errors.InvalidArgument("ExpiredObjectDeleteMarker cannot be specified with Tag based filter")
    if rule.abort_days is not None and rule.filter.tags:
        raise errors.InvalidArgument("AbortIncompleteMultipartUpload cannot be specified with Tags")
    if rule.abort_days is not None and (rule.filter.size_greater_than is not None or rule.filter.size_less_than is not None):
        raise errors.InvalidArgument("AbortIncompleteMultipartUpload cannot be specified with Object Size")
    return rule


def _filter(element: Element) -> Filter:
    children = list(element)
    if len(children) > 1:
        raise errors.MalformedXML()  # several conditions must be combined in <And>
    if not children:
        return Filter()
    child = children[0]
    if child.tag == "And":
        conditions = _conditions(child, many_tags=True)
        return Filter(**conditions, form="and")
    return Filter(**_conditions(element, many_tags=False))


def _conditions(element: Element, *, many_tags: bool) -> dict:
    allowed = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}
    if any(child.tag not in allowed for child in element):
        raise errors.MalformedXML()
    tag_elements = element.findall("Tag")
    if len(tag_elements) > 1 and not many_tags:
        raise errors.MalformedXML()
    tags = []
    for tag in tag_elements:
        name, value = _text(tag, "Key"), _text(tag, "Value")
        if name is None or value is None or len(tag) != 2:
            raise errors.MalformedXML()
        tags.append((name, value))
    if len({name for name, _ in tags}) != len(tags):
        raise errors.InvalidArgument("Duplicate Tag Keys are not allowed.")
    greater = _count(_text(element, "ObjectSizeGreaterThan"), INT64_MAX)
    less = _count(_text(element, "ObjectSizeLessThan"), INT64_MAX)
    if greater is not None and less is not None and greater >= less:
        raise errors.InvalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
    return {"prefix": _text(element, "Prefix") or "", "tags": tuple(tags), "size_greater_than": greater, "size_less_than": less}


def _expiration(element: Element) -> dict:
    if len(element) != 1 or element[0].tag not in ("Days", "Date", "ExpiredObjectDeleteMarker"):
        raise errors.MalformedXML()  # exactly one of the three
    child = element[0]
    text = (child.text or "").strip()
    if child.tag == "Days":
        return {"expiration_days": _positive(_count(text), "'Days' for Expiration action must be a positive integer")}
    if child.tag == "Date":
        return {"expiration_date": _midnight(text)}
    if text not in ("true", "false"):
        raise errors.MalformedXML()
    return {"expired_object_delete_marker": text == "true"}


def _midnight(text: str) -> str:
    """An ISO 8601 date or date-time that S3 accepts as an expiration Date: midnight UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # not a date, or one that UTC puts outside years 1-9999
        raise errors.MalformedXML() from None
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        raise errors.InvalidArgument("'Date' must be at midnight GMT")
    return moment.strftime("%Y-%m-%dT00:00:00.000Z")


def render_xml(rules: list[Rule]) -> bytes:
    return render("LifecycleConfiguration", [("Rule", _rule_xml(rule)) for rule in rules])


def _rule_xml(rule: Rule) -> list:
    fields: list = [("ID", rule.id)]
    condition = rule.filter
    if condition.form == "prefix":
        fields.append(("Prefix", condition.prefix))
    else:
        conditions: list = [("Prefix", condition.prefix or None)]
        conditions += [("Tag", [("Key", name), ("Value", value)]) for name, value in condition.tags]
        conditions += [("ObjectSizeGreaterThan", condition.size_greater_than), ("ObjectSizeLessThan", condition.size_less_than)]
        if condition.form == "and":
            fields.append(("Filter", [("And", conditions)]))
        else:
            present = [item for item in conditions if item[1] is not None]
            fields.append(("Filter", present or [("Prefix", "")]))
    fields.append(("Status", "Enabled" if rule.enabled else "Disabled"))
    expiration = [
        ("Days", rule.expiration_days),
        ("Date", rule.expiration_date),
        ("ExpiredObjectDeleteMarker", rule.expired_object_delete_marker),
    ]
    if any(value is not None for _, value in expiration):
        fields.append(("Expiration", expiration))
    if rule.noncurrent_days is not None:
        fields.append(("NoncurrentVersionExpiration", [("NoncurrentDays", rule.noncurrent_days), ("NewerNoncurrentVersions", rule.newer_noncurrent_versions)]))
    if rule.abort_days is not None:
        fields.append(("AbortIncompleteMultipartUpload", [("DaysAfterInitiation", rule.abort_days)]))
    return fields


# The seed's JSON form: {"rules": [{"id", "prefix", "enabled", "expiration_days"}]}

_JSON_FIELDS = {"id": str, "prefix": str, "enabled": bool, "expiration_days": int}


def is_json(document: bytes) -> bool:
    return document.lstrip()[:1] == b"{"


def parse_json(document: bytes) -> list[Rule]:
    try:
        data = json.loads(document)
    except ValueError:
        raise errors.InvalidArgument("The lifecycle document is not valid JSON") from None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list):
        raise errors.InvalidArgument('A JSON lifecycle document is {"rules": [...]}')
    return _checked([_json_rule(item) for item in data["rules"]])


def _json_rule(item: object) -> Rule:
    if not isinstance(item, dict) or not set(item) <= set(_JSON_FIELDS) or "expiration_days" not in item:
        raise errors.InvalidArgument('A JSON lifecycle rule is {"id", "prefix", "enabled", "expiration_days"}; expiration_days is required')
    for name, value in item.items():
        kind = _JSON_FIELDS[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise errors.InvalidArgument(f"Lifecycle rule field {name!r} must be {kind.__name__}")
    days = _positive(item["expiration_days"], "'Days' for Expiration action must be a positive integer")
    if days > INT32_MAX:
        raise errors.InvalidArgument("'Days' for Expiration action is too large")
    rule_filter = Filter(prefix=item.get("prefix", ""))
    return _validated(Rule(_rule_id(item.get("id")), item.get("enabled", True), rule_filter, expiration_days=days))


# the stored form


def dumps(rules: list[Rule]) -> str:
    return json.dumps([asdict(rule) for rule in rules], separators=(",", ":"))


def loads(document: str) -> list[Rule]:
    rules = []
    for data in json.loads(document):
        condition = data.pop("filter")
        condition["tags"] = tuple(tuple(pair) for pair in condition["tags"])
        rules.append(Rule(filter=Filter(**condition), **data))
    return rules


# evaluation


def uses_tags(rules: list[Rule]) -> bool:
    """Whether judging an object by `rules` needs its tags (fetched only then: it costs a read)."""
    return any(rule.enabled and rule.filter.tags for rule in rules)


def current_expiration(rules: list[Rule], key: str, size: int, created_ns: int, tags: Mapping[str, str] | None) -> tuple[int, Rule] | None:
    """(when, rule) of the earliest expiration of a current version by an enabled rule, if any."""
    found: tuple[int, Rule] | None = None
    for rule in rules:
        if not rule.enabled or not rule.filter.matches(key, size, tags):
            continue
        when = rule.expires_at(created_ns)
        if when is not None and (found is None or when < found[0]):
            found = (when, rule)
    return found


def expiration_header(rules: list[Rule], key: str, size: int, created_ns: int, tags: Mapping[str, str] | None) -> str | None:
    """x-amz-expiration's value for a current version, None if no rule expires it (or only after
    the year 9999, which HTTP dates cannot say); the rule id is URL-encoded, as S3 sends it."""
    found = current_expiration(rules, key, size, created_ns, tags)
    if found is None or found[0] >= _DATE_LIMIT_NS:
        return None
    when_ns, rule = found
    moment = datetime.fromtimestamp(when_ns // 10**9, tz=timezone.utc)
    return f'expiry-date="{moment.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{quote(rule.id, safe="")}"'

