"""The gateway's repairer: hands hints over every few seconds and runs an anti-entropy pass every
`repair_interval` (cluster/repair.py does the work). One per gateway service, forked by its gunicorn
master; several gateways repairing at once only repeat work, since every copy is a newest-wins
commit. After each pass it records what it did on every node, where `wsgi-s3 cluster status` reads it."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in the child only: the gunicorn master must not load an HTTP client before gevent patches its workers
    from wsgi_s3.backend.cluster import ClusterBackend
    from wsgi_s3.cluster.repair import PassReport

log = logging.getLogger(__name__)

HINT_INTERVAL = 5.0  # seconds between looks for hints whose owner answers again


class Repairer:
    def __init__(self, make_backend: Callable[[], ClusterBackend], interval: float, batch: int, origin: str) -> None:
        self.make_backend = make_backend
        self.interval = interval
        self.batch = batch
        self.origin = origin
        self.next_pass = time.monotonic() + interval

    @cached_property
    def backend(self) -> ClusterBackend:
        return self.make_backend()

    @property
    def tick(self) -> float:
        return min(HINT_INTERVAL, self.interval)

    def run_once(self) -> PassReport | None:
        """Hand hints over; run a pass if one is due. The pass's report, if one ran."""
        from wsgi_s3.observability import metrics

        handed = self.backend.healer.hand_over_hints(self.batch)
        if handed:
            metrics.REPAIR_HINTS.inc(handed)
            log.info("repair: handed over %d hinted keys", handed)
        if time.monotonic() < self.next_pass:
            return None
        self.next_pass = time.monotonic() + self.interval
        return self.run_pass()

    def run_pass(self) -> PassReport:
        from wsgi_s3.cluster.fanout import fanout
        from wsgi_s3.cluster.repair import report_document
        from wsgi_s3.observability import metrics

        report = self.backend.healer.repair_pass(self.batch)
        metrics.REPAIR_PASSES.inc()
        metrics.REPAIR_KEYS.inc(report.keys)
        metrics.REPAIR_COPIES.inc(report.copies)
        metrics.REPAIR_LAST_PASS.set(report.finished_ns / 1e9)
        log.info(
            "repair pass: %d ring stretches compared, %d differed, %d keys repaired with %d copies%s",
            report.stretches, report.differing, report.keys, report.copies,
            f"; unreachable: {', '.join(report.unreachable)}" if report.unreachable else "",
        )
        document = json.dumps(report_document(report, self.origin))
        fanout(self.backend.clients, lambda url: self.backend.clients[url].put_state("repair", document))
        return report
