"""Per-node error limiting, as Swift's error suppression: a node that could not be reached, timed out
or broke a stream off is marked down for `down_interval` seconds, during which calls to it fail at
once with errors.Unavailable, without network I/O; a request never waits out a timeout on a node
already known to be failing.

When the interval is over, one call is let through as a probe (the others keep failing fast for
another interval): its success marks the node up, its failure marks it down again. Only failures
to talk to the node count: a storage answer (NotFound, PreconditionFailed, ...) is a node that works.
Each gateway worker keeps its own view, as each Swift proxy does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wsgi_s3.model import errors

log = logging.getLogger(__name__)


class NodeHealth:
    def __init__(self, url: str, down_interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.down_interval = down_interval  # 0: never marked down
        self.clock = clock
        self.down_until: float | None = None  # None: up
        self.reason = ""

    @property
    def down(self) -> bool:
        """Marked down and not due for a probe yet (what readers use to prefer other nodes)."""
        return self.down_until is not None and self.clock() < self.down_until

    def check(self) -> None:
        """Before a call: raise Unavailable while the node is marked down; once the interval is over,
        let this call through as the probe and hold the others off for another interval (a probe
        that never reports back cannot keep the node down for longer than that)."""
        if self.down_until is None:
            return
        now = self.clock()
        if now < self.down_until:
            raise errors.Unavailable(f"node {self.url} is marked down ({self.reason})")
        self.down_until = now + self.down_interval

    def failed(self, reason: str) -> None:
        """The node could not be reached, timed out or broke off a stream: mark it down."""
        if not self.down_interval:
            return
        if self.down_until is None:
            log.warning("node %s marked down for %gs: %s", self.url, self.down_interval, reason)
        self.down_until = self.clock() + self.down_interval
        self.reason = reason

    def succeeded(self) -> None:
        """The node answered (whatever it answered): it is up."""
        if self.down_until is not None:
            log.info("node %s is up again", self.url)
            self.down_until = None
