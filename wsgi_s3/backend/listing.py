"""S3's listing rules (prefix, delimiter roll-up, marker, max-keys) over any key-ordered source of
records: for ListObjects each key's newest record, for ListObjectVersions every version of each key,
newest first. The source is the Store's index in embedded mode, the merge of the owners' listings
in a cluster; both backends list through `list_page` and `list_versions_page`, so they answer alike
for the same history.

A page costs what it holds, whatever the bucket's size: the source is asked for at most one row more
than the page can still take, never past the prefix, and a rolled-up prefix is skipped in one seek
(to the smallest string after every key under it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from wsgi_s3.model import errors
from wsgi_s3.model.types import ListEntry, ListPage, ObjectVersion, VersionEntry, VersionPage
from wsgi_s3.model.versions import NULL_VERSION, order_key

BATCH = 1000

# (after, inclusive, before, limit) -> up to `limit` entries with after < key (after <= key when
# inclusive) and key < before (when given), in UTF-8 byte order, i.e. code point order.
Fetch = Callable[[str, bool, str | None, int], list[ListEntry]]

Position = tuple[int, str, str]  # a version's place in its key's history: model/versions.py order_key


@dataclass(frozen=True)
class Cursor:
    """Where a listing goes on: at `key` when `inclusive`, else after it; with `position`, at the
    versions of `key` older than that one, then after `key`."""

    key: str
    inclusive: bool = False
    position: Position | None = None


# (cursor, before, limit) -> up to `limit` versions from the cursor on, with key < before (when
# given), in key order and each key's newest first; exactly `limit` unless the source has no more.
VersionFetch = Callable[[Cursor, str | None, int], Sequence[VersionEntry]]


class _Keyed(Protocol):
    key: str


R = TypeVar("R", bound=_Keyed)


def list_page(fetch: Fetch, prefix: str = "", delimiter: str = "", marker: str = "", max_keys: int = 1000) -> ListPage:
    items, truncated = _walk(
        lambda cursor, before, limit: fetch(cursor.key, cursor.inclusive, before, limit),
        prefix, delimiter, _start(prefix, delimiter, marker), max_keys,
        listed=lambda entry: not entry.delete_marker,  # its newest version says "deleted": not listed
        after=lambda entry: Cursor(entry.key),
    )
    objects = [item for item in items if not isinstance(item, str)]
    prefixes = [item for item in items if isinstance(item, str)]
    last = None if not items else items[-1] if isinstance(items[-1], str) else items[-1].key
    return ListPage(objects, prefixes, truncated, last)


def list_versions_page(
    fetch: VersionFetch,
    locate: Callable[[str, str], ObjectVersion],
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    version_id_marker: str | None = None,
    max_keys: int = 1000,
) -> VersionPage:
    """A page of versions after (key_marker, version_id_marker); `locate(key, version_id)` finds the
    marker version to learn its place in history (NotFound when it is gone)."""
    start, trust_flag = _start(prefix, delimiter, key_marker), False
    if version_id_marker is not None:
        start, trust_flag = _version_start(locate, key_marker, version_id_marker)
        if prefix > start.key:
            start = Cursor(prefix, True)
    items, truncated = _walk(
        fetch, prefix, delimiter, start, max_keys, listed=lambda version: True, after=lambda version: Cursor(version.key, False, version.position)
    )
    versions: list[VersionEntry] = []
    # A key's newest version comes first, except in the key a page resumes in: its newest came before.
    previous = start.key if start is not None and start.position is not None else None
    for item in items:
        if not isinstance(item, str):
            latest = item.key != previous or (trust_flag and not versions and item.is_latest)
            versions.append(replace(item, is_latest=latest))
            previous = item.key
    prefixes = [item for item in items if isinstance(item, str)]
    last = items[-1] if items else None
    if last is None or isinstance(last, str):
        return VersionPage(versions, prefixes, truncated, last, None)
    return VersionPage(versions, prefixes, truncated, last.key, last.version_id)


def _version_start(locate: Callable[[str, str], ObjectVersion], key: str, version_id: str) -> tuple[Cursor, bool]:
    """Where a page resumed at a version goes on, and whether the stored is_latest flag of the first
    version it lists decides if that is its key's latest (the marker version is gone: maybe with
    every version newer than it)."""
    try:
        return Cursor(key, False, order_key(locate(key, version_id))), False
    except errors.NotFound:
        pass
    # The marker version was deleted since (as a client emptying a bucket page by page does): a
    # version id we issue begins with its stamp's time, so the listing goes on at the versions
    # stamped no later; the null version's place is lost with it, so its key is listed again whole.
    if version_id == NULL_VERSION:
        return Cursor(key, True), False
    return Cursor(key, False, (int(version_id[:20]) + 1, "", "")), True


def _start(prefix: str, delimiter: str, marker: str) -> Cursor | None:
    """The first cursor of a listing after `marker` (None: nothing can follow it)."""
    cursor = Cursor(marker)
    if delimiter and marker.startswith(prefix) and marker.endswith(delimiter) and delimiter in marker[len(prefix):]:
        following = after_prefix(marker)  # resume after a common prefix already returned
        if following is None:
            return None
        cursor = Cursor(following, True)
    if prefix > cursor.key:
        cursor = Cursor(prefix, True)
    return cursor


def _walk(
    fetch: Callable[[Cursor, str | None, int], Sequence[R]],
    prefix: str,
    delimiter: str,
    cursor: Cursor | None,
    max_keys: int,
    *,
    listed: Callable[[R], bool],
    after: Callable[[R], Cursor],
) -> tuple[list[R | str], bool]:
    """Up to `max_keys` records and common prefixes in order from `cursor`, and whether more follow."""
    items: list[R | str] = []
    end = after_prefix(prefix) if prefix else None
    skip_below = ""  # records under a prefix rolled up earlier in the same batch
    while cursor is not None:
        limit = min(max_keys - len(items) + 1, BATCH)
        batch = fetch(cursor, end, limit)
        for record in batch:
            if record.key < skip_below:
                continue
            if not listed(record):
                cursor = after(record)
                continue
            if len(items) == max_keys:
                return items, True
            cut = record.key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = record.key[: cut + len(delimiter)]
                items.append(common)
                following = after_prefix(common)
                if following is None:
                    cursor = None
                    break
                cursor, skip_below = Cursor(following, True), following
            else:
                items.append(record)
                cursor = after(record)
        if len(batch) < limit:
            break
    return items, False


def after_prefix(common_prefix: str) -> str | None:
    """The smallest string greater than every key that starts with `common_prefix`, in code point
    order (which is UTF-8 byte order); None when there is none (all U+10FFFF)."""
    stripped = common_prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are not characters: UTF-8 goes on at U+E000
        following = 0xE000
    return stripped[:-1] + chr(following)
