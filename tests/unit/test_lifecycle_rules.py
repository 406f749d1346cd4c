"""s3/lifecycle.py: LifecycleConfiguration XML and the seed's JSON in, Amazon's errors for what S3
refuses, the stored form and the XML out, and when a rule expires a current version."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xml.sax.saxutils import escape

from wsgi_s3.s3 import errors, lifecycle
from wsgi_s3.s3.lifecycle import DAY_NS, Filter, Rule


def doc(*rules: str) -> bytes:
    body = "".join(f"<Rule>{rule}</Rule>" for rule in rules)
    return f'<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{body}</LifecycleConfiguration>'.encode()


EXPIRE = "<Expiration><Days>30</Days></Expiration>"


def ns(*date: int) -> int:
    return int(datetime(*date, tzinfo=timezone.utc).timestamp()) * 10**9


def test_every_element_of_a_rule_is_read():
    rules = lifecycle.parse_xml(
        doc(
            "<ID>all</ID><Status>Enabled</Status><Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag>"
            "<Tag><Key>b</Key><Value>2</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>"
            "<ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Expiration><Days>3</Days></Expiration>"
            "<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions>"
            "</NoncurrentVersionExpiration>",
            "<ID>legacy</ID><Prefix>tmp/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>"
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
            "<ID>markers</ID><Filter></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
        )
    )
    assert rules == [
        Rule("all", True, Filter("logs/", (("a", "1"), ("b", "2")), 10, 100, "and"), expiration_days=3, noncurrent_days=5, newer_noncurrent_versions=2),
        Rule("legacy", False, Filter("tmp/", form="prefix"), expiration_date="2030-01-01T00:00:00.000Z", abort_days=7),
        Rule("markers", True, Filter(), expired_object_delete_marker=True),
    ]


def test_the_stored_form_and_the_xml_give_back_the_same_rules():
    original = doc(
        "<ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>" + EXPIRE,
        "<ID>b</ID><Prefix>p/</Prefix><Status>Enabled</Status>" + EXPIRE,
        "<ID>c</ID><Filter><And><Prefix>x</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></And></Filter><Status>Disabled</Status>"
        "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>",
        "<ID>d</ID><Filter/><Status>Enabled</Status>" + EXPIRE,
    )
    rules = lifecycle.parse_xml(original)
    assert lifecycle.loads(lifecycle.dumps(rules)) == rules
    assert lifecycle.parse_xml(lifecycle.render_xml(rules)) == rules


def test_a_rule_without_an_id_gets_one():
    (rule,) = lifecycle.parse_xml(doc("<Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status>" + EXPIRE))
    assert len(rule.id) == 32


@pytest.mark.parametrize(
    "rule",
    [
        "<ID>x</ID><Status>On</Status><Prefix></Prefix>" + EXPIRE,  # Status is Enabled or Disabled
        "<ID>x</ID><Prefix></Prefix>" + EXPIRE,  # no Status
        "<ID>x</ID><Status>Enabled</Status>" + EXPIRE,  # neither Prefix nor Filter
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Filter/>" + EXPIRE,  # both
        "<ID>x</ID><Status>Enabled</Status><Filter><Prefix>a</Prefix><ObjectSizeLessThan>3</ObjectSizeLessThan></Filter>" + EXPIRE,
        "<ID>x</ID><Status>Enabled</Status><Filter><Tag><Key>k</Key></Tag></Filter>" + EXPIRE,
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Days>-1</Days></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Days>1.5</Days></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Days>99999999999</Days></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Date>tomorrow</Date></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Date>0001-01-01T00:00:00+01:00</Date></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration/>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><NoncurrentVersionExpiration/>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><AbortIncompleteMultipartUpload/>",
        "<ID>x</ID><Status>Enabled</Status><Prefix/><Color>red</Color>" + EXPIRE,
    ],
)
def test_documents_outside_the_schema_are_malformed(rule):
    with pytest.raises(errors.MalformedXML):
        lifecycle.parse_xml(doc(rule))


def test_a_document_without_rules_or_with_too_many_is_malformed():
    with pytest.raises(errors.MalformedXML):
        lifecycle.parse_xml(doc())
    with pytest.raises(errors.MalformedXML):
        lifecycle.parse_xml(b"<VersioningConfiguration/>")
    with pytest.raises(errors.MalformedXML):
        lifecycle.parse_xml(doc(*(f"<ID>{n}</ID><Prefix/><Status>Enabled</Status>{EXPIRE}" for n in range(1001))))
    assert len(lifecycle.parse_xml(doc(*(f"<ID>{n}</ID><Prefix/><Status>Enabled</Status>{EXPIRE}" for n in range(1000))))) == 1000


@pytest.mark.parametrize(
    "rules, message",
    [
        (["<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Days>0</Days></Expiration>"], "'Days' for Expiration action must be a positive integer"),
        (["<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>"], "'Date' must be at midnight GMT"),
        (["<ID>x</ID><Status>Enabled</Status><Prefix/>" + EXPIRE, "<ID>x</ID><Status>Enabled</Status><Prefix/>" + EXPIRE], "Rule ID must be unique"),
        (["<ID>" + "i" * 256 + "</ID><Status>Enabled</Status><Prefix/>" + EXPIRE], "ID length should not exceed allowed limit of 255"),
        (["<ID>x</ID><Status>Enabled</Status><Prefix/><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>"], "'NoncurrentDays'"),
        (
            ["<ID>x</ID><Status>Enabled</Status><Prefix/><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
             "<NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>"],
            "'NewerNoncurrentVersions'",
        ),
        (["<ID>x</ID><Status>Enabled</Status><Prefix/><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>"], "'DaysAfterInitiation'"),
        (
            ["<ID>x</ID><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
             "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"],
            "cannot be specified with Tags",
        ),
        (
            ["<ID>x</ID><Status>Enabled</Status><Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter>"
             "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>"],
            "cannot be specified with Object Size",
        ),
        (
            ["<ID>x</ID><Status>Enabled</Status><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"
             "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"],
            "ExpiredObjectDeleteMarker cannot be specified with Tag based filter",
        ),
        (
            ["<ID>x</ID><Status>Enabled</Status><Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan>"
             "<ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>" + EXPIRE],
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ),
        (
            ["<ID>x</ID><Status>Enabled</Status><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag>"
             "<Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>" + EXPIRE],
            "Duplicate Tag Keys",
        ),
    ],
)
def test_values_s3_refuses_are_invalid_arguments(rules, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        lifecycle.parse_xml(doc(*rules))
    assert message in exc.value.message


def test_a_rule_without_an_action_is_an_invalid_request():
    with pytest.raises(errors.InvalidRequest) as exc:
        lifecycle.parse_xml(doc("<ID>x</ID><Status>Enabled</Status><Prefix/>"))
    assert exc.value.message == "At least one action needs to be specified in a rule"


def test_transitions_are_not_implemented():
    with pytest.raises(errors.NotImplemented_):
        lifecycle.parse_xml(doc("<ID>x</ID><Status>Enabled</Status><Prefix/><Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"))


def test_a_date_with_an_offset_is_read_as_utc_midnight():
    (rule,) = lifecycle.parse_xml(doc("<ID>x</ID><Status>Enabled</Status><Prefix/><Expiration><Date>2030-01-01T02:00:00+02:00</Date></Expiration>"))
    assert rule.expiration_date == "2030-01-01T00:00:00.000Z"


def test_the_seeds_json_form():
    document = json.dumps({"rules": [{"id": "expire-logs", "prefix": "logs/", "enabled": True, "expiration_days": 30}, {"id": "t", "expiration_days": 7}]})
    assert lifecycle.is_json(document.encode()) and not lifecycle.is_json(doc("<ID>x</ID>"))
    assert lifecycle.parse_json(document.encode()) == [
        Rule("expire-logs", True, Filter("logs/"), expiration_days=30),
        Rule("t", True, Filter(""), expiration_days=7),
    ]
    with pytest.raises(errors.MalformedXML):  # no rules at all: as S3 answers the XML form
        lifecycle.parse_json(b'{"rules": []}')


@pytest.mark.parametrize(
    "document",
    [
        "{",
        "[]",
        '{"rules": {}}',
        '{"rules": [], "extra": 1}',
        '{"rules": [{"id": "a"}]}',
        '{"rules": [{"id": "a", "expiration_days": 0}]}',
        '{"rules": [{"id": "a", "expiration_days": true}]}',
        '{"rules": [{"id": "a", "expiration_days": "3"}]}',
        '{"rules": [{"id": "a", "expiration_days": 3, "enabled": "yes"}]}',
        '{"rules": [{"id": "a", "expiration_days": 3, "colour": 1}]}',
        '{"rules": [{"id": "a", "expiration_days": 3}, {"id": "a", "expiration_days": 4}]}',
        '{"rules": [{"id": "a", "expiration_days": 1e400}]}',
    ],
)
def test_json_that_is_not_the_seeds_form_is_refused(document):
    with pytest.raises(errors.InvalidArgument):
        lifecycle.parse_json(document.encode())


def test_days_round_up_to_the_next_midnight_utc():
    rule = Rule("r", True, expiration_days=2)
    assert rule.expires_at(ns(2026, 1, 1, 15, 30)) == ns(2026, 1, 4)
    assert rule.expires_at(ns(2026, 1, 1)) == ns(2026, 1, 3)
    assert Rule("d", True, expiration_date="2026-05-01T00:00:00.000Z").expires_at(ns(2020, 1, 1)) == ns(2026, 5, 1)
    assert lifecycle.midnight_after(ns(2026, 1, 1) + 1) == ns(2026, 1, 2)
    assert DAY_NS == 86400 * 10**9


def test_the_earliest_matching_enabled_rule_names_the_expiration():
    rules = [
        Rule("late", True, Filter("a"), expiration_days=10),
        Rule("soon", True, Filter("a/"), expiration_days=2),
        Rule("off", False, Filter(""), expiration_days=1),
        Rule("big", True, Filter("", size_greater_than=100), expiration_days=1),
        Rule("tagged", True, Filter("", tags=(("t", "1"),)), expiration_days=1),
        Rule("noncurrent", True, Filter(""), noncurrent_days=1),
    ]
    created = ns(2026, 1, 1, 12)
    assert lifecycle.current_expiration(rules, "a/x", 10, created, None) == (ns(2026, 1, 4), rules[1])
    assert lifecycle.current_expiration(rules, "ab", 10, created, None) == (ns(2026, 1, 12), rules[0])
    assert lifecycle.current_expiration(rules, "b", 101, created, None)[1].id == "big"
    assert lifecycle.current_expiration(rules, "b", 100, created, {"t": "1"})[1].id == "tagged"
    assert lifecycle.current_expiration(rules, "b", 100, created, {"t": "2"}) is None
    assert lifecycle.current_expiration(rules, "b", 100, created, None) is None
    header = lifecycle.expiration_header(rules, "a/x", 10, created, None)
    assert header == 'expiry-date="Sun, 04 Jan 2026 00:00:00 GMT", rule-id="soon"'
    spaced = [Rule('a "b"/c', True, Filter(), expiration_days=1)]
    assert lifecycle.expiration_header(spaced, "k", 1, created, None).endswith('rule-id="a%20%22b%22%2Fc"')
    forever = [Rule("f", True, Filter(), expiration_days=2**31 - 1)]
    assert lifecycle.expiration_header(forever, "k", 1, created, None) is None


# Nothing a client sends becomes anything but an S3 error (a 500 would be a bug).

FUZZ = settings(max_examples=400, deadline=None, derandomize=True, database=None)
VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["0", "1", "-1", "9" * 400, "2147483648", "true", "false", "", " 7 ", "1e3", "٣"]),
    st.sampled_from(["2030-01-01T00:00:00Z", "9999-12-31T00:00:00-01:00", "0001-01-01T00:00:00+01:00", "2030-01-01", "2030-13-01T00:00:00Z"]),
)
LEAVES = st.sampled_from(
    ["ID", "Status", "Prefix", "Days", "Date", "ExpiredObjectDeleteMarker", "NoncurrentDays", "NewerNoncurrentVersions",
     "DaysAfterInitiation", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "Key", "Value"]
)
BRANCHES = st.sampled_from(["Filter", "And", "Tag", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload", "Transition"])
ELEMENTS = st.recursive(
    st.builds(lambda tag, value: f"<{tag}>{escape(value)}</{tag}>", LEAVES, VALUES),
    lambda children: st.builds(lambda tag, inner: f"<{tag}>{''.join(inner)}</{tag}>", BRANCHES, st.lists(children, max_size=4)),
    max_leaves=12,
)


@FUZZ
@given(rules=st.lists(st.lists(ELEMENTS, max_size=6), min_size=1, max_size=3))
def test_any_rule_document_is_parsed_or_refused_with_an_s3_error(rules):
    try:
        parsed = lifecycle.parse_xml(doc(*("".join(rule) for rule in rules)))
    except errors.S3Error:
        return
    assert lifecycle.loads(lifecycle.dumps(parsed)) == parsed
    for rule in parsed:
        lifecycle.expiration_header([rule], "k", 1, ns(2026, 1, 1), {})


@FUZZ
@given(data=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["rules", "id", "prefix", "enabled", "expiration_days", "x"]), inner, max_size=5), max_leaves=15))
def test_any_json_document_is_parsed_or_refused_with_an_s3_error(data):
    try:
        lifecycle.parse_json(json.dumps(data).encode())
    except errors.S3Error:
        pass
