"""Version ids. Every floor orders versions one way: newest wins by (timestamp, version id)."""

from __future__ import annotations

import os
import time

NULL_VERSION = "null"


def now_ns() -> int:
    return time.time_ns()


def new_version_id(timestamp_ns: int) -> str:
    # Sortable by time first so ids of one key sort like their timestamps; random tail for uniqueness.
    return f"{timestamp_ns:020d}{os.urandom(8).hex()}"

