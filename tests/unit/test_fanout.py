"""fanout: parallel calls that return at a quorum, and the error a failed quorum raises."""

from __future__ import annotations

import gevent
from gevent.event import Event
import pytest

from wsgi_s3.cluster.fanout import Outcome, fanout
from wsgi_s3.model import errors


def test_returns_at_the_quorum_and_the_rest_still_run():
    release = Event()  # the slow call ends only after fanout has returned
    finished = []

    def call(name: str) -> str:
        if name == "c":
            release.wait()
        finished.append(name)
        return name.upper()

    outcome = fanout("abc", call, need=2)
    assert outcome.results == {"a": "A", "b": "B"} and not outcome.errors
    release.set()
    gevent.wait()  # until no greenlet is left to run
    assert finished == ["a", "b", "c"]  # the slow call was not cancelled


def test_after_the_quorum_the_others_get_the_settle_time_to_end():
    release = Event()  # the straggler that never ends within the settle time

    def call(name: str) -> str:
        if name == "c":
            gevent.sleep(0)  # ends soon after the quorum: within the settle time
        if name == "d":
            release.wait()
        return name.upper()

    outcome = fanout("abcd", call, need=2, settle=0.2)
    assert outcome.results == {"a": "A", "b": "B", "c": "C"}  # c is in, d was not waited for
    release.set()
    gevent.wait()


def test_collects_storage_errors_and_waits_for_all_by_default():
    def call(name: str) -> str:
        if name == "down":
            raise errors.Unavailable("node down")
        if name == "missing":
            raise errors.NotFound("key", "k")
        return "ok"

    outcome = fanout(["down", "up", "missing"], call)
    assert outcome.results == {"up": "ok"}
    assert set(outcome.errors) == {"down", "missing"}
    # A node's definite answer says more than "unreachable".
    assert isinstance(outcome.failure(), errors.NotFound)


def test_failure_without_a_definite_answer_is_unavailable():
    assert isinstance(Outcome(errors={"n": errors.Unavailable("x")}).failure(), errors.Unavailable)
    assert isinstance(fanout([], lambda name: name).failure(), errors.Unavailable)


def test_a_bug_in_a_call_propagates():
    def call(name: str) -> str:
        raise KeyError(name)

    with pytest.raises(KeyError):
        fanout(["a", "b"], call)


def test_calls_run_in_the_callers_context():
    """So that what a node call logs carries the id of the request it serves."""
    from wsgi_s3.observability.logs import REQUEST_ID

    REQUEST_ID.set("REQ1")
    try:
        assert fanout(["a", "b"], lambda name: REQUEST_ID.get()).results == {"a": "REQ1", "b": "REQ1"}
    finally:
        REQUEST_ID.set("")
