"""NodeHealth (cluster/health.py) on a clock of the test's own: down after a failure, one probe per
interval, up after an answer."""

from __future__ import annotations

import pytest

from wsgi_s3.cluster.health import NodeHealth
from wsgi_s3.model import errors


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_node_fails_fast_until_the_interval_is_over_then_one_call_probes_it():
    clock = Clock()
    health = NodeHealth("http://n1", 10, clock)
    health.check()  # up: calls go through
    health.failed("connection refused")
    assert health.down
    clock.now += 9
    with pytest.raises(errors.Unavailable, match="marked down .*connection refused"):
        health.check()
    clock.now += 1
    assert not health.down
    health.check()  # the probe goes through ...
    with pytest.raises(errors.Unavailable):
        health.check()  # ... and holds the others off while it runs
    health.succeeded()
    health.check()
    health.check()
    assert health.down_until is None


def test_a_failed_probe_marks_the_node_down_again():
    clock = Clock()
    health = NodeHealth("http://n1", 10, clock)
    health.failed("timed out")
    clock.now += 10
    health.check()
    clock.now += 3
    health.failed("timed out")
    clock.now += 9
    with pytest.raises(errors.Unavailable):
        health.check()


def test_a_probe_that_never_reports_keeps_the_node_down_one_more_interval_only():
    clock = Clock()
    health = NodeHealth("http://n1", 10, clock)
    health.failed("reset")
    clock.now += 10
    health.check()  # a probe whose caller never reports back
    clock.now += 10
    health.check()  # the next interval lets another through


def test_an_interval_of_zero_never_marks_a_node_down():
    health = NodeHealth("http://n1", 0, Clock())
    health.failed("refused")
    assert not health.down
    health.check()
