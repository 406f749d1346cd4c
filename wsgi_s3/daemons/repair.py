"""The gateway's repairer: hands hints over every few seconds and runs an anti-entropy pass every
`repair_interval` (cluster/repair.py does the work). Every gateway service forks one, but only the
holder of the cluster's "repair" lease (Backend.claim_lease, granted by a majority of the nodes)
works: it renews the lease at every round and between the stretches of a pass, and another
gateway's repairer takes over once it has gone unrenewed for `repair_lease` seconds. The lease
also keeps when the last pass finished, so passes stay `repair_interval` apart whichever gateway
runs them. After each pass it records what it did on every node, where `wsgi-s3 cluster status`
reads it."""

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
LEASE = "repair"


class LeaseLost(Exception):
    """Another gateway holds the repair lease now: this one stops where it is."""


class Repairer:
    def __init__(self, make_backend: Callable[[], ClusterBackend], interval: float, batch: int, origin: str, lease: float) -> None:
        self.make_backend = make_backend
        self.interval = interval
        self.batch = batch
        self.origin = origin  # the lease's holder name: stable across restarts, so a restarted gateway takes its lease back
        self.lease = lease
        self.holding = False
        self.claimed_at = 0.0  # time.monotonic() of the last granted claim
        self.started_ns = time.time_ns()  # a cluster that never had a pass has its first an interval after start

    @cached_property
    def backend(self) -> ClusterBackend:
        return self.make_backend()

    @property
    def tick(self) -> float:
        return min(HINT_INTERVAL, self.interval)

    def claim(self, state: str | None = None) -> str | None:
        """Take or renew the lease (storing `state` when given): the last pass's record, None when
        another gateway holds it."""
        state = self.backend.claim_lease(LEASE, self.origin, int(self.lease * 1e9), state)
        if state is not None:
            self.claimed_at = time.monotonic()
        if (state is not None) != self.holding:
            self.holding = state is not None
            log.info("repair: %s the cluster's repair lease", "holding" if self.holding else "another gateway holds")
        return state

    def run_once(self) -> PassReport | None:
        """As the lease's holder: hand hints over, and run a pass if one is due. The pass's report, if one ran."""
        from wsgi_s3.observability import metrics

        state = self.claim()
        if state is None:
            return None
        handed = self.backend.healer.hand_over_hints(self.batch)
        if handed:
            metrics.REPAIR_HINTS.inc(handed)
            log.info("repair: handed over %d hinted keys", handed)
        last_finished_ns = json.loads(state)["finished_ns"] if state else self.started_ns
        if time.time_ns() < last_finished_ns + int(self.interval * 1e9):
            return None
        try:
            return self.run_pass()
        except LeaseLost:
            log.info("repair: lost the lease in the middle of a pass; its holder carries on")
            return None

    def _renew(self) -> None:
        """Between the stretches of a pass: renew once a third of the lease has gone by."""
        if time.monotonic() - self.claimed_at > self.lease / 3 and self.claim() is None:
            raise LeaseLost()

    def run_pass(self) -> PassReport:
        from wsgi_s3.cluster.fanout import fanout
        from wsgi_s3.cluster.repair import report_document
        from wsgi_s3.observability import metrics

        report = self.backend.healer.repair_pass(self.batch, between=self._renew)
        metrics.REPAIR_PASSES.inc()
        metrics.REPAIR_KEYS.inc(report.keys)
        metrics.REPAIR_COPIES.inc(report.copies)
        metrics.REPAIR_LAST_PASS.set(report.finished_ns / 1e9)
        log.info(
            "repair pass: %d ring stretches compared, %d differed, %d keys repaired with %d copies%s",
            report.stretches, report.differing, report.keys, report.copies,
            f"; unreachable: {', '.join(report.unreachable)}" if report.unreachable else "",
        )
        self.claim(json.dumps({"finished_ns": report.finished_ns}))
        document = json.dumps(report_document(report, self.origin))
        fanout(self.backend.clients, lambda url: self.backend.clients[url].put_state("repair", document))
        return report
