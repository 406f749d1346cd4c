"""Version ids and the one ordering every floor uses: newest wins by (timestamp, version id)."""

from __future__ import annotations

import os
import time

NULL_VERSION = "null"


def now_ns() -> int:
    return time.time_ns()


def new_version_id(timestamp_ns: int) -> str:
    # Sortable by time first so ids of one key sort like their timestamps; random tail for uniqueness.
    return f"{timestamp_ns:020d}{os.urandom(8).hex()}"


def newer(a: tuple[int, str], b: tuple[int, str]) -> bool:
    """True when version (timestamp_ns, version_id) `a` supersedes `b`."""
    return a > b
