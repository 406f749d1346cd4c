"""S3's listing rules (prefix, delimiter roll-up, marker, max-keys) over any key-ordered source of
each key's newest record: the Store's index in embedded mode, the merge of the owners' listings in a
cluster. Both backends list through `list_page`, so they answer alike for the same history.

A page costs what it holds, whatever the bucket's size: the source is asked for at most one row more
than the page can still take, never past the prefix, and a rolled-up prefix is skipped in one seek
(to the smallest string after every key under it).
"""

from __future__ import annotations

from collections.abc import Callable

from wsgi_s3.model.types import ListEntry, ListPage

BATCH = 1000

# (after, inclusive, before, limit) -> up to `limit` entries with after < key (after <= key when
# inclusive) and key < before (when given), in UTF-8 byte order, i.e. code point order.
Fetch = Callable[[str, bool, str | None, int], list[ListEntry]]


def list_page(fetch: Fetch, prefix: str = "", delimiter: str = "", marker: str = "", max_keys: int = 1000) -> ListPage:
    objects: list[ListEntry] = []
    prefixes: list[str] = []
    last: str | None = None
    cursor: str | None = marker  # the next fetch starts after it (at it when `inclusive`)
    inclusive = False
    if delimiter and marker.startswith(prefix) and marker.endswith(delimiter) and delimiter in marker[len(prefix):]:
        cursor, inclusive = after_prefix(marker), True  # resume after a common prefix already returned
    if cursor is not None and prefix > cursor:
        cursor, inclusive = prefix, True
    end = after_prefix(prefix) if prefix else None
    while cursor is not None:
        limit = min(max_keys - len(objects) - len(prefixes) + 1, BATCH)
        batch = fetch(cursor, inclusive, end, limit)
        for entry in batch:
            if entry.key < cursor or (entry.key == cursor and not inclusive):
                continue  # under a prefix rolled up earlier in this batch
            if entry.delete_marker:  # its newest version says "deleted": not listed
                cursor, inclusive = entry.key, False
                continue
            if len(objects) + len(prefixes) == max_keys:
                return ListPage(objects, prefixes, True, last)
            cut = entry.key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                last = entry.key[: cut + len(delimiter)]
                prefixes.append(last)
                cursor, inclusive = after_prefix(last), True
                if cursor is None:
                    break
            else:
                objects.append(entry)
                last = cursor = entry.key
                inclusive = False
        if len(batch) < limit:
            break
    return ListPage(objects, prefixes, False, last)


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
