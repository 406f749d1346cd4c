"""The tag-set rules (s3/tagging.py) and the Tagging document parser (s3/xml.py), without a server."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgi_s3.s3 import errors
from wsgi_s3.s3.tagging import check_tag_set, parse_tagging_header, tag_length
from wsgi_s3.s3.xml import parse_tagging

# What a tag may hold: Unicode letters, numbers, separators and + - = . _ : / @.
ALLOWED = st.characters(categories=("L", "N", "Z")) | st.sampled_from("+-=._:/@")
KEYS = st.text(ALLOWED, min_size=1, max_size=40).filter(lambda key: not key.startswith("aws:") and tag_length(key) <= 128)
VALUES = st.text(ALLOWED, max_size=60)


def document(*tags: tuple[str | None, str | None]) -> bytes:
    def element(name: str, text: str | None) -> str:
        return "" if text is None else f"<{name}>{text}</{name}>"

    body = "".join(f"<Tag>{element('Key', key)}{element('Value', value)}</Tag>" for key, value in tags)
    return f'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>{body}</TagSet></Tagging>'.encode()


@given(st.dictionaries(KEYS, VALUES, max_size=10))
def test_valid_object_tags_are_kept_in_order(tags):
    assert list(check_tag_set(tags.items(), "object").items()) == list(tags.items())


@given(st.dictionaries(KEYS, VALUES, max_size=10))
def test_the_header_form_gives_the_same_tags(tags):
    assert parse_tagging_header(urlencode(tags, quote_via=quote)) == tags


@given(st.text(max_size=20))
def test_a_key_is_refused_exactly_when_a_character_is_outside_the_allowed_set(key):
    allowed = all(ch in "+-=._:/@" or unicodedata.category(ch)[0] in "LNZ" for ch in key)
    if allowed and key and not key.startswith("aws:"):
        assert check_tag_set([(key, "v")], "object") == {key: "v"}
    else:
        with pytest.raises(errors.InvalidTag):
            check_tag_set([(key, "v")], "object")


@pytest.mark.parametrize(("resource", "limit", "message"), [("object", 10, "Object tags cannot be greater than 10"), ("bucket", 50, "Bucket tag count cannot be greater than 50")])
def test_the_tag_count_limit_is_a_bad_request(resource, limit, message):
    assert len(check_tag_set([(f"k{i}", "v") for i in range(limit)], resource)) == limit
    with pytest.raises(errors.BadRequest) as exc:
        check_tag_set([(f"k{i}", "v") for i in range(limit + 1)], resource)
    assert exc.value.message == message and exc.value.status == 400


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("k" * 129, "v", "The TagKey you have provided is invalid"),
        ("", "v", "The TagKey you have provided is invalid"),
        ("a#b", "v", "The TagKey you have provided is invalid"),
        ("tab\tkey", "v", "The TagKey you have provided is invalid"),
        ("k", "v" * 257, "The TagValue you have provided is invalid"),
        ("k", "semi;colon", "The TagValue you have provided is invalid"),
        ("k", "\U0001d400" * 129, "The TagValue you have provided is invalid"),  # 129 letters, 258 UTF-16 units
        ("aws:cost", "v", "Your TagKey cannot be prefixed with aws:"),
    ],
)
def test_each_limit_of_a_tag_is_invalid_tag(key, value, message):
    with pytest.raises(errors.InvalidTag) as exc:
        check_tag_set([(key, value)], "object")
    assert exc.value.message == message and exc.value.code == "InvalidTag" and exc.value.status == 400


def test_the_longest_key_and_value_and_an_empty_value_are_accepted():
    assert check_tag_set([("k" * 128, "v" * 256), ("é ü 日本 ١٢", "")], "object") == {"k" * 128: "v" * 256, "é ü 日本 ١٢": ""}


def test_duplicate_keys_and_the_reserved_prefix_on_a_bucket():
    with pytest.raises(errors.InvalidTag, match="multiple Tags with the same key"):
        check_tag_set([("k", "1"), ("k", "2")], "bucket")
    with pytest.raises(errors.InvalidTag, match="System tags cannot be added/updated by requester"):
        check_tag_set([("aws:cloudformation:stack-name", "x")], "bucket")
    assert check_tag_set([("owner:aws:team", "x")], "bucket") == {"owner:aws:team": "x"}


def test_the_header_decodes_plus_and_percent_escapes_and_refuses_duplicates_or_bad_utf8():
    assert parse_tagging_header("a=1&b+c=d%2Be&empty=&&solo") == {"a": "1", "b c": "d+e", "empty": "", "solo": ""}
    assert parse_tagging_header("") == {}
    for header in ("a=1&a=2", "k=%FF"):
        with pytest.raises(errors.InvalidArgument):
            parse_tagging_header(header)
    with pytest.raises(errors.BadRequest):
        parse_tagging_header("&".join(f"k{i}=v" for i in range(11)))
    with pytest.raises(errors.InvalidTag):
        parse_tagging_header("a%23b=v")


def test_the_tagging_document_parses_pairs_and_empty_values():
    assert parse_tagging(document(("a", "1"), ("b", ""))) == [("a", "1"), ("b", "")]
    assert parse_tagging(b"<Tagging><TagSet/></Tagging>") == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<Tagging><TagSet>",
        b"<Tagging></Tagging>",
        b"<Other><TagSet/></Other>",
        document(("k", None)),
        document((None, "v")),
        b'<!DOCTYPE t [<!ENTITY e "x">]><Tagging><TagSet><Tag><Key>&e;</Key><Value>v</Value></Tag></TagSet></Tagging>',
    ],
)
def test_documents_that_do_not_follow_the_schema_are_malformed(body):
    with pytest.raises(errors.MalformedXML):
        parse_tagging(body)
